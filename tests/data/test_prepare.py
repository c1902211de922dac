"""The comparison samples and the exclusion ledger."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pilot_eval.data.bundle import load_bundle
from pilot_eval.data.frame import analysis_frame, comparison_sample
from pilot_eval.plan.model import AnalysisPlan, load_plan

SYNTHETIC = Path(__file__).resolve().parents[2] / "data" / "synthetic"


@pytest.fixture(scope="module")
def frame_and_plan() -> tuple[pd.DataFrame, AnalysisPlan]:
    plan = load_plan(SYNTHETIC.parent.parent / "analysis_plans" / "breed-werven-2024.yaml").plan
    return analysis_frame(load_bundle(SYNTHETIC, plan), plan), plan


def test_every_application_is_used_or_counted(
    frame_and_plan: tuple[pd.DataFrame, AnalysisPlan],
) -> None:
    frame, plan = frame_and_plan
    for h in plan.hypotheses:
        sample = comparison_sample(frame, plan, h)
        excluded = sum(e.rows for e in sample.exclusions)
        assert len(sample.frame) + excluded == sample.n_total, h.id


def test_small_bundle_ledger_by_hand(bundle_dir: Path, plan: AnalysisPlan) -> None:
    bundle = load_bundle(bundle_dir, plan)
    frame = analysis_frame(bundle, plan)
    assert "application_id" not in frame
    h2 = next(h for h in plan.hypotheses if h.id == "H2")  # origin, applied -> invited
    sample = comparison_sample(frame, plan, h2)
    ledger = {e.reason: e.rows for e in sample.exclusions}
    # A6 has no origin, A5 is 'europe' (neither focal nor reference)
    assert ledger == {"origin not reported": 1, "origin neither focal nor reference": 1}
    # the frame's index is the row of the application in the applications table
    used = sample.frame.assign(application_id=bundle.applications["application_id"])
    assert sorted(used["application_id"]) == ["A1", "A2", "A3", "A4"]
    assert used.set_index("application_id")["success"].to_dict() == {
        "A1": False,
        "A2": True,
        "A3": True,
        "A4": True,
    }


def test_pool_share_keeps_known_values_outside_focal_and_reference(
    bundle_dir: Path, plan: AnalysisPlan
) -> None:
    bundle = load_bundle(bundle_dir, plan)
    frame = analysis_frame(bundle, plan)
    h1 = next(h for h in plan.hypotheses if h.id == "H1")
    sample = comparison_sample(frame, plan, h1)
    # 'europe' is a known origin: in the denominator of the share, not focal
    assert "A5" in set(bundle.applications["application_id"].loc[sample.frame.index])
    assert {e.reason: e.rows for e in sample.exclusions} == {"origin not reported": 1}


def test_stage_gap_uses_one_arm_and_the_from_stage(bundle_dir: Path, plan: AnalysisPlan) -> None:
    frame = analysis_frame(load_bundle(bundle_dir, plan), plan)
    h4 = next(h for h in plan.hypotheses if h.id == "H4")  # control, applied -> invited
    ledger = {e.reason: e.rows for e in comparison_sample(frame, plan, h4).exclusions}
    assert ledger["vacancy in another arm than control"] == 3
    h3 = next(h for h in plan.hypotheses if h.id == "H3")  # interviewed -> offered
    ledger = {e.reason: e.rows for e in comparison_sample(frame, plan, h3).exclusions}
    # A1, A2 and A6 stopped before the interview
    assert ledger["did not reach stage 'interviewed'"] == 3


def test_vacancy_columns_join_as_a_left_merge(plan: AnalysisPlan) -> None:
    """Each application gets its vacancy's columns, as a left merge on vacancy_id would
    give them: text as categories of the values present, a column already categorical in
    the bundle with all its categories."""
    from pilot_eval.data.bundle import Bundle

    bundle = load_bundle(SYNTHETIC, plan)
    vac = bundle.vacancies.copy()
    vac["department"] = vac["department"].astype(
        pd.CategoricalDtype([*sorted(vac["department"].unique()), "UNUSED"])
    )
    vac = vac.sample(frac=1.0, random_state=3)  # order of vacancies does not matter
    frame = analysis_frame(Bundle(SYNTHETIC, {}, vac, bundle.applications), plan)
    merged = bundle.applications.merge(vac, on="vacancy_id", how="left", suffixes=("", "_v"))
    assert list(frame["department"].cat.categories)[-1] == "UNUSED"
    assert (frame["department"].astype("str") == merged["department"].astype("str")).all()
    for col in ("function_family", "salary_scale", "arm"):
        assert (frame[col].astype("str") == merged[col].astype("str")).all(), col
    assert list(frame["arm"].cat.categories) == sorted(merged["arm"].dropna().unique())

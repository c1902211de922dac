"""On a bundle with a known earlier-stage effect, selection between stages (a shared
ability) and selective non-response (control applicants of origin outside Europe leave it
open more often), the report's bounds contain the truth and its summary names which
conclusions hinge on missing data or on selection between stages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pilot_eval import run_plan
from pilot_eval.analysis.estimators import Context, estimate
from pilot_eval.analysis.later_stages import stratum_bounds
from pilot_eval.data.bundle import Bundle
from pilot_eval.data.frame import analysis_frame, comparison_sample
from pilot_eval.design.simulate import simulate_bundle, write_bundle
from pilot_eval.plan.model import Hypothesis, load_plan

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "analysis_plans" / "breed-werven-2024.yaml"


@pytest.fixture(scope="module")
def bundle() -> Bundle:
    return simulate_bundle(
        seed=7, n_vacancies=240, optional=False, stage_correlation=0.7, selective_nonresponse=0.5
    )


@pytest.fixture(scope="module")
def outcome(
    tmp_path_factory: pytest.TempPathFactory, bundle: Bundle
) -> tuple[dict[str, Any], str, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("selective")
    (folder / "bundle").mkdir()
    write_bundle(bundle, folder / "bundle")
    done = run_plan(PLAN, folder / "bundle", folder / "out", pdf=False)
    report = (folder / "out" / "report.nl.md").read_text(encoding="utf-8")
    return done.results, report, bundle.truth


def truth_of(truth: dict[str, Any], kind: str, arm: str, stage: str | None = None) -> float:
    for effect in truth["effects"]:
        where = effect.get("stage")
        if (
            effect["kind"] == kind
            and effect["group"] == "origin"
            and effect["arm"] == arm
            and (stage is None or (where and f"{where['from']}->{where['to']}" == stage))
        ):
            return float(effect["value"])
    raise AssertionError(f"no truth for {kind} {arm} {stage}")


def test_selective_nonresponse_biases_complete_cases_but_not_the_bounds(
    outcome: tuple[dict[str, Any], str, dict[str, Any]],
) -> None:
    results, _, truth = outcome
    h1 = next(h for h in results["hypotheses"] if h["id"] == "H1")
    true_change = truth_of(truth, "pool_share", "pilot")  # 0.03
    bounds = h1["missing_data"]
    assert bounds["lower"] <= true_change <= bounds["upper"]
    # control's outside-Europe applicants leave origin open more often: complete cases
    # understate control's share and overstate the pilot's gain
    assert bounds["complete_case"] > true_change + 0.01
    assert bounds["depends_on_missing"] is True


def test_selection_between_stages_is_bounded(
    outcome: tuple[dict[str, Any], str, dict[str, Any]],
) -> None:
    results, _, truth = outcome
    h3 = next(h for h in results["hypotheses"] if h["id"] == "H3")
    true_change = truth_of(truth, "gap_difference", "pilot", "interviewed->offered")  # 0.04
    later = h3["later_stage"]
    assert later["stratum_bounds"]["lower"] <= true_change <= later["stratum_bounds"]["upper"]
    assert later["from_application"]["estimate"] is not None
    assert (
        later["stratum_bounds"]["verdicts"]["lower"] != later["stratum_bounds"]["verdicts"]["upper"]
    )


def test_selection_between_stages_within_one_arm_is_bounded(bundle: Bundle) -> None:
    # control: an invitation penalty of 8 points for origin outside Europe and 6 points at
    # the offer, for equal ability; ability carries over between stages
    plan = load_plan(PLAN).plan
    frame = analysis_frame(bundle, plan)
    h = Hypothesis.model_validate(
        {
            "id": "W",
            "family": "primary",
            "kind": "stage_gap",
            "group": "origin",
            "arm": "control",
            "stage": {"from": "interviewed", "to": "offered"},
            "decided_by": "lpm_cr2",
        }
    )
    true_gap = -0.06
    conditional = estimate("lpm_cr2", comparison_sample(frame, plan, h), Context(plan, h))
    assert conditional.estimate is not None
    # the stronger selection of the penalised group at the invitation hides part of the gap
    assert conditional.estimate > true_gap + 0.01
    bounds = stratum_bounds(frame, plan, h)
    assert bounds is not None
    assert bounds["lower"] <= true_gap <= bounds["upper"]


def test_the_summary_names_what_hinges_on_missing_data_and_selection(
    outcome: tuple[dict[str, Any], str, dict[str, Any]],
) -> None:
    _, report, _ = outcome
    summary = report.split("### De hypothesen in het kort")[1]
    summary = summary.split("### Wat de data wel en niet kunnen zeggen")[0]
    h1 = next(line for line in summary.splitlines() if line.startswith("- H1:"))
    h3 = next(line for line in summary.splitlines() if line.startswith("- H3:"))
    assert "hangt af van wie de vraag niet beantwoordde" in h1
    assert "kan komen door wie de eerdere stap bereikte" in h3

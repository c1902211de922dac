"""Later stages: bounds among applicants who would reach the earlier stage in either arm,
by hand; the comparison from the application; and the design diagnosis generating the
selection that makes a later-stage comparison biased."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pilot_eval.analysis.estimators import Context, estimate
from pilot_eval.analysis.later_stages import stratum_bounds, unconditional
from pilot_eval.data.bundle import Bundle
from pilot_eval.data.frame import analysis_frame, comparison_sample
from pilot_eval.design.diagnosis import design_from_bundle, simulate_design
from pilot_eval.design.simulate import simulate_bundle
from pilot_eval.plan.model import AnalysisPlan, Diagnosis, Hypothesis, load_plan

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "analysis_plans" / "breed-werven-2024.yaml"


@pytest.fixture(scope="module")
def plan(plan_min_cell_1: AnalysisPlan) -> AnalysisPlan:
    """Tiny frames on purpose: a minimum cell of 1."""
    return plan_min_cell_1


def later(kind: str = "gap_difference", arm: str = "pilot") -> Hypothesis:
    return Hypothesis.model_validate(
        {
            "id": "L",
            "family": "primary",
            "kind": kind,
            "group": "origin",
            "arm": arm,
            "stage": {"from": "interviewed", "to": "offered"},
        }
    )


def rows(arm: str, origin: str, n: int, interviewed: int, offered: int) -> list[dict[str, object]]:
    out = []
    for i in range(n):
        out.append(
            {
                "arm": arm,
                "origin": origin,
                "reached_applied": True,
                "reached_interviewed": i < interviewed,
                "reached_offered": i < offered,
            }
        )
    return out


def test_stratum_bounds_by_hand(plan: AnalysisPlan) -> None:
    # focal: control 10 of 40 interviewed, 4 offered; pilot 20 of 40 interviewed, 6 offered
    # reference: control 20 of 40 interviewed, 10 offered; pilot 20 of 40, 10 offered
    data = rows("control", "outside_europe", 40, 10, 4) + rows("pilot", "outside_europe", 40, 20, 6)
    data += rows("control", "netherlands", 40, 20, 10) + rows("pilot", "netherlands", 40, 20, 10)
    frame = pd.DataFrame(data)
    frame["origin"] = frame["origin"].astype("category")
    got = stratum_bounds(frame, plan, later())
    assert got is not None
    # focal pilot: trim p = (0.5 - 0.25) / 0.5 = 0.5 of 20 reachers, 10 kept:
    # pass rate in [max(0, 6 - 10) / 10, 6 / 10] = [0, 0.6]; control focal 4/10 = 0.4
    # reference: equal rates, nothing trimmed: 0.5 in both arms
    # change of the gap: [(0 - 0.5) - (0.4 - 0.5), (0.6 - 0.5) - (0.4 - 0.5)] = [-0.4, 0.2]
    assert got["lower"] == pytest.approx(-0.4)
    assert got["upper"] == pytest.approx(0.2)
    # after the interview the pilot's change of the gap lies in [-0.4, 0.2]: a change
    # either way, so the (two-sided) conclusion depends on the selection
    assert got["verdicts"] == {"lower": "below", "upper": "above"}
    assert got["depends_on_selection"] is True


def test_stratum_bounds_within_one_arm_by_hand(plan: AnalysisPlan) -> None:
    # control: focal 10 of 40 interviewed, 4 offered; reference 20 of 40 interviewed, 10
    # offered. The reference group reaches the interview twice as often: trim p =
    # (0.5 - 0.25) / 0.5 = 0.5 of its 20 reachers, 10 kept, offer rate in [0, 1]; the focal
    # rate 4/10 as it is.
    data = rows("control", "outside_europe", 40, 10, 4) + rows("control", "netherlands", 40, 20, 10)
    data += rows("pilot", "outside_europe", 40, 20, 6) + rows("pilot", "netherlands", 40, 20, 10)
    frame = pd.DataFrame(data)
    frame["origin"] = frame["origin"].astype("category")
    gap = stratum_bounds(frame, plan, later("stage_gap", arm="control"))
    assert gap is not None
    assert (gap["lower"], gap["upper"]) == pytest.approx((0.4 - 1.0, 0.4 - 0.0))
    ratio = stratum_bounds(frame, plan, later("impact_ratio", arm="control"))
    assert ratio is not None
    assert ratio["lower"] == pytest.approx(0.4 / 1.0)
    assert ratio["upper"] is None  # the reference rate can be 0
    # in the pilot both groups reach the interview equally often: nothing trimmed
    pilot = stratum_bounds(frame, plan, later("stage_gap", arm="pilot"))
    assert pilot is not None
    assert (pilot["lower"], pilot["upper"]) == pytest.approx((6 / 20 - 10 / 20,) * 2)
    # scores have no selection bounds here
    assert stratum_bounds(frame, plan, later("score_gap")) is None


def test_from_application_is_the_same_hypothesis_from_the_first_stage() -> None:
    loaded = load_plan(PLAN)
    plan = loaded.plan
    synthetic = simulate_bundle(seed=4, n_vacancies=60, optional=False)
    frame = analysis_frame(Bundle(Path("."), {}, synthetic.vacancies, synthetic.applications), plan)
    h3 = next(h for h in plan.hypotheses if h.id == "H3")
    got = unconditional(frame, plan, h3)
    whole = Hypothesis.model_validate(
        {**h3.model_dump(by_alias=True), "stage": {"from": "applied", "to": "offered"}}
    )
    expected = estimate("lpm_cr2", comparison_sample(frame, plan, whole), Context(plan, whole))
    assert got is not None
    assert got.estimate == pytest.approx(expected.estimate, rel=1e-12)
    assert unconditional(frame, plan, plan.hypotheses[1]) is None  # H2 starts at applied


@pytest.mark.parametrize(("rho", "biased"), [(0.0, False), (0.7, True)])
def test_the_diagnosis_can_generate_selection_between_stages(rho: float, biased: bool) -> None:
    plan = load_plan(PLAN).plan
    synthetic = simulate_bundle(seed=2, n_vacancies=240, optional=False)
    model = design_from_bundle(
        Bundle(Path("."), {}, synthetic.vacancies, synthetic.applications), plan, "simulate"
    )
    # an invitation penalty in control only, equal treatment after the interview
    d = Diagnosis.model_validate(
        {
            "seed": 1,
            "stage_correlation": rho,
            "gaps": [
                {
                    "group": "origin",
                    "stage": {"from": "applied", "to": "invited"},
                    "by_arm": {"control": -0.15},
                }
            ],
        }
    )
    h3 = next(h for h in plan.hypotheses if h.id == "H3")
    values = []
    for i in range(8):
        sim = simulate_design(model, plan, d, False, np.random.SeedSequence(50 + i))
        sample = comparison_sample(analysis_frame(sim, plan), plan, h3)
        values.append(estimate("difference_pooled", sample, Context(plan, h3)).estimate)
    mean = float(np.mean(values))
    # the pilot invites weaker focal candidates too: among the interviewed they do worse
    # (about -0.11 with rho 0.7; eight runs have an SE of about 0.017)
    if biased:
        assert mean < -0.05
    else:
        assert abs(mean) < 0.05

"""Type-I error of every deciding test under the design the pilot has: applicants
clustered in vacancies (intraclass correlation 0.05 of group membership, progression and
scores; gaps that vary by vacancy), vacancies randomised within blocks, 20 vacancies.

The plan ``benchmarks/plans/type-i-20.yaml`` has one hypothesis per deciding test and no
effect; ``diagnose`` simulates it ``SIMS`` times in each of its two scenarios, which are
both without effect here, so every test is tried on ``2 * SIMS`` bundles. A test that
decides a verdict must reject a true null in 3.5% to 6.5% of them (the Monte Carlo SE of a
rate of 5% over 2,000 runs is 0.5 percentage point, so the band is three SEs wide on each
side). A comparison within one arm has only that arm's vacancies as clusters; it is held
to the band on a design of 60 vacancies, whose pilot arm has 20 (``WITHIN_ONE_ARM``).
Slow: about two minutes on two cores (``pytest -m slow``); ``benchmarks/type_i.py``
measures the cost.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pilot_eval.data.bundle import Bundle
from pilot_eval.design.diagnosis import design_from_bundle, diagnose
from pilot_eval.design.simulate import simulate_bundle
from pilot_eval.plan.model import load_plan

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "benchmarks" / "plans" / "type-i-20.yaml"
SIMS = 1000
BAND = (0.035, 0.065)


def _calibrate(vacancies: int) -> dict[str, Any]:
    plan = load_plan(PLAN).plan
    assert plan.diagnosis is not None
    synthetic = simulate_bundle(seed=plan.diagnosis.seed, n_vacancies=vacancies, optional=False)
    bundle = Bundle(Path("."), {}, synthetic.vacancies, synthetic.applications)
    model = design_from_bundle(bundle, plan, "simulate")
    return diagnose(plan, model, SIMS, jobs=2)


@pytest.fixture(scope="module")
def calibration() -> dict[str, Any]:
    """20 vacancies: the clusters of a comparison between the arms."""
    return _calibrate(20)


@pytest.fixture(scope="module")
def calibration_60() -> dict[str, Any]:
    """60 vacancies, a third in the pilot: 20 clusters in the pilot arm, 40 in control."""
    return _calibrate(60)


def test_the_calibration_plan_has_one_hypothesis_per_deciding_test() -> None:
    plan = load_plan(PLAN).plan
    assert plan.diagnosis is not None
    assert not plan.diagnosis.gaps
    assert not plan.diagnosis.pool_share
    assert not plan.diagnosis.score_gaps
    tests = {h.deciding_test for h in plan.hypotheses}
    assert tests == {
        "lpm_cr2",
        "difference_pooled_cr2",
        "randomisation",
        "impact_ratio_cr2",
        "hedges_g_cr2",
    }


def _type_i(calibration: dict[str, Any], hypothesis: str) -> tuple[float, dict[str, Any]]:
    row = next(h for h in calibration["hypotheses"] if h["id"] == hypothesis)
    # both scenarios are without effect: the 'power' of one is a type-I error too
    runs = row["null"]["estimable"] + row["declared"]["estimable"]
    assert runs >= 1.9 * SIMS, f"{hypothesis}: only {runs} estimable runs"
    rate = (
        row["null"]["type_i_error"] * row["null"]["estimable"]
        + row["declared"]["power_unadjusted"] * row["declared"]["estimable"]
    ) / runs
    return rate, row


HYPOTHESES = ["T1", "T2", "T3", "T4", "T5", "T6", "T7"]
WITHIN_ONE_ARM = {"T2", "T3", "T6", "T7"}
"""Comparisons within one arm have only that arm's vacancies as clusters: at 20 vacancies in
all, 13 in control and 7 in the pilot, where CR2 with Bell-McCaffrey degrees of freedom is
conservative (measured 2.9% to 3.6%; benchmarks/README.md). They are held to the band at 60
vacancies, where the pilot arm has 20."""


@pytest.mark.slow
@pytest.mark.parametrize("hypothesis", HYPOTHESES)
def test_deciding_test_does_not_reject_a_true_null_too_often(
    calibration: dict[str, Any], calibration_60: dict[str, Any], hypothesis: str
) -> None:
    for result in (calibration, calibration_60):
        rate, row = _type_i(result, hypothesis)
        assert rate <= BAND[1], f"{hypothesis} ({row['estimator']}): type-I {rate:.4f}"


@pytest.mark.slow
@pytest.mark.parametrize("hypothesis", HYPOTHESES)
def test_deciding_test_rejects_a_true_null_near_alpha_with_20_vacancies_compared(
    calibration: dict[str, Any], calibration_60: dict[str, Any], hypothesis: str
) -> None:
    result = calibration_60 if hypothesis in WITHIN_ONE_ARM else calibration
    rate, row = _type_i(result, hypothesis)
    assert BAND[0] <= rate <= BAND[1], f"{hypothesis} ({row['estimator']}): type-I {rate:.4f}"

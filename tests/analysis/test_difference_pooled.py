"""difference_pooled against hand calculations and Newcombe (1998)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from pilot_eval.analysis.estimators import Context, estimate
from pilot_eval.data.frame import ComparisonSample
from pilot_eval.plan.model import AnalysisPlan, Hypothesis, StageTransition


def _rows(arm: str, focal: bool, n: int, successes: int) -> list[dict[str, object]]:
    return [
        {"vacancy_id": f"{arm}-{i % 3}", "arm": arm, "focal": focal, "success": i < successes}
        for i in range(n)
    ]


def _sample(rows: list[dict[str, object]]) -> ComparisonSample:
    frame = pd.DataFrame(rows)
    return ComparisonSample(frame=frame, exclusions=(), n_total=len(frame))


def _hypothesis(plan: AnalysisPlan, **changes: object) -> Hypothesis:
    base = {
        "id": "T",
        "family": "primary",
        "group": "origin",
        "stage": StageTransition.model_validate({"from": "applied", "to": "invited"}),
    }
    return Hypothesis.model_validate({**base, **changes})


def test_stage_gap_matches_newcombe_1998(plan: AnalysisPlan) -> None:
    # Newcombe (1998), Stat Med 17:873-890, example (b): 56/70 vs 48/80; method 10
    # (hybrid score, no continuity correction) gives 0.0524 to 0.3339.
    rows = _rows("control", True, 70, 56) + _rows("control", False, 80, 48)
    h = _hypothesis(plan, kind="stage_gap", arm="control")
    e = estimate("difference_pooled", _sample(rows), Context(plan, h))
    assert e.estimate == pytest.approx(0.2)
    assert e.ci_low == pytest.approx(0.0524, abs=5e-5)
    assert e.ci_high == pytest.approx(0.3339, abs=5e-5)
    # pooled z-test by hand: p = 104/150, se0 = sqrt(p(1-p)(1/70 + 1/80))
    p = 104 / 150
    z = 0.2 / math.sqrt(p * (1 - p) * (1 / 70 + 1 / 80))
    assert e.statistic == pytest.approx(z)
    assert e.p_value == pytest.approx(math.erfc(z / math.sqrt(2)))
    # unpooled Wald standard error by hand
    assert e.std_error == pytest.approx(math.sqrt(0.8 * 0.2 / 70 + 0.6 * 0.4 / 80))
    assert (e.n_applications, e.n_vacancies) == (150, 3)


def test_one_sided_p_values(plan: AnalysisPlan) -> None:
    rows = _rows("control", True, 70, 56) + _rows("control", False, 80, 48)
    two = estimate(
        "difference_pooled",
        _sample(rows),
        Context(plan, _hypothesis(plan, kind="stage_gap", arm="control")),
    )
    greater = estimate(
        "difference_pooled",
        _sample(rows),
        Context(plan, _hypothesis(plan, kind="stage_gap", arm="control", alternative="greater")),
    )
    less = estimate(
        "difference_pooled",
        _sample(rows),
        Context(plan, _hypothesis(plan, kind="stage_gap", arm="control", alternative="less")),
    )
    assert greater.p_value == pytest.approx(two.p_value / 2)
    assert less.p_value == pytest.approx(1 - two.p_value / 2)


def test_pool_share_compares_arms(plan: AnalysisPlan) -> None:
    # focal share 30/100 in pilot vs 20/100 in control
    rows = [
        {"vacancy_id": "p", "arm": "pilot", "focal": i < 30, "success": False} for i in range(100)
    ] + [
        {"vacancy_id": "c", "arm": "control", "focal": i < 20, "success": False} for i in range(100)
    ]
    h = _hypothesis(plan, kind="pool_share", arm="pilot", stage=None)
    e = estimate("difference_pooled", _sample(rows), Context(plan, h))
    assert e.estimate == pytest.approx(0.1)
    assert e.details["cells"] == {
        "pilot": {"n": 100, "count": 30},
        "control": {"n": 100, "count": 20},
    }


def test_gap_difference_by_hand(plan: AnalysisPlan) -> None:
    cells = {("pilot", True): (50, 20), ("pilot", False): (100, 45), ("control", True): (40, 8)}
    cells[("control", False)] = (120, 48)
    rows = [r for (arm, focal), (n, k) in cells.items() for r in _rows(arm, focal, n, k)]
    h = _hypothesis(plan, kind="gap_difference", arm="pilot")
    e = estimate("difference_pooled", _sample(rows), Context(plan, h))
    # (0.40 - 0.45) - (0.20 - 0.40) = 0.15
    assert e.estimate == pytest.approx(0.15)
    se = math.sqrt(0.4 * 0.6 / 50 + 0.45 * 0.55 / 100 + 0.2 * 0.8 / 40 + 0.4 * 0.6 / 120)
    assert e.std_error == pytest.approx(se)
    assert e.statistic == pytest.approx(0.15 / se)
    assert e.ci_low == pytest.approx(0.15 - 1.959963984540054 * se)
    assert e.ci_high == pytest.approx(0.15 + 1.959963984540054 * se)


def test_not_estimable_without_focal_applicants(plan: AnalysisPlan) -> None:
    rows = _rows("control", False, 30, 10)
    h = _hypothesis(plan, kind="stage_gap", arm="control")
    e = estimate("difference_pooled", _sample(rows), Context(plan, h))
    assert not e.estimable
    assert e.reason == "no applications in the focal cell"


def test_not_estimable_without_variation(plan: AnalysisPlan) -> None:
    rows = _rows("control", True, 30, 0) + _rows("control", False, 30, 0)
    h = _hypothesis(plan, kind="stage_gap", arm="control")
    e = estimate("difference_pooled", _sample(rows), Context(plan, h))
    assert e.reason is not None
    assert "no variation" in e.reason


def test_unavailable_estimator_is_explicit(
    plan: AnalysisPlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pilot_eval.analysis import estimators

    monkeypatch.delitem(estimators.REGISTRY, ("stage_gap", "mantel_haenszel"))
    rows = _rows("control", True, 30, 10) + _rows("control", False, 30, 12)
    h = _hypothesis(plan, kind="stage_gap", arm="control")
    e = estimate("mantel_haenszel", _sample(rows), Context(plan, h))
    assert e.scale == "odds_ratio"
    assert e.reason is not None
    assert "not available" in e.reason

"""Mantel-Haenszel and the impact-ratio estimators against R and hand calculations."""

from __future__ import annotations

import math

import pytest
from scipy import optimize, stats

from pilot_eval.analysis.estimators import Context, estimate
from pilot_eval.plan.model import AnalysisPlan, Hypothesis
from tests.samples import sample_from_tables

# (vacancy, focal passed, focal total, reference passed, reference total); from
# tests/reference/tables.R. Within every vacancy the focal group does at least as well;
# pooled it does much worse (Simpson's paradox).
SIMPSON = [("V1", 18, 20, 140, 200), ("V2", 40, 200, 2, 20), ("V3", 9, 30, 20, 60)]


def _ctx(plan: AnalysisPlan, kind: str, alternative: str = "two-sided") -> Context:
    h = Hypothesis.model_validate(
        {
            "id": "T",
            "family": "primary",
            "group": "origin",
            "kind": kind,
            "arm": "control",
            "stage": {"from": "applied", "to": "invited"},
            "alternative": alternative,
        }
    )
    return Context(plan, h)


def test_mantel_haenszel_matches_r(plan: AnalysisPlan) -> None:
    e = estimate("mantel_haenszel", sample_from_tables(SIMPSON), _ctx(plan, "stage_gap"))
    # R mantelhaen.test(x, correct = FALSE): tests/reference/tables.R
    assert e.estimate == pytest.approx(1.64754098360656, rel=1e-12)
    assert e.ci_low == pytest.approx(0.853305796593499, rel=1e-10)
    assert e.ci_high == pytest.approx(3.18102994670778, rel=1e-10)
    assert e.statistic == pytest.approx(2.09637548344979, rel=1e-10)
    assert e.p_value == pytest.approx(0.147648779706451, rel=1e-10)
    assert e.details["informative_vacancies"] == 3


@pytest.mark.parametrize(
    ("alternative", "p"),
    # R mantelhaen.test(..., alternative = "greater" / "less"): tests/reference/tables.R
    [("greater", 0.0738243898532262), ("less", 0.926175610146774)],
)
def test_mantel_haenszel_one_sided_matches_r(
    plan: AnalysisPlan, alternative: str, p: float
) -> None:
    e = estimate(
        "mantel_haenszel", sample_from_tables(SIMPSON), _ctx(plan, "stage_gap", alternative)
    )
    assert e.p_value == pytest.approx(p, rel=1e-10)


def test_pooled_and_stratified_directions_differ(plan: AnalysisPlan) -> None:
    pooled = estimate("difference_pooled", sample_from_tables(SIMPSON), _ctx(plan, "stage_gap"))
    within = estimate("mantel_haenszel", sample_from_tables(SIMPSON), _ctx(plan, "stage_gap"))
    # pooled: 67/250 focal vs 162/280 reference passed
    assert pooled.estimate == pytest.approx(67 / 250 - 162 / 280)
    assert pooled.estimate is not None
    assert pooled.estimate < 0
    assert within.estimate is not None
    assert within.estimate > 1


def _breslow_day_tarone(tables: list[tuple[str, int, int, int, int]], odds: float) -> float:
    """Breslow & Day (1980, eq. 4.30) with Tarone's (1985) correction, by hand."""
    total = 0.0
    sum_a = sum_e = sum_v = 0.0
    for _, a, n1, c, n0 in tables:
        m1 = a + c  # passed

        def f(x: float, n1: int = n1, n0: int = n0, m1: int = m1) -> float:
            return x * (n0 - m1 + x) - odds * (n1 - x) * (m1 - x)

        lo, hi = max(0, m1 - n0), min(n1, m1)
        ea = optimize.brentq(f, lo + 1e-12, hi - 1e-12)
        va = 1 / (1 / ea + 1 / (n1 - ea) + 1 / (m1 - ea) + 1 / (n0 - m1 + ea))
        total += (a - ea) ** 2 / va
        sum_a, sum_e, sum_v = sum_a + a, sum_e + ea, sum_v + va
    return total - (sum_a - sum_e) ** 2 / sum_v


def test_breslow_day_matches_hand_calculation(plan: AnalysisPlan) -> None:
    e = estimate("mantel_haenszel", sample_from_tables(SIMPSON), _ctx(plan, "stage_gap"))
    bd = e.details["breslow_day"]
    expected = _breslow_day_tarone(SIMPSON, 1.64754098360656)
    assert bd["statistic"] == pytest.approx(expected, rel=1e-8)
    assert bd["df"] == 2
    assert bd["p_value"] == pytest.approx(stats.chi2.sf(expected, 2), rel=1e-8)


def test_mantel_haenszel_not_estimable(plan: AnalysisPlan) -> None:
    only_focal = [("V1", 3, 10, 0, 0)]
    e = estimate("mantel_haenszel", sample_from_tables(only_focal), _ctx(plan, "stage_gap"))
    assert e.reason == "no vacancy has applications of both groups at this stage"
    never = [("V1", 0, 10, 4, 10), ("V2", 0, 5, 2, 8)]
    e = estimate("mantel_haenszel", sample_from_tables(never), _ctx(plan, "stage_gap"))
    assert e.reason is not None
    assert "0 or infinite" in e.reason


SMALL = [("V1", 1, 8, 9, 15)]  # focal 1 of 8 passed, reference 9 of 15


def test_impact_ratio_katz_by_hand(plan: AnalysisPlan) -> None:
    e = estimate("impact_ratio", sample_from_tables(SMALL), _ctx(plan, "impact_ratio"))
    ratio = (1 / 8) / (9 / 15)
    se = math.sqrt(1 / 1 - 1 / 8 + 1 / 9 - 1 / 15)  # Katz et al. (1978)
    assert e.estimate == pytest.approx(ratio)
    assert e.std_error == pytest.approx(se)
    assert e.ci_low == pytest.approx(ratio * math.exp(-1.959963984540054 * se))
    assert e.ci_high == pytest.approx(ratio * math.exp(1.959963984540054 * se))
    assert e.details["four_fifths_flag"] is True
    # at the reference rate 8 * 9/15 = 4.8 focal applicants would have passed, not 1
    assert e.details["shortfall"] == pytest.approx(3.8)


def test_fisher_and_z_disagree_as_in_r(plan: AnalysisPlan) -> None:
    fisher = estimate("fisher_exact", sample_from_tables(SMALL), _ctx(plan, "impact_ratio"))
    z = estimate("z_test", sample_from_tables(SMALL), _ctx(plan, "impact_ratio"))
    # R fisher.test and prop.test(correct = FALSE): tests/reference/tables.R
    assert fisher.p_value == pytest.approx(0.0743034055727554, rel=1e-10)
    assert z.p_value == pytest.approx(0.0286222307973791, rel=1e-10)
    assert z.statistic is not None
    assert z.statistic**2 == pytest.approx(4.79019230769231, rel=1e-10)
    assert fisher.estimate == z.estimate
    less = estimate("fisher_exact", sample_from_tables(SMALL), _ctx(plan, "impact_ratio", "less"))
    assert less.p_value == pytest.approx(0.037622829452147, rel=1e-10)


def test_ratio_not_estimable_without_reference_passes(plan: AnalysisPlan) -> None:
    e = estimate(
        "impact_ratio", sample_from_tables([("V1", 2, 8, 0, 15)]), _ctx(plan, "impact_ratio")
    )
    assert e.reason is not None
    assert "undefined" in e.reason

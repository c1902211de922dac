"""Detection of contradictory results."""

from __future__ import annotations

import pytest
from scipy import stats

from pilot_eval.analysis.contradictions import (
    cochran_q,
    pooled_vs_stratified,
    robustness_flip,
    subgroups_opposite,
)
from pilot_eval.analysis.contradictions import (
    tests_disagree as disagreeing_tests,
)
from pilot_eval.analysis.estimators import Context, estimate
from pilot_eval.analysis.results import Estimate
from pilot_eval.plan.model import AnalysisPlan, Hypothesis
from tests.samples import sample_from_tables


def _ctx(plan: AnalysisPlan, kind: str) -> Context:
    h = Hypothesis.model_validate(
        {
            "id": "H",
            "family": "primary",
            "group": "origin",
            "kind": kind,
            "arm": "control",
            "stage": {"from": "applied", "to": "invited"},
        }
    )
    return Context(plan, h)


def _e(x: float, p: float, se: float = 0.1, scale: str = "difference") -> Estimate:
    return Estimate("lpm_fe", scale, "null", estimate=x, std_error=se, p_value=p)


def test_simpson_paradox_is_found(plan: AnalysisPlan) -> None:
    # tests/reference/tables.R: within every vacancy focal applicants pass more often, pooled
    # they pass less often (67/250 vs 162/280)
    sample = sample_from_tables(
        [("V1", 18, 20, 140, 200), ("V2", 40, 200, 2, 20), ("V3", 9, 30, 20, 60)]
    )
    ctx = _ctx(plan, "stage_gap")
    est = {n: estimate(n, sample, ctx) for n in ("difference_pooled", "mantel_haenszel")}
    (found,) = pooled_vs_stratified("H", est, 0.05)
    assert found.kind == "pooled_vs_stratified"
    assert found.estimators == ["difference_pooled", "mantel_haenszel"]
    assert "Simpson" in found.detail


def test_no_paradox_when_directions_agree() -> None:
    est = {"difference_pooled": _e(-0.05, 0.01), "lpm_fe": _e(-0.03, 0.2)}
    assert pooled_vs_stratified("H", est, 0.05) == []


def test_fisher_and_z_disagreement_is_found(plan: AnalysisPlan) -> None:
    # focal 1 of 8, reference 9 of 15: z-test p = 0.029, Fisher p = 0.074 (tests/reference)
    sample = sample_from_tables([("V1", 1, 8, 9, 15)])
    ctx = _ctx(plan, "impact_ratio")
    est = {n: estimate(n, sample, ctx) for n in ("impact_ratio", "fisher_exact", "z_test")}
    (found,) = disagreeing_tests("H", est, 0.05)
    assert found.significant == ["z_test"]
    # the Wald test of the log ratio (impact_ratio, p = 0.102 by hand) sides with Fisher
    assert found.not_significant == ["fisher_exact", "impact_ratio"]


def test_tests_agree() -> None:
    assert disagreeing_tests("H", {"a": _e(0.1, 0.01), "b": _e(0.1, 0.02)}, 0.05) == []


def test_cochran_q_by_hand() -> None:
    # three subgroups: b = 0.1, -0.2, 0.05 with se 0.05, 0.1, 0.05
    # w = 400, 100, 400; pooled = (40 - 20 + 20) / 900 = 0.0444...
    q, df, p = cochran_q([0.1, -0.2, 0.05], [0.05, 0.1, 0.05])
    pooled = 40 / 900
    expected = 400 * (0.1 - pooled) ** 2 + 100 * (-0.2 - pooled) ** 2 + 400 * (0.05 - pooled) ** 2
    assert q == pytest.approx(expected)
    assert df == 2
    assert p == pytest.approx(stats.chi2.sf(expected, 2))


def test_subgroups_with_opposite_significant_effects() -> None:
    by = {
        "AZ": _e(0.2, 0.001, 0.05),
        "BZ": _e(-0.15, 0.01, 0.05),
        "FIN": _e(0.01, 0.8, 0.05),
    }
    summary, (found,) = subgroups_opposite("H", "department", by, 0.05)
    assert found.positive == ["AZ"]
    assert found.negative == ["BZ"]
    assert summary.heterogeneity is not None
    assert summary.heterogeneity.df == 2
    assert "Cochran" in found.detail


def test_subgroups_same_sign_are_no_contradiction() -> None:
    by = {"AZ": _e(0.2, 0.001), "BZ": _e(0.15, 0.01)}
    summary, found = subgroups_opposite("H", "department", by, 0.05)
    assert found == []
    assert summary.heterogeneity is not None


def test_robustness_flip_on_sign_and_on_verdict() -> None:
    main = _e(0.03, 0.001)
    assert robustness_flip("H", "R", main, "met", _e(-0.001, 0.5), "not_met")[0].detail
    (v,) = robustness_flip("H", "R", main, "met", _e(0.02, 0.08), "inconclusive")
    assert "verdict" in v.detail
    assert robustness_flip("H", "R", main, "met", _e(0.04, 0.001), "met") == []


def test_ratio_scale_direction_uses_one() -> None:
    pooled = _e(0.05, 0.001)
    odds = Estimate("mantel_haenszel", "odds_ratio", "null", estimate=0.8, p_value=0.01)  # < 1
    (found,) = pooled_vs_stratified(
        "H", {"difference_pooled": pooled, "mantel_haenszel": odds}, 0.05
    )
    assert found.estimators is not None
    assert found.estimators[1] == "mantel_haenszel"

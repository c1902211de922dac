"""Adjusted p-values and verdicts."""

from __future__ import annotations

import numpy as np
import pytest

from pilot_eval.analysis.inference import adjust_p_values, verdict
from pilot_eval.analysis.results import Estimate, not_estimable
from pilot_eval.plan.model import AnalysisPlan, Hypothesis


def _est(x: float, low: float, high: float, p: float, scale: str = "difference") -> Estimate:
    return Estimate("e", scale, "null", estimate=x, ci_low=low, ci_high=high, p_value=p)


def _h(alternative: str, min_effect: float = 0.0) -> Hypothesis:
    return Hypothesis.model_validate(
        {
            "id": "X",
            "family": "primary",
            "kind": "pool_share",
            "group": "origin",
            "arm": "pilot",
            "alternative": alternative,
            "criterion": {"min_effect": min_effect},
        }
    )


def test_holm_and_bh_by_hand(plan: AnalysisPlan) -> None:
    # primary family (Holm): H1, H2, H3 with p = 0.01, 0.04, 0.03.
    # Holm by hand: sorted 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> monotone 0.06.
    # secondary family (BH) H4..H8 with p = 0.01, 0.02, 0.03, 0.04, 0.05:
    # BH by hand: p_(i) * 5 / i = 0.05 for every i.
    p = {"H1": 0.01, "H2": 0.04, "H3": 0.03, "H4": 0.01, "H5": 0.02, "H6": 0.03}
    p.update({"H7": 0.04, "H8": 0.05})
    chosen = {k: _est(0.1, 0.0, 0.2, v) for k, v in p.items()}
    adjusted = adjust_p_values(plan, chosen)
    assert adjusted["H1"] == pytest.approx(0.03)
    assert adjusted["H2"] == pytest.approx(0.06)
    assert adjusted["H3"] == pytest.approx(0.06)
    for k in ("H4", "H5", "H6", "H7", "H8"):
        assert adjusted[k] == pytest.approx(0.05)


def test_not_estimable_hypotheses_are_left_out_of_the_correction(plan: AnalysisPlan) -> None:
    chosen = {h.id: _est(0.1, 0.0, 0.2, 0.01) for h in plan.hypotheses}
    chosen["H2"] = not_estimable("lpm_fe", "difference", "null", "single cluster")
    chosen["H3"] = not_estimable("lpm_fe", "difference", "null", "single cluster")
    adjusted = adjust_p_values(plan, chosen)
    # only H1 is left in the Holm family: its p-value is not adjusted
    assert adjusted["H1"] == pytest.approx(0.01)
    assert adjusted["H2"] is None
    assert adjusted["H3"] is None


@pytest.mark.parametrize(
    ("alternative", "min_effect", "est", "p_adj", "expected"),
    [
        ("greater", 0.02, (0.05, 0.03, 0.07), 0.001, "met"),
        ("greater", 0.02, (0.01, 0.005, 0.015), 0.001, "not_met"),  # CI below threshold
        ("greater", 0.02, (0.05, -0.01, 0.11), 0.2, "inconclusive"),
        ("greater", 0.0, (-0.05, -0.08, -0.02), 0.99, "not_met"),
        ("less", -0.02, (-0.05, -0.07, -0.03), 0.001, "met"),
        ("less", -0.02, (0.01, 0.0, 0.02), 0.9, "not_met"),
        ("two-sided", 0.0, (-0.05, -0.08, -0.02), 0.001, "met"),
        ("two-sided", 0.0, (0.01, -0.02, 0.04), 0.5, "inconclusive"),
        ("two-sided", 0.05, (0.01, -0.02, 0.04), 0.5, "not_met"),
    ],
)
def test_verdicts(
    alternative: str,
    min_effect: float,
    est: tuple[float, float, float],
    p_adj: float,
    expected: str,
) -> None:
    e = _est(est[0], est[1], est[2], p_adj)
    assert verdict(_h(alternative, min_effect), e, p_adj, 0.05) == expected


def test_ratio_verdict_uses_the_null_value_one() -> None:
    # impact ratio 0.7, CI [0.6, 0.8], two-sided, threshold 0.8: far enough from 1, significant
    e = _est(0.7, 0.6, 0.8, 0.001, scale="ratio")
    assert verdict(_h("two-sided", 0.8), e, 0.001, 0.05) == "met"


def test_not_estimable_verdict() -> None:
    e = not_estimable("lpm_fe", "difference", "null", "no focal applicants")
    assert verdict(_h("greater"), e, None, 0.05) == "not_estimable"


def test_holm_equals_statsmodels() -> None:
    from statsmodels.stats.multitest import multipletests

    from pilot_eval.analysis.inference import holm

    rng = np.random.default_rng(4)
    for m in (1, 2, 5, 13):
        for _ in range(20):
            p = rng.uniform(0, 1, m) ** 3
            p[rng.random(m) < 0.2] = p[0]  # ties
            expected = multipletests(p, method="holm")[1]
            assert np.allclose(holm(p), expected, rtol=0, atol=1e-15)


def test_minimum_detectable_effect_of_a_chi_square_test_uses_normal_quantiles() -> None:
    from pilot_eval.analysis.inference import minimum_detectable_effect

    mh = Estimate(
        "mantel_haenszel", "odds_ratio", "null", estimate=0.8, std_error=0.1,
        statistic=6.6, statistic_name="chi2", df=1.0, p_value=0.01,
    )  # fmt: skip
    # by hand: z_0.95 + z_0.80 = 1.644854 + 0.841621 = 2.486475; exp(-0.2486475) = 0.779855
    assert minimum_detectable_effect(mh, "less", 0.05) == pytest.approx(0.779855, abs=1e-6)
    lpm = Estimate(
        "lpm_fe", "difference", "null", estimate=0.03, std_error=0.01,
        statistic=3.0, statistic_name="t", df=19.0, p_value=0.01,
    )  # fmt: skip
    # by hand: t_19(0.95) + t_19(0.80) = 1.729133 + 0.860951 = 2.590084
    assert minimum_detectable_effect(lpm, "greater", 0.05) == pytest.approx(0.02590084, abs=1e-7)

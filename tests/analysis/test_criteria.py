"""Criteria that are tested, margins and harm (``inference.judge``): the tests behind an
interval by hand, two one-sided tests against statsmodels' ``ttost_ind``, each verdict on
constructed estimates, adjustment of the criterion tests within the family, and the plan's
checks of a margin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.weightstats import ttost_ind

from pilot_eval.analysis.inference import adjust_p_values, judge, pivot
from pilot_eval.analysis.results import Estimate
from pilot_eval.errors import PlanError
from pilot_eval.plan.model import AnalysisPlan, Criterion, Family, Hypothesis, load_plan

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "analysis_plans" / "breed-werven-2024.yaml"
ALPHA = 0.05
Z = float(stats.norm.ppf(1 - ALPHA / 2))


@pytest.fixture(scope="module")
def example() -> AnalysisPlan:
    return load_plan(PLAN).plan


def t_estimate(x: float, se: float, df: float, scale: str = "difference") -> Estimate:
    """An estimate with a two-sided 95% t interval, as the CR2 estimators report it."""
    q = float(stats.t.ppf(1 - ALPHA / 2, df))
    return Estimate(
        estimator="lpm_cr2",
        scale=scale,
        null_hypothesis="no difference",
        estimate=x,
        std_error=se,
        ci_low=x - q * se,
        ci_high=x + q * se,
        statistic=x / se,
        statistic_name="t",
        df=df,
        p_value=float(2 * stats.t.sf(abs(x / se), df)),
        n_vacancies=40,
        n_applications=4000,
    )


def one_sided(e: Estimate, alternative: str) -> Estimate:
    assert e.estimate is not None
    assert e.std_error is not None
    assert e.df is not None
    t = e.estimate / e.std_error
    p = stats.t.sf(t, e.df) if alternative == "greater" else stats.t.cdf(t, e.df)
    return Estimate(**{**e.__dict__, "p_value": float(p)})


def plan_of(example: AnalysisPlan, correction: str, *hypotheses: dict[str, Any]) -> AnalysisPlan:
    base = {"family": "f", "group": "origin", "arm": "pilot", "decided_by": "lpm_cr2"}
    made = tuple(
        Hypothesis.model_validate(
            {**base, "kind": "gap_difference", "stage": {"from": "applied", "to": "invited"}, **h}
        )
        for h in hypotheses
    )
    return example.model_copy(
        update={"hypotheses": made, "families": {"f": Family(correction=correction)}}
    )


def judged(plan: AnalysisPlan, estimates: dict[str, Estimate]) -> dict[str, Any]:
    adjusted = adjust_p_values(plan, estimates)
    return judge(plan, estimates, adjusted)


def test_pivot_reads_the_test_back_from_the_interval() -> None:
    e = t_estimate(0.05, 0.02, 30)
    pv = pivot(e, ALPHA)
    assert pv is not None
    assert pv.se == pytest.approx(0.02, rel=1e-12)
    assert pv.p_above(0.0) == pytest.approx(stats.t.sf(2.5, 30), rel=1e-12)
    assert pv.p_below(0.1) == pytest.approx(stats.t.cdf(-2.5, 30), rel=1e-12)
    # a ratio's interval is symmetric on the log scale
    ratio = Estimate(
        "impact_ratio_cr2",
        "ratio",
        "ratio 1",
        estimate=0.9,
        ci_low=0.9 * np.exp(-Z * 0.1),
        ci_high=0.9 * np.exp(Z * 0.1),
        statistic_name="z",
        p_value=0.3,
    )
    rp = pivot(ratio, ALPHA)
    assert rp is not None
    assert rp.p_below(1.0) == pytest.approx(stats.norm.cdf(np.log(0.9) / 0.1), rel=1e-9)


def test_equivalence_is_two_one_sided_tests_as_statsmodels(example: AnalysisPlan) -> None:
    rng = np.random.default_rng(3)
    x1, x2 = rng.normal(0.02, 1, 400), rng.normal(0.0, 1, 380)
    n1, n2 = len(x1), len(x2)
    pooled = ((n1 - 1) * x1.var(ddof=1) + (n2 - 1) * x2.var(ddof=1)) / (n1 + n2 - 2)
    se = float(np.sqrt(pooled * (1 / n1 + 1 / n2)))
    e = t_estimate(float(x1.mean() - x2.mean()), se, n1 + n2 - 2, scale="smd")
    plan = plan_of(
        example, "none", {"id": "E", "alternative": "two-sided", "criterion": {"margin": 0.2}}
    )
    got = judged(plan, {"E": e})["E"]
    expected = ttost_ind(x1, x2, -0.2, 0.2, usevar="pooled")[0]
    assert got.evidence["margin"] == pytest.approx(expected, rel=1e-9)
    assert got.verdict == "equivalent"  # p about 0.001: within +-0.2 SD


def test_non_inferiority_harm_and_tested_min_effect(example: AnalysisPlan) -> None:
    plan = plan_of(
        example,
        "none",
        {"id": "NI", "alternative": "greater", "criterion": {"rule": "bound", "margin": 0.03}},
        {"id": "HARM", "alternative": "greater"},
        {
            "id": "BOUND",
            "alternative": "greater",
            "criterion": {"rule": "bound", "min_effect": 0.02},
        },
        {"id": "POINT", "alternative": "greater", "criterion": {"min_effect": 0.02}},
    )
    estimates = {
        # [-0.0098, 0.0298]: no effect shown, but a loss of 3 points is ruled out
        "NI": one_sided(t_estimate(0.01, 0.01, 60), "greater"),
        # [-0.0887, -0.0113]: the interval lies on the harmful side
        "HARM": one_sided(t_estimate(-0.05, 0.0194, 60), "greater"),
        # 0.032 [0.015, 0.049]: above 0; one-sided p against 0.02 is 0.08
        "BOUND": one_sided(t_estimate(0.032, 0.0085, 60), "greater"),
        "POINT": one_sided(t_estimate(0.032, 0.0085, 60), "greater"),
    }
    got = judged(plan, estimates)
    assert got["NI"].verdict == "non_inferior"
    assert got["NI"].harm is False
    assert got["NI"].evidence["margin"] == pytest.approx(stats.t.sf(4.0, 60), rel=1e-9)
    assert got["HARM"].verdict == "not_met"
    assert got["HARM"].harm is True
    # the same evidence, two rules: the point estimate passes 0.02, its bound does not
    assert got["BOUND"].verdict == "inconclusive"
    assert got["BOUND"].evidence["met"] == pytest.approx(stats.t.sf(0.012 / 0.0085, 60))
    assert got["POINT"].verdict == "met"
    assert got["POINT"].evidence["met"] is None


def test_criterion_tests_are_adjusted_within_the_family(example: AnalysisPlan) -> None:
    # margin p-values about 0.03 and 0.04: below alpha alone, not after Holm (x2)
    specs = [{"id": i, "alternative": "greater", "criterion": {"margin": 0.05}} for i in "AB"]
    e = {
        "A": one_sided(t_estimate(-0.01, 0.04 / stats.t.isf(0.03, 50), 50), "greater"),
        "B": one_sided(t_estimate(-0.01, 0.04 / stats.t.isf(0.04, 50), 50), "greater"),
    }
    alone = judged(plan_of(example, "none", *specs), e)
    holm = judged(plan_of(example, "holm", *specs), e)
    assert alone["A"].evidence["margin"] == pytest.approx(0.03, rel=1e-9)
    assert [alone[i].verdict for i in "AB"] == ["non_inferior", "non_inferior"]
    # Holm: 2 x 0.03 = 0.06 for the smaller, max(0.06, 1 x 0.04) for the larger
    assert holm["A"].evidence["margin"] == pytest.approx(0.06, rel=1e-9)
    assert holm["B"].evidence["margin"] == pytest.approx(0.06, rel=1e-9)
    # estimates on the wrong side, but not shown there: 'not met' needs adjusted evidence too
    assert [holm[i].verdict for i in "AB"] == ["inconclusive", "inconclusive"]


def test_a_margin_needs_a_test_with_an_interval(example: AnalysisPlan, tmp_path: Path) -> None:
    from pilot_eval.plan.model import check_references

    ri = Hypothesis.model_validate(
        {
            "id": "R",
            "family": "primary",
            "kind": "gap_difference",
            "group": "origin",
            "stage": {"from": "applied", "to": "invited"},
            "decided_by": "randomisation",
            "alternative": "greater",
            "criterion": {"margin": 0.02},
        }
    )
    ratio = Hypothesis.model_validate(
        {
            "id": "Q",
            "family": "primary",
            "kind": "impact_ratio",
            "group": "origin",
            "stage": {"from": "applied", "to": "invited"},
            "arm": "pilot",
            "alternative": "two-sided",
            "criterion": {"margin": 1.5},
        }
    )
    plan = example.model_copy(update={"hypotheses": (*example.hypotheses, ri, ratio)})
    rules = {(p.column, p.rule.split(":")[0]) for p in check_references(plan)}
    assert any(c.endswith(".criterion") and "randomisation" in r for c, r in rules)
    assert any(c.endswith(".criterion.margin") for c, _ in rules)
    with pytest.raises(ValueError, match="greater than 0"):
        Criterion.model_validate({"margin": 0})
    assert PlanError  # the loader turns these problems into a PlanError with exit 2


def test_a_tested_min_effect_is_adjusted_over_the_whole_family(example: AnalysisPlan) -> None:
    plan = plan_of(
        example,
        "holm",
        {"id": "M", "alternative": "greater", "criterion": {"rule": "bound", "min_effect": 0.02}},
        {"id": "N", "alternative": "greater"},
    )
    e = {
        "M": one_sided(t_estimate(0.05, 0.01, 60), "greater"),  # t = 3 against 0.02
        "N": one_sided(t_estimate(0.01, 0.01, 60), "greater"),  # t = 1 against 0
    }
    got = judged(plan, e)
    p_m, p_n = stats.t.sf(3.0, 60), stats.t.sf(1.0, 60)
    # Holm over both: the smaller doubled
    assert got["M"].evidence["met"] == pytest.approx(2 * p_m, rel=1e-9)
    assert got["N"].evidence["min_effect"] == pytest.approx(max(2 * p_m, p_n), rel=1e-9)
    assert got["M"].verdict == "met"
    assert got["N"].verdict == "inconclusive"


def test_min_effect_on_the_wrong_side_of_no_effect_is_refused(example: AnalysisPlan) -> None:
    from pilot_eval.plan.model import check_references

    wrong = Hypothesis.model_validate(
        {
            "id": "W",
            "family": "primary",
            "kind": "gap_difference",
            "group": "origin",
            "stage": {"from": "applied", "to": "invited"},
            "alternative": "greater",
            "criterion": {"min_effect": -0.05},
        }
    )
    plan = example.model_copy(update={"hypotheses": (*example.hypotheses, wrong)})
    problems = [p for p in check_references(plan) if p.column.endswith("criterion.min_effect")]
    assert len(problems) == 1
    assert "other side of no effect" in problems[0].rule


def test_not_met_rests_on_the_same_adjusted_evidence_as_met(example: AnalysisPlan) -> None:
    specs = [{"id": i, "alternative": "greater"} for i in "AB"]
    e = {
        # shown below 0 alone (one-sided p 0.03), not after Holm (0.06)
        "A": one_sided(t_estimate(-0.04, 0.04 / stats.t.isf(0.03, 50), 50), "greater"),
        "B": one_sided(t_estimate(-0.01, 0.04 / stats.t.isf(0.04, 50), 50), "greater"),
    }
    assert judged(plan_of(example, "none", *specs), e)["A"].verdict == "not_met"
    holm = judged(plan_of(example, "holm", *specs), e)
    assert holm["A"].evidence["not_met"] == pytest.approx(0.06, rel=1e-9)  # 2 x 0.03
    assert holm["A"].verdict == "inconclusive"
    # a disadvantage shown is not relabelled by a margin
    with_margin = [{**x, "criterion": {"margin": 0.5}} for x in specs]
    shown = judged(plan_of(example, "none", *with_margin), e)
    assert shown["A"].harm is True
    assert shown["A"].verdict == "not_met"

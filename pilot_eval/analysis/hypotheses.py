"""Each hypothesis of the plan analysed: its sample, every applicable estimate, the verdict
from the deciding test, subgroups, and its record in results.json."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from pilot_eval.analysis.contradictions import (
    subgroups_opposite,
)
from pilot_eval.analysis.estimators import (
    SCALES,
    Context,
    estimate,
    estimate_published,
    null_hypothesis,
    refuse,
    small_cell,
)
from pilot_eval.analysis.estimators.linear import t_inference
from pilot_eval.analysis.inference import (
    Judgement,
    adjust_p_values,
    criterion_text,
    family_level,
    judge,
    minimum_detectable_effect,
    threshold,
)
from pilot_eval.analysis.later_stages import stratum_bounds, unconditional, withheld_stratum_bounds
from pilot_eval.analysis.missing_bounds import manski_bounds, withheld_bounds
from pilot_eval.analysis.records.statistics import (
    Contradiction,
    Criterion,
    CriterionTests,
    EstimateRecord,
    HypothesisResult,
    LaterStage,
    MissingDataBounds,
    NamedEstimate,
    ScoreGapByArm,
    Stage,
    SubgroupAnalysis,
)
from pilot_eval.analysis.records.statistics import Exclusion as ExclusionRecord
from pilot_eval.analysis.results import Estimate, not_estimable
from pilot_eval.data.frame import (
    ComparisonSample,
    comparison_sample,
)
from pilot_eval.plan.model import (
    BETWEEN_ARMS,
    ESTIMATORS_BY_KIND,
    NO_EFFECT,
    RANDOMISED,
    AnalysisPlan,
    Hypothesis,
)


def applicable_estimators(plan: AnalysisPlan, kind: str) -> tuple[str, ...]:
    """Estimators reported for a kind; randomisation inference only for randomised designs."""
    names = ESTIMATORS_BY_KIND[kind]
    if plan.design.assignment not in RANDOMISED:
        names = tuple(n for n in names if n != "randomisation")
    return names


@dataclass(frozen=True)
class Analysis:
    """One hypothesis analysed: its sample, every applicable estimate, the chosen one (the
    plan's estimator, reported first) and the deciding one (the cluster-aware test whose
    adjusted p-value and interval give the verdict; often the same)."""

    hypothesis: Hypothesis
    sample: ComparisonSample
    estimates: dict[str, Estimate]
    chosen: Estimate
    deciding: Estimate
    withheld: str | None = None
    """Why nothing is published on the sample (a cell below min_cell), or None."""


def analyse(frame: pd.DataFrame, plan: AnalysisPlan, h: Hypothesis) -> Analysis:
    """Run every applicable estimator of hypothesis ``h`` on its comparison sample."""
    sample = comparison_sample(frame, plan, h)
    ctx = Context(plan=plan, hypothesis=h)
    names = dict.fromkeys(
        (*applicable_estimators(plan, h.kind), h.chosen_estimator, h.deciding_test)
    )
    withheld = small_cell(sample, ctx)
    estimates = {
        name: refuse(name, sample, ctx, withheld) if withheld else estimate(name, sample, ctx)
        for name in names
    }
    chosen, deciding = estimates[h.chosen_estimator], estimates[h.deciding_test]
    return Analysis(h, sample, estimates, chosen, deciding, withheld)


def score_gap_by_arm(frame: pd.DataFrame, plan: AnalysisPlan, h: Hypothesis) -> dict[str, Any]:
    """Hedges' g of a score_gap hypothesis in every arm, with its CR2 interval and
    Bell-McCaffrey degrees of freedom (``hedges_g_cr2``: applicants rated by the same
    committee are not independent), and its difference between the hypothesis' arm and the
    reference arm (:func:`difference_of_independent`; two-sided whatever the hypothesis'
    alternative: the plan declares no direction for the change between arms, and no verdict
    rests on it)."""
    per_arm: dict[str, Estimate] = {}
    sizes: dict[str, dict[str, int | None]] = {}
    for name in plan.design.arms:
        other = h.model_copy(update={"arm": name})
        sample, ctx = comparison_sample(frame, plan, other), Context(plan, other)
        per_arm[name] = estimate_published("hedges_g_cr2", sample, ctx)
        sizes[name] = _group_sizes(estimate_published("hedges_g", sample, ctx))
    out: dict[str, Any] = {
        "per_arm": {k: {**estimate_fields(e), **sizes[k]} for k, e in per_arm.items()}
    }
    g1, g0 = per_arm[plan.arm_of(h)], per_arm[plan.reference_arm]
    if plan.arm_of(h) == plan.reference_arm:
        out["difference_between_arms"] = None
    elif (
        g1.estimate is not None
        and g0.estimate is not None
        and g1.std_error
        and g0.std_error
        and g1.df
        and g0.df
        and math.isfinite(g1.df)
        and math.isfinite(g0.df)
        and g1.estimable
        and g0.estimable
    ):
        out["difference_between_arms"] = difference_of_independent(
            (g1.estimate, g1.std_error, g1.df), (g0.estimate, g0.std_error, g0.df), plan.alpha
        )
    else:
        out["difference_between_arms"] = {
            "reason": "Hedges' g cannot be estimated in both arms "
            f"({plan.reference_arm}: {g0.reason or 'estimated'}; "
            f"{plan.arm_of(h)}: {g1.reason or 'estimated'})"
        }
    return out


def difference_of_independent(
    one: tuple[float, float, float], other: tuple[float, float, float], alpha: float
) -> dict[str, Any]:
    """The difference of two estimates from independent samples (different vacancies),
    each given as (estimate, standard error, degrees of freedom): SE = sqrt(se1^2 + se0^2),
    and a two-sided t-test and interval with the Welch-Satterthwaite degrees of freedom
    df = (v1 + v0)^2 / (v1^2 / df1 + v0^2 / df0), v = se^2 (Satterthwaite 1946)."""
    (e1, se1, df1), (e0, se0, df0) = one, other
    v1, v0 = se1**2, se0**2
    diff, se = e1 - e0, math.sqrt(v1 + v0)
    df = (v1 + v0) ** 2 / (v1**2 / df1 + v0**2 / df0)
    t, p, low, high = t_inference(diff, se, df, "two-sided", alpha)
    return {
        "estimate": diff,
        "std_error": se,
        "ci_low": low,
        "ci_high": high,
        "statistic": t,
        "df": df,
        "p_value": p,
        "reason": None,
    }


def _group_sizes(e: Estimate) -> dict[str, int | None]:
    """The focal and reference group sizes of a Hedges' g (from its details)."""
    details = e.details or {}
    sizes: dict[str, int | None] = {}
    for side in ("focal", "reference"):
        d = details.get(side)
        sizes[f"n_{side}"] = int(d["n"]) if isinstance(d, dict) and "n" in d else None
    return sizes


def verdicts(
    plan: AnalysisPlan, analyses: Sequence[Analysis]
) -> tuple[dict[str, float | None], dict[str, str]]:
    """Adjusted p-values within the plan's families, and the verdict per hypothesis."""
    adjusted, judged = judgements(plan, analyses)
    return adjusted, {h_id: j.verdict for h_id, j in judged.items()}


def judgements(
    plan: AnalysisPlan, analyses: Sequence[Analysis]
) -> tuple[dict[str, float | None], dict[str, Judgement]]:
    """Adjusted p-values within the plan's families, and the judgement per hypothesis: its
    verdict, harm and the adjusted criterion tests (``inference.judge``)."""
    deciding = {a.hypothesis.id: a.deciding for a in analyses}
    adjusted = adjust_p_values(plan, deciding)
    return adjusted, judge(plan, deciding, adjusted)


def subgroup_analysis(
    frame: pd.DataFrame, plan: AnalysisPlan, a: Analysis, column: str
) -> tuple[SubgroupAnalysis, list[Contradiction]]:
    """The chosen estimator within each subgroup of a vacancy column, with heterogeneity."""
    by_value: dict[str, Estimate] = {}
    h = a.hypothesis
    ctx = Context(plan, h)
    for value, rows in frame.groupby(column, sort=True, observed=True):
        sample = comparison_sample(rows, plan, h)
        too_few = _too_few_vacancies(sample, h)
        if too_few:
            by_value[str(value)] = not_estimable(
                h.chosen_estimator,
                SCALES[h.chosen_estimator],
                null_hypothesis(ctx),
                too_few,
                n_vacancies=int(sample.frame["vacancy_id"].nunique()),
                n_applications=len(sample.frame),
            )
            continue
        by_value[str(value)] = estimate_published(h.chosen_estimator, sample, ctx)
    return subgroups_opposite(h.id, column, by_value, plan.alpha)


MIN_SUBGROUP_VACANCIES = 10
"""Fewer vacancies than this make clustered standard errors unreliable (Cameron & Miller
2015, section VI); such subgroups are listed without an estimate."""

MIN_SUBGROUP_VACANCIES_PER_ARM = 4
"""A comparison between arms within a subgroup needs this many vacancies in each arm."""


def _too_few_vacancies(sample: ComparisonSample, h: Hypothesis) -> str | None:
    per_arm = sample.frame.groupby("arm", observed=True)["vacancy_id"].nunique()
    if int(per_arm.sum()) < MIN_SUBGROUP_VACANCIES:
        return f"fewer than {MIN_SUBGROUP_VACANCIES} vacancies in this subgroup"
    if h.kind in BETWEEN_ARMS and (
        len(per_arm) < 2 or int(per_arm.min()) < MIN_SUBGROUP_VACANCIES_PER_ARM
    ):
        return f"fewer than {MIN_SUBGROUP_VACANCIES_PER_ARM} vacancies in an arm of this subgroup"
    return None


def estimate_fields(e: Estimate) -> dict[str, Any]:
    """An estimate's numbers without its estimator-specific details."""
    return {k: v for k, v in e.as_json().items() if k != "details"}


def hypothesis_result(
    frame: pd.DataFrame,
    plan: AnalysisPlan,
    a: Analysis,
    p_adjusted: float | None,
    judged: Judgement,
    subgroups: list[SubgroupAnalysis],
) -> HypothesisResult:
    """The record of one hypothesis: the chosen estimate, the deciding test and verdict,
    every estimate, exclusions, subgroups, bounds for missing answers and for a later
    stage, and (for a score gap) the gap per arm."""
    h, pick, decides = a.hypothesis, a.chosen, a.deciding
    chosen = estimate_fields(pick)
    if not chosen["n_vacancies"]:
        chosen["n_vacancies"] = int(a.sample.frame["vacancy_id"].nunique())
        chosen["n_applications"] = len(a.sample.frame)
    # bounds rest on the same cells as the estimate: none where a cell is small
    bounds = manski_bounds(frame, plan, h)
    missing = withheld_bounds(a.withheld) if a.withheld and bounds else bounds
    later = later_stage(frame, plan, h, a.withheld)
    by_arm = (
        {"by_arm": ScoreGapByArm.model_validate(score_gap_by_arm(frame, plan, h))}
        if h.kind == "score_gap"
        else {}
    )
    return HypothesisResult(
        id=h.id,
        family=h.family,
        kind=h.kind,
        group=h.group,
        arm=plan.arm_of(h),
        stage=None if h.stage is None else Stage(from_=h.stage.from_, to=h.stage.to),
        score=h.score,
        alternative=h.alternative,
        description=h.description,
        criterion=Criterion(
            min_effect=threshold(h, decides.scale),
            rule=h.criterion.rule,
            margin=h.criterion.margin,
            text=criterion_text(h, decides.scale, plan.alpha),
        ),
        **chosen,
        decided_by=decides.estimator,
        decision=EstimateRecord.model_validate(estimate_fields(decides)),
        p_adjusted=p_adjusted,
        verdict=judged.verdict,
        harm=judged.harm,
        group_disadvantaged=_group_disadvantaged(h, decides, judged),
        criterion_tests=CriterionTests.model_validate(dict(judged.evidence)),
        min_effect_shown=_min_effect_shown(h, decides, judged, plan.alpha),
        disadvantage_not_ruled_out=_disadvantage_not_ruled_out(h, decides, judged),
        minimum_detectable_effect=minimum_detectable_effect(
            decides, h.alternative, family_level(plan, h)
        ),
        estimates={
            name: NamedEstimate.model_validate({**e.as_json(), "alternative": h.alternative})
            for name, e in a.estimates.items()
        },
        exclusions=[ExclusionRecord.model_validate(e.as_json()) for e in a.sample.exclusions],
        n_total_applications=a.sample.n_total,
        subgroups=subgroups,
        missing_data=None if missing is None else MissingDataBounds.model_validate(missing),
        later_stage=None if later is None else LaterStage.model_validate(later),
        **by_arm,
    )


def _min_effect_shown(h: Hypothesis, est: Estimate, judged: Judgement, alpha: float) -> bool | None:
    """Whether the adjusted test shows the effect beyond a min_effect other than no effect
    (None without one, or without the test)."""
    p = judged.evidence.get("min_effect")
    if p is None or threshold(h, est.scale) == NO_EFFECT[est.scale]:
        return None
    return p < alpha


def _group_disadvantaged(h: Hypothesis, est: Estimate, judged: Judgement) -> bool | None:
    """For a comparison of groups within one arm: whether its criterion is met with the
    focal group behind (a gap or score difference below zero, an impact ratio below one), so
    that the report shows a confirmed disadvantage as one, never as a success. None for a
    comparison between arms (``harm`` covers those)."""
    if h.kind in BETWEEN_ARMS:
        return None
    return (
        judged.verdict == "met" and est.estimate is not None and est.estimate < NO_EFFECT[est.scale]
    )


def _disadvantage_not_ruled_out(h: Hypothesis, est: Estimate, judged: Judgement) -> float | None:
    """For a one-sided hypothesis with a margin that is neither met nor shown within it: how
    far the interval reaches the harmful way from no effect (None when it does not)."""
    if (
        h.criterion.margin is None
        or h.alternative == "two-sided"
        or judged.verdict not in ("inconclusive", "not_met")
    ):
        return None
    bound = est.ci_low if h.alternative == "greater" else est.ci_high
    if bound is None:
        return None
    reach = (NO_EFFECT[est.scale] - bound) * (1 if h.alternative == "greater" else -1)
    return reach if reach > 0 else None


def later_stage(
    frame: pd.DataFrame, plan: AnalysisPlan, h: Hypothesis, withheld: str | None
) -> dict[str, Any] | None:
    """For a transition after the application: the comparison from the application and
    bounds among applicants who would reach the earlier stage in either arm (not published
    when the hypothesis' own table has a small cell: ``withheld`` says why)."""
    whole = unconditional(frame, plan, h)
    if whole is None:
        return None
    bounds = stratum_bounds(frame, plan, h)
    return {
        "from_application": estimate_fields(whole),
        "stratum_bounds": withheld_stratum_bounds(withheld) if withheld and bounds else bounds,
    }

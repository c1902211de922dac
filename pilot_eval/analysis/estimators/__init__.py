"""Estimators, found by the name the plan uses.

Each estimator is a function ``(sample, context) -> Estimate`` registered for the
hypothesis kinds it applies to. The analysis of a hypothesis looks estimators up in
:data:`REGISTRY`; it never branches on a method's name. An estimator that the plan format
knows but this version does not provide yields an explicit ``not_estimable`` entry, never a
silent gap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pilot_eval.analysis.results import Estimate, not_estimable
from pilot_eval.data.frame import ComparisonSample
from pilot_eval.plan.model import ESTIMATOR_SCALES, ESTIMATORS_BY_KIND, AnalysisPlan, Hypothesis


@dataclass(frozen=True)
class Context:
    """What an estimator needs besides the sample: the plan and the hypothesis."""

    plan: AnalysisPlan
    hypothesis: Hypothesis

    @property
    def alpha(self) -> float:
        """Significance level; confidence intervals have level 1 - alpha."""
        return self.plan.alpha


EstimatorFn = Callable[[ComparisonSample, Context], Estimate]

REGISTRY: dict[tuple[str, str], EstimatorFn] = {}
"""(kind, estimator name) -> implementation."""

SCALES = ESTIMATOR_SCALES


def register(name: str, *kinds: str) -> Callable[[EstimatorFn], EstimatorFn]:
    """Decorator: register ``fn`` as estimator ``name`` for the given hypothesis kinds."""

    def wrap(fn: EstimatorFn) -> EstimatorFn:
        for kind in kinds:
            if name not in ESTIMATORS_BY_KIND[kind]:
                raise ValueError(f"{name} is not declared for {kind} in ESTIMATORS_BY_KIND")
            REGISTRY[(kind, name)] = fn
        return fn

    return wrap


def estimate(name: str, sample: ComparisonSample, ctx: Context) -> Estimate:
    """Run estimator ``name`` on ``sample``; a missing implementation is not_estimable."""
    h = ctx.hypothesis
    fn = REGISTRY.get((h.kind, name))
    if fn is None:
        return not_estimable(
            name,
            SCALES[name],
            null_hypothesis(ctx),
            f"estimator '{name}' for {h.kind} is not available in this version of pilot-eval",
        )
    try:
        return fn(sample, ctx)
    except (ArithmeticError, np.linalg.LinAlgError) as exc:
        # a degenerate sample the estimator's own checks did not foresee: report, never crash
        return refuse(name, sample, ctx, f"numerical failure ({type(exc).__name__}: {exc})")


def small_cell(sample: ComparisonSample, ctx: Context) -> str | None:
    """Why no statistic may be published on ``sample``: a cell of its table (per arm, the
    focal and the reference group, and for a transition those who passed and those who did
    not) holds fewer than the plan's ``min_cell`` applications. An empty cell counts as small:
    'none of the group passed' discloses as much as 'three of them did'. None otherwise."""
    frame = sample.frame
    if len(frame) == 0 or "focal" not in frame.columns:
        return None
    smallest = ctx.plan.disclosure.min_cell
    transition = "success" in frame.columns
    for arm, table in sample.cells.totals_by(frame, "arm").items():
        cells = table if transition else table.sum(axis=1)
        if int(cells.min()) < smallest:
            return (
                f"a cell of the comparison in arm {arm} holds fewer than {smallest} "
                "applications (disclosure.min_cell): no statistic is published on it"
            )
    return None


def estimate_published(name: str, sample: ComparisonSample, ctx: Context) -> Estimate:
    """``estimate``, for a statistic that is published: refused when a cell of the sample is
    below the plan's minimum (``small_cell``). The design diagnosis, which publishes no
    statistic of the data, uses ``estimate``."""
    reason = small_cell(sample, ctx)
    if reason is not None:
        return refuse(name, sample, ctx, reason)
    return estimate(name, sample, ctx)


SM_ALTERNATIVE = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}
"""The plan's alternatives in statsmodels' words (scipy uses the plan's own)."""


def refuse(name: str, sample: ComparisonSample, ctx: Context, reason: str) -> Estimate:
    """A not_estimable result of estimator ``name`` on ``sample``, with the reason."""
    frame = sample.frame
    return not_estimable(
        name,
        SCALES[name],
        null_hypothesis(ctx),
        reason,
        n_vacancies=int(frame["vacancy_id"].nunique()) if len(frame) else 0,
        n_applications=len(frame),
    )


def null_hypothesis(ctx: Context) -> str:
    """The null hypothesis of a hypothesis in words (English; the report translates)."""
    h = ctx.hypothesis
    plan = ctx.plan
    g = plan.groups[h.group]
    focal, ref = "/".join(g.focal), "/".join(g.reference)
    arm = plan.arm_of(h)
    if h.kind == "pool_share":
        return (
            f"the share of {g.column} {focal} among applicants is the same in {arm} and "
            f"{plan.reference_arm} vacancies"
        )
    if h.kind == "score_gap":
        return f"mean {h.score} is the same for {g.column} {focal} and {ref} in {arm} vacancies"
    assert h.stage is not None  # guaranteed by check_references
    move = f"{h.stage.from_} -> {h.stage.to}"
    if h.kind == "stage_gap":
        return f"the {move} rate is the same for {g.column} {focal} and {ref} in {arm} vacancies"
    if h.kind == "gap_difference":
        return (
            f"the {move} gap between {g.column} {focal} and {ref} is the same in {arm} and "
            f"{plan.reference_arm} vacancies"
        )
    return f"the {move} rate of {g.column} {focal} equals that of {ref} in {arm} vacancies"


# The implementations register themselves on import; they need the names above.
from pilot_eval.analysis.estimators import (  # noqa: E402, F401
    clustered,
    contingency,
    linear,
    models,
    proportions,
    randomisation,
    scores,
)

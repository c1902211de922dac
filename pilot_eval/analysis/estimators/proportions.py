"""Raw (pooled) differences of proportions, ignoring vacancies.

``difference_pooled`` is the plain comparison a reader would compute from the totals:

* ``pool_share``: focal share among applicants with a known value, arm minus reference arm.
* ``stage_gap``: transition rate of the focal group minus that of the reference group.
* ``gap_difference``: the stage gap in the arm minus the stage gap in the reference arm.

For one difference the test is the two-sample z-test with pooled variance and the
interval is Newcombe's hybrid score interval without continuity correction (Newcombe
1998, method 10), both from statsmodels. For the difference of two gaps, the estimate is
the difference-in-differences of the four rates, with the unpooled Wald standard error
sqrt(sum p(1-p)/n) over the four independent cells, a z-test and a Wald interval.

Applications of one vacancy are not independent; this estimator ignores that and is
reported next to the model-based estimators, never instead of them.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from pilot_eval.analysis.estimators import (
    SCALES,
    SM_ALTERNATIVE,
    Context,
    null_hypothesis,
    refuse,
    register,
)
from pilot_eval.analysis.results import Estimate
from pilot_eval.data.frame import ComparisonSample


def p_value_z(z: float, alternative: str) -> float:
    """p-value of a standard-normal statistic for the stated alternative."""
    if alternative == "greater":
        return float(stats.norm.sf(z))
    if alternative == "less":
        return float(stats.norm.cdf(z))
    return float(2 * stats.norm.sf(abs(z)))


def _cells(
    sample: ComparisonSample, ctx: Context
) -> tuple[dict[str, int], dict[str, int], str, str]:
    """Success counts and totals by cell, and the names of the two compared cells."""
    h = ctx.hypothesis
    if h.kind == "pool_share":
        # the "success" of a pool share is being in the focal group
        by_arm = sample.cells.totals_by(sample.frame, "arm")
        return (
            {a: int(t[1].sum()) for a, t in by_arm.items()},
            {a: int(t.sum()) for a, t in by_arm.items()},
            ctx.plan.arm_of(h),
            ctx.plan.reference_arm,
        )
    a, n1, c, n0 = sample.cells.two_by_two()
    return (
        {"focal": a, "reference": c},
        {"focal": n1, "reference": n0},
        "focal",
        "reference",
    )


@register("difference_pooled", "pool_share", "stage_gap")
def difference_pooled(sample: ComparisonSample, ctx: Context) -> Estimate:
    """Difference of two proportions (first cell minus second) with z-test and Newcombe CI."""
    name = "difference_pooled"
    null = null_hypothesis(ctx)
    n_vac = sample.cells.n_vacancies
    n_app = len(sample.frame)
    counts, totals, first, second = _cells(sample, ctx)
    n1, n0 = int(totals.get(first, 0)), int(totals.get(second, 0))
    if n1 == 0 or n0 == 0:
        empty = first if n1 == 0 else second
        return refuse(name, sample, ctx, f"no applications in the {empty} cell")
    c1, c0 = int(counts.get(first, 0)), int(counts.get(second, 0))
    p1, p0 = c1 / n1, c0 / n0
    details = {"cells": {first: {"n": n1, "count": c1}, second: {"n": n0, "count": c0}}}
    if c1 + c0 in (0, n1 + n0):
        return refuse(
            name, sample, ctx, "no variation: every application in both cells has the same outcome"
        )
    alt = ctx.hypothesis.alternative
    z, p = proportions_ztest(
        np.array([c1, c0]), np.array([n1, n0]), alternative=SM_ALTERNATIVE[alt]
    )
    low, high = confint_proportions_2indep(
        c1, n1, c0, n0, method="newcomb", compare="diff", alpha=ctx.alpha, correction=False
    )
    se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    return Estimate(
        estimator=name,
        scale=SCALES[name],
        null_hypothesis=null,
        estimate=p1 - p0,
        std_error=se,
        ci_low=float(low),
        ci_high=float(high),
        statistic=float(z),
        statistic_name="z",
        p_value=float(p),
        n_vacancies=n_vac,
        n_applications=n_app,
        details=details,
    )


@register("difference_pooled", "gap_difference")
def difference_in_gaps_pooled(sample: ComparisonSample, ctx: Context) -> Estimate:
    """(focal - reference rate in the arm) - (focal - reference rate in the reference arm)."""
    name = "difference_pooled"
    null = null_hypothesis(ctx)
    n_vac = sample.cells.n_vacancies
    arm, ref = ctx.plan.arm_of(ctx.hypothesis), ctx.plan.reference_arm
    by_arm = sample.cells.totals_by(sample.frame, "arm")
    cells: dict[str, dict[str, int]] = {}
    for a in (arm, ref):
        for focal in (1, 0):
            label = f"{a}/{'focal' if focal else 'reference'}"
            t = by_arm.get(a, np.zeros((2, 2), dtype=np.int64))[focal]
            cells[label] = {"n": int(t.sum()), "count": int(t[1])}
    empty = [label for label, c in cells.items() if c["n"] == 0]
    if empty:
        return refuse(name, sample, ctx, f"no applications in cell(s) {', '.join(empty)}")
    rate = {label: c["count"] / c["n"] for label, c in cells.items()}
    variance = sum(rate[k] * (1 - rate[k]) / cells[k]["n"] for k in cells)
    if variance == 0:
        return refuse(name, sample, ctx, "no variation: every cell's rate is 0 or 1")
    est = (rate[f"{arm}/focal"] - rate[f"{arm}/reference"]) - (
        rate[f"{ref}/focal"] - rate[f"{ref}/reference"]
    )
    se = math.sqrt(variance)
    z = est / se
    q = float(stats.norm.ppf(1 - ctx.alpha / 2))
    return Estimate(
        estimator=name,
        scale=SCALES[name],
        null_hypothesis=null,
        estimate=est,
        std_error=se,
        ci_low=est - q * se,
        ci_high=est + q * se,
        statistic=z,
        statistic_name="z",
        p_value=p_value_z(z, ctx.hypothesis.alternative),
        n_vacancies=n_vac,
        n_applications=len(sample.frame),
        details={"cells": cells},
    )

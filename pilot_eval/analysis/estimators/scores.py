"""Standardised mean differences of a score column (score_gap).

``hedges_g``: Hedges' g, the difference in mean score (focal minus reference) divided by
the pooled standard deviation, with the small-sample correction J = 1 - 3/(4(n1+n2)-9),
from statsmodels ``effectsize_smd``; its variance, n/(n1 n2) + g^2 / (2 (n - 3.94))
(Hedges & Olkin 1985, ch. 5), gives a normal confidence interval. The test is Student's
two-sample t-test with pooled variance (the same pooled standard deviation as g).
Applications are treated as independent: scores of one vacancy share their assessors,
which this estimator ignores.

The estimate is for the hypothesis' arm (the sample holds only that arm); a plan compares
arms by declaring one score_gap per arm.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats
from statsmodels.stats.meta_analysis import effectsize_smd

from pilot_eval.analysis.estimators import SCALES, Context, null_hypothesis, refuse, register
from pilot_eval.analysis.results import Estimate
from pilot_eval.data.frame import ComparisonSample


def hedges_g(focal: np.ndarray, reference: np.ndarray) -> tuple[float, float] | None:
    """Hedges' g (focal minus reference) and its variance; None when undefined."""
    n1, n0 = len(focal), len(reference)
    if n1 < 2 or n0 < 2:
        return None
    s1, s0 = float(np.std(focal, ddof=1)), float(np.std(reference, ddof=1))
    if s1 == 0 and s0 == 0:
        return None
    g, var = effectsize_smd(float(np.mean(focal)), s1, n1, float(np.mean(reference)), s0, n0)
    return float(g), float(var)


@register("hedges_g", "score_gap")
def score_gap(sample: ComparisonSample, ctx: Context) -> Estimate:
    """Hedges' g of the plan's score column in the hypothesis' arm (see module docstring)."""
    name = "hedges_g"
    null = null_hypothesis(ctx)
    h, plan = ctx.hypothesis, ctx.plan
    if h.score is None:  # guaranteed by the plan's checks
        raise ValueError("score_gap needs a score column")
    in_arm = sample.frame[sample.frame["arm"] == plan.arm_of(h)]
    x1 = in_arm.loc[in_arm["focal"], h.score].to_numpy(dtype=np.float64)
    x0 = in_arm.loc[~in_arm["focal"], h.score].to_numpy(dtype=np.float64)
    n_vac, n_app = int(in_arm["vacancy_id"].nunique()), len(in_arm)
    result = hedges_g(x1, x0)
    if result is None:
        return refuse(
            name,
            sample,
            ctx,
            "fewer than two scored applications in a group, or no variation in scores",
        )
    g, var = result
    se = math.sqrt(var)
    q = float(stats.norm.ppf(1 - ctx.alpha / 2))
    test = stats.ttest_ind(x1, x0, equal_var=True, alternative=h.alternative)
    details: dict[str, object] = {"focal": _describe(x1), "reference": _describe(x0)}
    return Estimate(
        estimator=name,
        scale=SCALES[name],
        null_hypothesis=null,
        estimate=g,
        std_error=se,
        ci_low=g - q * se,
        ci_high=g + q * se,
        statistic=float(test.statistic),
        statistic_name="t",
        df=float(len(x1) + len(x0) - 2),
        p_value=float(test.pvalue),
        n_vacancies=n_vac,
        n_applications=n_app,
        details=details,
    )


def _describe(x: np.ndarray) -> dict[str, float | int]:
    return {"n": len(x), "mean": float(np.mean(x)), "sd": float(np.std(x, ddof=1))}

"""Cluster-aware counterparts of the pooled estimators, to decide verdicts.

The pooled difference, the impact ratio and Hedges' g treat the applications as
independent, but applications of one vacancy share a vacancy text, a committee and a
labour market: with about 90 applicants per vacancy and an intraclass correlation of a
few per cent, their tests reject a true null several times too often. The estimators
here estimate the same quantity and test it with CR2 standard errors, clustered by
vacancy, and Bell-McCaffrey degrees of freedom (:func:`pilot_eval.analysis.estimators.linear.
cluster_cr2`), from the regression of the outcome on two group indicators (the two
group means):

* ``difference_pooled_cr2`` (stage_gap): the pooled rate of the focal group minus that of
  the reference group, the estimate of ``difference_pooled``.
* ``impact_ratio_cr2`` (impact_ratio): the ratio of the two pooled rates, the estimate of
  ``impact_ratio``; its log has the delta-method standard error from the CR2 covariance of
  the two rates, with the Bell-McCaffrey degrees of freedom of that contrast.
* ``hedges_g_cr2`` (score_gap): Hedges' g, the estimate of ``hedges_g``; the test is the
  CR2 t test of the difference in mean score, and the interval is that of the mean
  difference scaled by the same factor as g (J / pooled SD), treating the pooled standard
  deviation as known: with hundreds of scores its own uncertainty is small next to the
  clustering.

Reference values: R estimatr::lm_robust(se_type = "CR2") in tests/reference/cr2_small.R.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from pilot_eval.analysis.estimators import SCALES, Context, null_hypothesis, refuse, register
from pilot_eval.analysis.estimators.linear import Cr2Fit, FloatArray, cluster_cr2, t_inference
from pilot_eval.analysis.estimators.scores import hedges_g
from pilot_eval.analysis.results import Estimate
from pilot_eval.data.frame import ComparisonSample
from pilot_eval.errors import EstimationError


def _two_means(
    y: FloatArray, focal: FloatArray, clusters: np.ndarray, n_clusters: int, weights: FloatArray
) -> Cr2Fit:
    """CR2 fit of ``y`` on the focal and reference indicators: coef = (mean_f, mean_r)."""
    x = np.column_stack([focal, 1.0 - focal])
    return cluster_cr2(y, x, clusters.astype(np.intp), n_clusters, weights=weights)


def _p_value_t(t: float, df: float, alternative: str) -> float:
    if alternative == "greater":
        return float(stats.t.sf(t, df))
    if alternative == "less":
        return float(stats.t.cdf(t, df))
    return float(2 * stats.t.sf(abs(t), df))


def _estimate(
    name: str,
    sample: ComparisonSample,
    ctx: Context,
    *,
    estimate: float,
    std_error: float,
    ci: tuple[float, float],
    statistic: float,
    df: float,
    p_value: float,
    n_vacancies: int,
    n_applications: int,
    details: dict[str, object],
) -> Estimate:
    return Estimate(
        estimator=name,
        scale=SCALES[name],
        null_hypothesis=null_hypothesis(ctx),
        estimate=estimate,
        std_error=std_error,
        ci_low=ci[0],
        ci_high=ci[1],
        statistic=statistic,
        statistic_name="t",
        df=df,
        p_value=p_value,
        n_vacancies=n_vacancies,
        n_applications=n_applications,
        details={
            "variance": "CR2",
            "df_method": "Bell-McCaffrey",
            "clusters": "vacancy_id",
            **details,
        },
    )


def _rates_fit(name: str, sample: ComparisonSample, ctx: Context) -> Cr2Fit | Estimate:
    """The CR2 fit of the two pooled rates of a stage, or the reason it cannot be made."""
    cells = sample.cells
    clusters, focal, y, count, _ = cells.rows()
    n1 = float(count[focal == 1].sum())
    n0 = float(count[focal == 0].sum())
    if n1 == 0 or n0 == 0:
        which = "focal" if n1 == 0 else "reference"
        return refuse(name, sample, ctx, f"no {which} applications at this stage")
    if cells.n_vacancies < 2:
        return refuse(name, sample, ctx, "fewer than two vacancies: clustered errors need two")
    try:
        return _two_means(y, focal, clusters, cells.n_vacancies, count)
    except EstimationError as exc:
        return refuse(name, sample, ctx, exc.message)


@register("difference_pooled_cr2", "stage_gap")
def difference_pooled_cr2(sample: ComparisonSample, ctx: Context) -> Estimate:
    """Pooled focal rate minus reference rate, CR2 t test (see module docstring)."""
    name = "difference_pooled_cr2"
    fit = _rates_fit(name, sample, ctx)
    if isinstance(fit, Estimate):
        return fit
    contrast = np.array([1.0, -1.0])
    est = float(contrast @ fit.coef)
    se = math.sqrt(max(float(contrast @ fit.vcov @ contrast), 0.0))
    if se == 0:
        return refuse(name, sample, ctx, "no variation: the standard error is zero")
    df = fit.df(contrast)
    t, p, low, high = t_inference(est, se, df, ctx.hypothesis.alternative, ctx.alpha)
    return _estimate(
        name,
        sample,
        ctx,
        estimate=est,
        std_error=se,
        ci=(low, high),
        statistic=t,
        df=df,
        p_value=p,
        n_vacancies=sample.cells.n_vacancies,
        n_applications=len(sample.frame),
        details={"rates": {"focal": float(fit.coef[0]), "reference": float(fit.coef[1])}},
    )


@register("impact_ratio_cr2", "impact_ratio")
def impact_ratio_cr2(sample: ComparisonSample, ctx: Context) -> Estimate:
    """Focal / reference rate; CR2 delta-method t test of its log (see module docstring)."""
    name = "impact_ratio_cr2"
    fit = _rates_fit(name, sample, ctx)
    if isinstance(fit, Estimate):
        return fit
    p1, p0 = float(fit.coef[0]), float(fit.coef[1])
    if p0 <= 0:
        return refuse(name, sample, ctx, "no reference applicant passed: the ratio is undefined")
    if p1 <= 0:
        return refuse(
            name, sample, ctx, "no focal applicant passed: the ratio is 0 and its log undefined"
        )
    gradient = np.array([1 / p1, -1 / p0])  # of log(p1 / p0)
    se_log = math.sqrt(max(float(gradient @ fit.vcov @ gradient), 0.0))
    if se_log == 0:
        return refuse(name, sample, ctx, "no variation: the standard error is zero")
    df = fit.df(gradient)
    log_ratio = math.log(p1 / p0)
    t = log_ratio / se_log
    q = float(stats.t.ppf(1 - ctx.alpha / 2, df))
    return _estimate(
        name,
        sample,
        ctx,
        estimate=p1 / p0,
        std_error=se_log,
        ci=(math.exp(log_ratio - q * se_log), math.exp(log_ratio + q * se_log)),
        statistic=t,
        df=df,
        p_value=_p_value_t(t, df, ctx.hypothesis.alternative),
        n_vacancies=sample.cells.n_vacancies,
        n_applications=len(sample.frame),
        details={
            "std_error_scale": "log ratio",
            "rates": {"focal": p1, "reference": p0},
            "four_fifths_flag": p1 / p0 < 0.8,
        },
    )


@register("hedges_g_cr2", "score_gap")
def hedges_g_cr2(sample: ComparisonSample, ctx: Context) -> Estimate:
    """Hedges' g with the CR2 t test of the mean difference (see module docstring)."""
    name = "hedges_g_cr2"
    h, plan = ctx.hypothesis, ctx.plan
    if h.score is None:  # guaranteed by the plan's checks
        raise ValueError("score_gap needs a score column")
    in_arm = sample.frame[sample.frame["arm"] == plan.arm_of(h)]
    scores = in_arm[h.score].to_numpy(dtype=np.float64)
    focal = in_arm["focal"].to_numpy(dtype=bool)
    result = hedges_g(scores[focal], scores[~focal])
    if result is None:
        return refuse(
            name,
            sample,
            ctx,
            "fewer than two scored applications in a group, or no variation in scores",
        )
    vacancies, clusters = np.unique(in_arm["vacancy_id"].to_numpy(), return_inverse=True)
    n_vac = len(vacancies)
    if n_vac < 2:
        return refuse(name, sample, ctx, "fewer than two vacancies: clustered errors need two")
    try:
        fit = _two_means(scores, focal.astype(np.float64), clusters, n_vac, np.ones(len(scores)))
    except EstimationError as exc:
        return refuse(name, sample, ctx, exc.message)
    contrast = np.array([1.0, -1.0])
    diff = float(contrast @ fit.coef)
    se = math.sqrt(max(float(contrast @ fit.vcov @ contrast), 0.0))
    if se == 0:
        return refuse(name, sample, ctx, "no variation: the standard error is zero")
    factor = _hedges_factor(scores[focal], scores[~focal])
    df = fit.df(contrast)
    t, p, low, high = t_inference(diff, se, df, h.alternative, ctx.alpha)
    return _estimate(
        name,
        sample,
        ctx,
        estimate=result[0],
        std_error=factor * se,
        ci=(factor * low, factor * high),
        statistic=t,
        df=df,
        p_value=p,
        n_vacancies=n_vac,
        n_applications=len(in_arm),
        details={"mean_difference": diff, "mean_difference_se": se},
    )


def _hedges_factor(focal: FloatArray, reference: FloatArray) -> float:
    """J / pooled SD: Hedges' g is this factor times the difference in means."""
    n1, n0 = len(focal), len(reference)
    pooled = ((n1 - 1) * np.var(focal, ddof=1) + (n0 - 1) * np.var(reference, ddof=1)) / (
        n1 + n0 - 2
    )
    return float((1 - 3 / (4 * (n1 + n0) - 9)) / math.sqrt(pooled))

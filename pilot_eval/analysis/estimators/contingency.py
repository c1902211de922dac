"""Estimators on 2x2 tables: Mantel-Haenszel across vacancies, and the impact ratio.

``mantel_haenszel`` (stage_gap): the common odds ratio of reaching the next stage, focal vs
reference, across vacancies (one 2x2 table per vacancy), with the Robins, Breslow &
Greenland (1986) confidence interval, the Mantel-Haenszel test without continuity
correction (one-sided tests use the signed statistic, as R's ``mantelhaen.test``), and the
Breslow-Day test of equal odds ratios across vacancies (Tarone's adjustment), all from
statsmodels ``StratifiedTable``.

The impact ratio (impact_ratio kind) is the focal transition rate divided by the
reference rate, pooled over the vacancies of the arm:

* ``impact_ratio``: the ratio with Katz's log interval (Katz et al. 1978) and the Wald test
  of log ratio = 0; details carry the four-fifths flag (ratio < 0.8) and the shortfall,
  the number of additional focal applicants who would have passed at the reference rate;
* ``fisher_exact``: the same ratio with Fisher's exact test of the 2x2 table;
* ``z_test``: the same ratio with the two-proportion z-test (pooled variance).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats
from statsmodels.stats.contingency_tables import StratifiedTable
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from pilot_eval.analysis.estimators import (
    SCALES,
    SM_ALTERNATIVE,
    Context,
    null_hypothesis,
    refuse,
    register,
)
from pilot_eval.analysis.estimators.proportions import p_value_z
from pilot_eval.analysis.results import Estimate, not_estimable
from pilot_eval.data.frame import ComparisonSample


def vacancy_tables(sample: ComparisonSample) -> np.ndarray:
    """One 2x2 table per vacancy: rows focal/reference, columns success/failure.

    Vacancies with applications of only one group carry no information on the odds ratio
    and are left out; returns shape (2, 2, K). Read from the sample's cell counts.
    """
    arr = sample.cells.count[:, ::-1, ::-1]  # [vacancy, focal first, success first]
    both = (arr[:, 0, :].sum(axis=1) > 0) & (arr[:, 1, :].sum(axis=1) > 0)
    return np.transpose(arr[both], (1, 2, 0)).astype(np.float64)


@register("mantel_haenszel", "stage_gap")
def mantel_haenszel(sample: ComparisonSample, ctx: Context) -> Estimate:
    """Common odds ratio focal vs reference across vacancies (see module docstring)."""
    name = "mantel_haenszel"
    null = null_hypothesis(ctx)
    n_vac, n_app = sample.cells.n_vacancies, len(sample.frame)
    tables = vacancy_tables(sample)
    k = tables.shape[2]

    def refuse(reason: str) -> Estimate:
        return not_estimable(name, SCALES[name], null, reason, n_vac, n_app)

    if k == 0:
        return refuse("no vacancy has applications of both groups at this stage")
    # R * S sums of the Mantel-Haenszel estimator; zero means the odds ratio is 0 or infinite
    n = tables.sum(axis=(0, 1))
    r_sum = float(np.sum(tables[0, 0] * tables[1, 1] / n))
    s_sum = float(np.sum(tables[0, 1] * tables[1, 0] / n))
    if r_sum == 0 or s_sum == 0:
        return refuse("the common odds ratio is 0 or infinite: one group never or always passes")
    st = StratifiedTable(tables)
    odds = float(st.oddsratio_pooled)
    low, high = st.oddsratio_pooled_confint(alpha=ctx.alpha)
    # signed MH statistic: (sum a - sum E[a]) / sqrt(sum Var[a]), as in R's mantelhaen.test
    a = tables[0, 0]
    row1, col1 = tables[0].sum(axis=0), tables[:, 0].sum(axis=0)
    row2, col2 = tables[1].sum(axis=0), tables[:, 1].sum(axis=0)
    expected = row1 * col1 / n
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.where(n > 1, row1 * row2 * col1 * col2 / (n**2 * (n - 1)), 0.0)
    if float(var.sum()) <= 0:
        return refuse("no variation within vacancies: every table has a fixed outcome")
    z = float((a.sum() - expected.sum()) / math.sqrt(var.sum()))
    with warnings.catch_warnings():
        # tables with a zero cell make statsmodels divide by zero in Breslow-Day terms
        warnings.simplefilter("ignore", RuntimeWarning)
        bd = st.test_equal_odds(adjust=True)
    bd_stat, bd_p = float(bd.statistic), float(bd.pvalue)
    return Estimate(
        estimator=name,
        scale=SCALES[name],
        null_hypothesis=null,
        estimate=odds,
        std_error=float(st.logodds_pooled_se),
        ci_low=float(low),
        ci_high=float(high),
        statistic=z * z,
        statistic_name="chi2",
        df=1.0,
        p_value=p_value_z(z, ctx.hypothesis.alternative),
        n_vacancies=n_vac,
        n_applications=n_app,
        details={
            "informative_vacancies": k,
            "std_error_scale": "log odds ratio",
            "breslow_day": {
                "statistic": bd_stat if math.isfinite(bd_stat) else None,
                "df": k - 1,
                "p_value": bd_p if math.isfinite(bd_p) else None,
                "null_hypothesis": "the odds ratio is the same in every vacancy",
            },
        },
    )


def _ratio_or_refuse(
    name: str, sample: ComparisonSample, ctx: Context
) -> tuple[tuple[int, int, int, int], float, dict[str, object]] | Estimate:
    a, n1, c, n0 = sample.cells.two_by_two()
    if n1 == 0 or n0 == 0:
        which = "focal" if n1 == 0 else "reference"
        return refuse(name, sample, ctx, f"no {which} applications at this stage")
    if c == 0:
        return refuse(name, sample, ctx, "no reference applicant passed: the ratio is undefined")
    ratio = (a / n1) / (c / n0)
    shortfall = n1 * c / n0 - a
    details: dict[str, object] = {
        "focal": {"n": n1, "passed": a, "rate": a / n1},
        "reference": {"n": n0, "passed": c, "rate": c / n0},
        "four_fifths_flag": ratio < 0.8,
        "shortfall": max(0.0, shortfall),
    }
    return (a, n1, c, n0), ratio, details


def _ratio_estimate(
    name: str,
    sample: ComparisonSample,
    ctx: Context,
    ratio: float,
    details: dict[str, object],
    *,
    p_value: float,
    std_error: float | None = None,
    ci: tuple[float, float] | None = None,
    statistic: float | None = None,
) -> Estimate:
    return Estimate(
        estimator=name,
        scale=SCALES[name],
        null_hypothesis=null_hypothesis(ctx),
        estimate=ratio,
        std_error=std_error,
        ci_low=None if ci is None else ci[0],
        ci_high=None if ci is None else ci[1],
        statistic=statistic,
        statistic_name=None if statistic is None else "z",
        p_value=p_value,
        n_vacancies=sample.cells.n_vacancies,
        n_applications=len(sample.frame),
        details=details,
    )


@register("impact_ratio", "impact_ratio")
def impact_ratio(sample: ComparisonSample, ctx: Context) -> Estimate:
    """Focal / reference rate with Katz's log interval and the Wald test of log ratio."""
    name = "impact_ratio"
    got = _ratio_or_refuse(name, sample, ctx)
    if isinstance(got, Estimate):
        return got
    (a, n1, c, n0), ratio, details = got
    if a == 0:
        return refuse(
            name,
            sample,
            ctx,
            "no focal applicant passed: the ratio is 0 and its log interval undefined",
        )
    se_log = math.sqrt(1 / a - 1 / n1 + 1 / c - 1 / n0)
    if se_log == 0:
        return refuse(name, sample, ctx, "no variation: every application passed")
    low, high = confint_proportions_2indep(
        a, n1, c, n0, method="log", compare="ratio", alpha=ctx.alpha
    )
    z = math.log(ratio) / se_log
    return _ratio_estimate(
        name,
        sample,
        ctx,
        ratio,
        {**details, "std_error_scale": "log ratio"},
        std_error=se_log,
        ci=(float(low), float(high)),
        statistic=z,
        p_value=p_value_z(z, ctx.hypothesis.alternative),
    )


@register("fisher_exact", "impact_ratio")
def fisher_exact(sample: ComparisonSample, ctx: Context) -> Estimate:
    """The impact ratio with Fisher's exact test (no interval of its own)."""
    name = "fisher_exact"
    got = _ratio_or_refuse(name, sample, ctx)
    if isinstance(got, Estimate):
        return got
    (a, n1, c, n0), ratio, details = got
    result = stats.fisher_exact([[a, n1 - a], [c, n0 - c]], alternative=ctx.hypothesis.alternative)
    return _ratio_estimate(
        name,
        sample,
        ctx,
        ratio,
        {**details, "sample_odds_ratio": float(result.statistic)},
        p_value=float(result.pvalue),
    )


@register("z_test", "impact_ratio")
def z_test(sample: ComparisonSample, ctx: Context) -> Estimate:
    """The impact ratio with the two-proportion z-test (pooled variance)."""
    name = "z_test"
    got = _ratio_or_refuse(name, sample, ctx)
    if isinstance(got, Estimate):
        return got
    (a, n1, c, n0), ratio, details = got
    if a + c == n1 + n0:
        return refuse(name, sample, ctx, "no variation: every application passed")
    z, p = proportions_ztest(
        np.array([a, c]),
        np.array([n1, n0]),
        alternative=SM_ALTERNATIVE[ctx.hypothesis.alternative],
    )
    return _ratio_estimate(
        name,
        sample,
        ctx,
        ratio,
        details,
        statistic=float(z),
        p_value=float(p),
    )

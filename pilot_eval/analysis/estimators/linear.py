"""Linear probability models with fixed effects and vacancy-clustered standard errors.

``lpm_fe`` for the three proportion kinds:

* ``stage_gap``: ``success ~ focal | vacancy``; the estimate is the coefficient of focal,
  the within-vacancy gap (focal minus reference) in the transition rate.
* ``gap_difference``: ``success ~ focal + focal:arm | vacancy``; the estimate is the
  interaction, how much the within-vacancy gap differs between the arm and the reference
  arm (the arm itself is constant within a vacancy and absorbed by its fixed effect).
* ``pool_share``: ``focal ~ arm + adjust_for | block``; the share varies between vacancies,
  so fixed effects are the plan's blocks (when declared), with the plan's ``adjust_for``
  columns as covariates (text and boolean columns as indicators, numbers linearly). With
  block fixed effects the standard errors are clustered by block: clustering vacancies
  within small blocks understates the variance (by a third for blocks of three), because
  the block effects use up degrees of freedom at the level of the clusters (de Chaisemartin
  & Ramirez-Cuellar 2024, "At what level should one cluster standard errors in paired and
  small-strata experiments?"); the Monte Carlo tests show the coverage either way.

Otherwise standard errors are clustered by vacancy, CR1 as the contract defines it:
``V = G/(G-1) * (N-1)/(N-K) * (X'X)^-1 (sum_g s_g s_g') (X'X)^-1`` with ``s_g`` the score
sum of cluster g and K the number of estimated coefficients plus fixed effects that are
not nested in the clusters (vacancy effects are nested and do not count; block effects
are not nested and do). This is Stata's ``xtreg, fe vce(cluster)`` and fixest's default.
Tests use t with G - 1 degrees of freedom (Cameron & Miller 2015, section VI.C).

The fits use the within transformation on per-vacancy sums, exact and linear in the
number of applications; they are tested against statsmodels OLS with dummy variables and
against R (sandwich::vcovCL, estimatr::lm_robust).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from pilot_eval.analysis.estimators import SCALES, Context, null_hypothesis, register
from pilot_eval.analysis.results import Estimate, not_estimable
from pilot_eval.data.frame import ComparisonSample
from pilot_eval.errors import EstimationError
from pilot_eval.plan.model import Hypothesis

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

_RANK_TOLERANCE = 1e-10


@dataclass(frozen=True)
class ClusterFit:
    """Coefficients and CR1 covariance of a least-squares fit with clustered errors.

    Attributes
    ----------
    coef:
        Coefficients, shape (k,).
    vcov:
        CR1 covariance, shape (k, k).
    n_obs, n_clusters, k:
        N, G and K of the small-sample factor.
    """

    coef: FloatArray
    vcov: FloatArray
    n_obs: int
    n_clusters: int
    k: int

    @property
    def df(self) -> int:
        """Degrees of freedom of the t tests: G - 1."""
        return self.n_clusters - 1


def demean(values: FloatArray, groups: IntArray, n_groups: int, weights: FloatArray) -> FloatArray:
    """Subtract the (weighted) group mean from each column of ``values``.

    Parameters
    ----------
    values:
        Shape (n,) or (n, k).
    groups:
        Integer codes 0..n_groups-1, shape (n,).
    weights:
        Non-negative weights, shape (n,).
    """
    two_d = values.reshape(len(values), -1)
    total_w = np.bincount(groups, weights=weights, minlength=n_groups)
    out = np.empty_like(two_d, dtype=np.float64)
    for j in range(two_d.shape[1]):
        sums = np.bincount(groups, weights=weights * two_d[:, j], minlength=n_groups)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(total_w > 0, sums / np.where(total_w > 0, total_w, 1), 0.0)
        out[:, j] = two_d[:, j] - means[groups]
    return out.reshape(values.shape)


def cluster_ols(
    y: FloatArray,
    x: FloatArray,
    clusters: IntArray,
    n_clusters: int,
    extra_k: int,
    weights: FloatArray | None = None,
    n_obs: int | None = None,
) -> ClusterFit:
    """(Weighted) least squares of ``y`` on ``x`` (already demeaned) with CR1 covariance.

    Parameters
    ----------
    y, x:
        Shapes (n,) and (n, k); fixed effects already partialled out.
    clusters:
        Cluster code per row, 0..n_clusters-1.
    extra_k:
        Fixed effects absorbed that are not nested in the clusters (they count in K).
    weights:
        Weights of the rows, or None for equal weights.
    n_obs:
        N of the small-sample factor; default the sum of the weights (frequency weights:
        a row standing for ``w`` identical observations). Give the number of applications
        when the weights are analysis weights (reweighting) rather than counts.

    Notes
    -----
    With frequency weights, N is the sum of the weights: the fit equals the fit on the
    expanded data, which is how vacancy-level aggregates reproduce application-level fits.
    """
    w = np.ones(len(y)) if weights is None else weights
    n_obs = round(float(w.sum())) if n_obs is None else n_obs
    k = x.shape[1] + extra_k
    if n_obs <= k:
        raise EstimationError(
            f"too few applications ({n_obs}) for the {k} coefficients and fixed effects"
        )
    xw = x * w[:, None]
    xtx = x.T @ xw
    try:
        bread = np.linalg.inv(xtx)
    except np.linalg.LinAlgError:
        raise EstimationError("the regressors are collinear") from None
    coef = bread @ (xw.T @ y)
    resid = y - x @ coef
    scores = np.column_stack(
        [
            np.bincount(clusters, weights=xw[:, j] * resid, minlength=n_clusters)
            for j in range(x.shape[1])
        ]
    )
    meat = scores.T @ scores
    factor = n_clusters / (n_clusters - 1) * (n_obs - 1) / (n_obs - k)
    return ClusterFit(
        coef=coef,
        vcov=factor * bread @ meat @ bread,
        n_obs=n_obs,
        n_clusters=n_clusters,
        k=k,
    )


@dataclass(frozen=True)
class Cr2Fit:
    """Coefficients, CR2 covariance and what Bell-McCaffrey degrees of freedom need.

    Attributes
    ----------
    coef:
        Coefficients, shape (k,).
    vcov:
        CR2 covariance (Bell & McCaffrey 2002), shape (k, k): no small-sample factor.
    n_obs, n_clusters, k:
        N, G and the number of coefficients.
    root:
        ``M^(1/2)`` with ``M = (X'WX)^-1``, shape (k, k).
    c_f, c_f2:
        ``C_g f(C_g)`` and ``C_g f(C_g)^2`` per cluster, shape (G, k, k) (see
        :func:`cluster_cr2`).
    """

    coef: FloatArray
    vcov: FloatArray
    n_obs: int
    n_clusters: int
    k: int
    root: FloatArray
    c_f: FloatArray
    c_f2: FloatArray

    def df(self, contrast: FloatArray) -> float:
        """Bell-McCaffrey degrees of freedom of the t test of ``contrast' coef``."""
        mc = self.root @ contrast
        d = np.einsum("i,gij,j->g", mc, self.c_f2, mc)
        q = np.einsum("gij,j->gi", self.c_f, mc)
        q2 = np.einsum("gi,gi->g", q, q)
        trace = float(d.sum() - q2.sum())
        trace_sq = float(d @ d - 2 * d @ q2 + np.sum((q.T @ q) ** 2))
        return trace**2 / trace_sq if trace_sq > 0 else float("nan")

    @property
    def dfs(self) -> FloatArray:
        """Bell-McCaffrey degrees of freedom of each coefficient's t test."""
        return np.array([self.df(unit) for unit in np.eye(self.k)])


def _sym_power(m: FloatArray, power: float) -> FloatArray:
    """``m ** power`` of a symmetric positive semi-definite matrix (0 ** p = 0)."""
    values, vectors = np.linalg.eigh(m)
    scale = max(float(values.max(initial=0.0)), 1.0)
    kept = values > _RANK_TOLERANCE * scale
    powered = np.where(kept, np.where(kept, values, 1.0) ** power, 0.0)
    return np.asarray((vectors * powered) @ vectors.T, dtype=np.float64)


def cluster_cr2(
    y: FloatArray,
    x: FloatArray,
    clusters: IntArray,
    n_clusters: int,
    weights: FloatArray | None = None,
    n_obs: int | None = None,
) -> Cr2Fit:
    """(Weighted) least squares with CR2 covariance and Bell-McCaffrey degrees of freedom.

    Parameters
    ----------
    y, x:
        Shapes (n,) and (n, k). Fixed effects may be partialled out beforehand only when
        they are nested in the clusters (vacancy effects with vacancy clusters, block
        effects with block clusters); an intercept must then be a column of ``x``.
    clusters:
        Cluster code per row, 0..n_clusters-1.
    weights:
        Weights of the rows (frequency weights of cells, times analysis weights), or None.
    n_obs:
        Number of applications, reported only.

    Notes
    -----
    With ``H`` the hat matrix of the (weighted) fit including the nested fixed effects,
    CR2 replaces the residuals ``e_g`` of cluster g by ``(I - H_gg)^(-1/2) e_g`` (a
    pseudo-inverse where a cluster is fitted exactly), Bell & McCaffrey (2002),
    Pustejovsky & Tipton (2018). With ``M = (X'WX)^-1`` and ``C_g = M^(1/2) X_g'W_g X_g
    M^(1/2)``, ``X_g'W_g (I - H_gg)^(-1/2) e_g = M^(-1/2) (I - C_g)^(-1/2) M^(1/2) X_g'W_g
    e_g``, so only k x k matrices per cluster are needed; a row may stand for several
    identical applications (the cells of a sample). Nested fixed effects drop out because
    the within-transformed regressors and residuals are orthogonal to them in each
    cluster. The degrees of freedom of coefficient j are Bell and McCaffrey's
    ``(tr Omega)^2 / tr(Omega^2)`` with ``Omega = G'G`` under the working model of
    independent homoskedastic errors (Imbens & Kolesar 2016, section 4), computed from
    the same k x k matrices: ``Omega = diag(d) - Q Q'`` with ``d_g = c'M^(1/2) C_g
    f(C_g)^2 M^(1/2) c``, ``q_g = C_g f(C_g) M^(1/2) c`` and ``f(C) = (I - C)^(-1/2)``.
    Tested against R estimatr::lm_robust(se_type = "CR2").
    """
    w = np.ones(len(y)) if weights is None else weights
    n_obs = round(float(w.sum())) if n_obs is None else n_obs
    k = x.shape[1]
    xw = x * w[:, None]
    try:
        bread: FloatArray = np.asarray(np.linalg.inv(x.T @ xw), dtype=np.float64)
    except np.linalg.LinAlgError:
        raise EstimationError("the regressors are collinear") from None
    coef = bread @ (xw.T @ y)
    resid = y - x @ coef
    root = _sym_power(bread, 0.5)
    root_inv = _sym_power(bread, -0.5)
    scores = np.zeros((n_clusters, k))
    adjusted = np.zeros((n_clusters, k))
    # per cluster: C_g and f(C_g) C_g on the eigenbasis of C_g
    c_f = np.zeros((n_clusters, k, k))
    c_f2 = np.zeros((n_clusters, k, k))
    order = np.argsort(clusters, kind="stable")
    bounds = np.searchsorted(clusters[order], np.arange(n_clusters + 1))
    for g in range(n_clusters):
        rows = order[bounds[g] : bounds[g + 1]]
        xg, xwg = x[rows], xw[rows]
        scores[g] = xwg.T @ resid[rows]
        cg = root @ (xg.T @ xwg) @ root
        values, vectors = np.linalg.eigh((cg + cg.T) / 2)
        values = np.clip(values, 0.0, None)
        exact = values >= 1 - _RANK_TOLERANCE  # a cluster fitted exactly: pseudo-inverse
        f = np.where(exact, 0.0, 1 / np.sqrt(np.where(exact, 0.5, 1 - values)))
        # (I - C)^(-1/2) = I + V (f - 1) V' acting on the score
        adjusted[g] = root_inv @ (
            root @ scores[g] + vectors @ ((f - 1) * (vectors.T @ (root @ scores[g])))
        )
        c_f[g] = (vectors * (values * f)) @ vectors.T
        c_f2[g] = (vectors * (values * f**2)) @ vectors.T
    vcov = bread @ (adjusted.T @ adjusted) @ bread
    return Cr2Fit(
        coef=coef,
        vcov=vcov,
        n_obs=n_obs,
        n_clusters=n_clusters,
        k=k,
        root=root,
        c_f=c_f,
        c_f2=c_f2,
    )


def t_inference(
    est: float, se: float, df: float, alternative: str, alpha: float
) -> tuple[float, float, float, float]:
    """t statistic, p-value for the alternative, and the two-sided 1 - alpha interval."""
    t = est / se
    if alternative == "greater":
        p = float(stats.t.sf(t, df))
    elif alternative == "less":
        p = float(stats.t.cdf(t, df))
    else:
        p = float(2 * stats.t.sf(abs(t), df))
    q = float(stats.t.ppf(1 - alpha / 2, df))
    return t, p, est - q * se, est + q * se


def _codes(values: pd.Series) -> tuple[IntArray, int]:
    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype(np.intp), len(uniques)


def _result(
    name: str,
    ctx: Context,
    fit: ClusterFit | Cr2Fit,
    index: int,
    n_vacancies: int,
    n_applications: int,
    details: dict[str, object],
) -> Estimate:
    est = float(fit.coef[index])
    se = float(np.sqrt(fit.vcov[index, index]))
    if not np.isfinite(se) or se <= 0:
        return _refuse(
            name,
            ctx,
            "the standard error is zero: the model fits these few applications exactly",
            n_vacancies,
            n_applications,
        )
    if isinstance(fit, Cr2Fit):
        df = fit.df(np.eye(fit.k)[index])
        extra: dict[str, object] = {"variance": "CR2", "df_method": "Bell-McCaffrey"}
    else:
        df, extra = float(fit.df), {"variance": "CR1", "df_method": "G-1"}
    if not np.isfinite(df) or df <= 0:
        return _refuse(
            name,
            ctx,
            "the degrees of freedom are not defined for this design",
            n_vacancies,
            n_applications,
        )
    t, p, low, high = t_inference(est, se, df, ctx.hypothesis.alternative, ctx.alpha)
    return Estimate(
        estimator=name,
        scale=SCALES[name],
        null_hypothesis=null_hypothesis(ctx),
        estimate=est,
        std_error=se,
        ci_low=low,
        ci_high=high,
        statistic=t,
        statistic_name="t",
        df=df,
        p_value=p,
        n_vacancies=n_vacancies,
        n_applications=n_applications,
        details={"N": fit.n_obs, "G": fit.n_clusters, "K": fit.k, **extra, **details},
    )


def _refuse(name: str, ctx: Context, reason: str, n_vac: int, n_app: int) -> Estimate:
    return not_estimable(
        name,
        SCALES[name],
        null_hypothesis(ctx),
        reason,
        n_vacancies=n_vac,
        n_applications=n_app,
    )


@register("lpm_fe", "stage_gap", "gap_difference")
def lpm_vacancy_fe(sample: ComparisonSample, ctx: Context) -> Estimate:
    """Within-vacancy gap with CR1 standard errors and t(G - 1): see :func:`_vacancy_fe`."""
    return _vacancy_fe("lpm_fe", sample, ctx)


@register("lpm_cr2", "stage_gap", "gap_difference")
def lpm_vacancy_cr2(sample: ComparisonSample, ctx: Context) -> Estimate:
    """Within-vacancy gap with CR2 standard errors and Bell-McCaffrey degrees of freedom."""
    return _vacancy_fe("lpm_cr2", sample, ctx)


def _vacancy_fe(name: str, sample: ComparisonSample, ctx: Context) -> Estimate:
    """Within-vacancy gap (stage_gap) or difference of gaps between arms (gap_difference).

    Every regressor and the outcome are constant within a cell vacancy x focal x success,
    so the fit runs on the sample's cells (``ComparisonSample.cells``) with their weight
    sums as frequency weights and N the number of applications: the fit on the
    applications, at the cost of at most four rows per vacancy.
    """
    frame, cells = sample.frame, sample.cells
    n_app, n_vac = len(frame), cells.n_vacancies
    if n_vac < 2:
        return _refuse(
            name, ctx, "fewer than two vacancies: clustered standard errors need two", n_vac, n_app
        )
    clusters, focal, y, count, w = cells.rows()
    h = ctx.hypothesis
    columns = [focal]
    arms = cells.vacancy_column(frame, "arm")
    if h.kind == "gap_difference":
        treated = np.asarray(arms == ctx.plan.arm_of(h), dtype=np.float64)
        columns.append(focal * treated[clusters])
    # adjust_for (robustness specifications): the gap may vary with vacancy columns,
    # focal x column; the columns themselves are absorbed by the vacancy effects
    z, z_names = cells.covariates(frame, h.adjust_for)
    z = z - z.mean(axis=0) if z.size else z
    x = np.column_stack([*columns, focal[:, None] * z[clusters]])
    xt = demean(x, clusters, n_vac, w)
    yt = demean(y, clusters, n_vac, w)
    keep = _independent_columns(xt, w) if z.size else list(range(x.shape[1]))
    if any(j not in keep for j in range(len(columns))):
        return _refuse(
            name,
            ctx,
            "the gap cannot be told apart from its variation with " + ", ".join(h.adjust_for),
            n_vac,
            n_app,
        )
    dropped = [z_names[j - len(columns)] for j in range(x.shape[1]) if j not in keep]
    x, xt = x[:, keep], xt[:, keep]
    informative, why = _informative(h, clusters, count, xt, yt, arms, n_vac)
    if why is not None:
        return _refuse(name, ctx, why, n_vac, n_app)
    try:
        fit: ClusterFit | Cr2Fit = (
            cluster_cr2(yt, xt, clusters, n_vac, weights=w, n_obs=n_app)
            if name == "lpm_cr2"
            else cluster_ols(yt, xt, clusters, n_vac, extra_k=0, weights=w, n_obs=n_app)
        )
    except EstimationError as exc:
        return _refuse(name, ctx, exc.message, n_vac, n_app)
    details: dict[str, object] = {"informative_vacancies": int(informative.sum())}
    if h.adjust_for:
        details["gap_varies_with"] = list(h.adjust_for)
        details["collinear_dropped"] = ["focal:" + n for n in dropped]
    return _result(name, ctx, fit, len(columns) - 1, n_vac, n_app, details)


@register("lpm_fe", "pool_share")
def lpm_pool_share(sample: ComparisonSample, ctx: Context) -> Estimate:
    """Difference in the focal share with CR1 standard errors: see :func:`_pool_share`."""
    return _pool_share("lpm_fe", sample, ctx)


@register("lpm_cr2", "pool_share")
def lpm_pool_share_cr2(sample: ComparisonSample, ctx: Context) -> Estimate:
    """Difference in the focal share with CR2 and Bell-McCaffrey degrees of freedom."""
    return _pool_share("lpm_cr2", sample, ctx)


def _pool_share(name: str, sample: ComparisonSample, ctx: Context) -> Estimate:
    """Difference in the focal share between arms with block fixed effects and covariates.

    Every regressor is constant within a vacancy, so the fit runs on vacancy aggregates
    (share and count, from ``ComparisonSample.cells``), with the weight sum as frequency
    weight: identical to the fit on the applications, at the cost of the number of
    vacancies.
    """
    frame, cells = sample.frame, sample.cells
    n_app, n_vac = len(frame), cells.n_vacancies
    plan, h = ctx.plan, ctx.hypothesis
    if n_vac < 2:
        return _refuse(
            name, ctx, "fewer than two vacancies: clustered standard errors need two", n_vac, n_app
        )
    first = frame.iloc[cells.first].reset_index(drop=True)
    treated = np.asarray(first["arm"] == plan.arm_of(h), dtype=np.float64)
    z, z_names = cells.covariates(frame, h.adjust_for)
    x: FloatArray = np.column_stack([treated, z])
    names = ["arm", *z_names]
    # a vacancy's share stands for its applications, each with its analysis weight
    y = cells.focal_shares()
    w = cells.weight.sum(axis=(1, 2))
    raw_x, raw_y = x, y
    centred = _centred(x, y, w, first, plan.design.block, n_vac)
    if isinstance(centred, str):
        return _refuse(name, ctx, centred, n_vac, n_app)
    x, y, clusters, n_clusters, absorbed = centred
    keep = _independent_columns(x, w)
    if 0 not in keep:
        return _refuse(
            name,
            ctx,
            "the arm does not vary within any block after adjustment: no comparison is left",
            n_vac,
            n_app,
        )
    dropped = [names[j] for j in range(len(names)) if j not in keep]
    try:
        if name != "lpm_cr2":
            fit: ClusterFit | Cr2Fit = cluster_ols(
                y, x[:, keep], clusters, n_clusters, extra_k=absorbed, weights=w, n_obs=n_app
            )
        elif absorbed:
            # CR2 needs the intercept as a column: it is not nested in vacancy clusters
            xc = np.column_stack([raw_x[:, keep], np.ones(n_vac)])
            fit = cluster_cr2(raw_y, xc, clusters, n_clusters, weights=w, n_obs=n_app)
        else:
            fit = cluster_cr2(y, x[:, keep], clusters, n_clusters, weights=w, n_obs=n_app)
    except EstimationError as exc:
        return _refuse(name, ctx, exc.message, n_vac, n_app)
    return _result(
        name,
        ctx,
        fit,
        0,
        n_vac,
        n_app,
        {
            "fixed_effects": plan.design.block or "none",
            "clusters": plan.design.block or "vacancy_id",
            "collinear_dropped": dropped,
        },
    )


def _centred(
    x: FloatArray,
    y: FloatArray,
    w: FloatArray,
    first: pd.DataFrame,
    block: str | None,
    n_vac: int,
) -> tuple[FloatArray, FloatArray, IntArray, int, int] | str:
    """Regressors and outcome centred within blocks (block fixed effects, clustered by block:
    the blocks, not the vacancies, are then the independent units, and the effects are
    nested in the clusters, not in K) or around their mean (clustered by vacancy, one
    absorbed parameter); with the clusters, their number and the absorbed parameters. Why
    not, with fewer than two blocks."""
    if block:
        clusters, n_clusters = _codes(first[block].astype("str"))
        if n_clusters < 2:
            return "fewer than two blocks: clustered standard errors need two"
        return (
            demean(x, clusters, n_clusters, w),
            demean(y, clusters, n_clusters, w),
            clusters,
            n_clusters,
            0,
        )
    clusters = np.arange(n_vac, dtype=np.intp)
    return (
        x - np.average(x, axis=0, weights=w),
        y - np.average(y, weights=w),
        clusters,
        n_vac,
        1,
    )


def _informative(
    h: Hypothesis,
    clusters: IntArray,
    count: FloatArray,
    xt: FloatArray,
    yt: FloatArray,
    arms: pd.Series,
    n_vac: int,
) -> tuple[npt.NDArray[np.bool_], str | None]:
    """The vacancies with applications of both groups (the others say nothing about the
    gap), and why the gap cannot be estimated from them, or None."""
    within = np.bincount(clusters, weights=count * xt[:, 0] ** 2, minlength=n_vac)
    informative = within > _RANK_TOLERANCE
    if not informative.any():
        return informative, "no vacancy has applications of both groups at this stage"
    if h.kind == "gap_difference":
        treated_within = np.bincount(clusters, weights=count * xt[:, 1] ** 2, minlength=n_vac)
        if arms[informative].nunique() < 2 or not (treated_within > _RANK_TOLERANCE).any():
            return informative, "vacancies with applications of both groups exist in only one arm"
    if float(np.sum(count * yt**2)) <= _RANK_TOLERANCE:
        return informative, "no variation: every application has the same outcome"
    return informative, None


WEIGHTED = ("lpm_fe", "lpm_cr2")
"""Estimators that use the analysis weights of a sample."""


def _independent_columns(x: FloatArray, w: FloatArray) -> list[int]:
    """Indices of a maximal set of linearly independent columns, keeping earlier ones first."""
    keep: list[int] = []
    scaled = x * np.sqrt(w)[:, None]
    for j in range(x.shape[1]):
        trial = scaled[:, [*keep, j]]
        if np.linalg.matrix_rank(trial) == len(keep) + 1:
            keep.append(j)
    return keep

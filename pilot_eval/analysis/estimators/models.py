"""Logistic regression with vacancy-clustered standard errors, for robustness.

``logit`` reports odds ratios:

* ``stage_gap``: ``success ~ 1 + focal``; the odds ratio of passing, focal vs reference;
* ``gap_difference``: ``success ~ 1 + focal + arm + focal:arm``; the ratio of the two
  arms' odds ratios (the interaction);
* ``pool_share``: ``focal ~ 1 + arm + adjust_for``; the odds ratio of a focal applicant
  in the arm vs the reference arm. Blocks are not used as fixed effects here (with many
  small blocks, logit fixed effects are biased: the incidental parameter problem).

Standard errors are clustered by vacancy with the CR1 factor G/(G-1) * (N-1)/(N-K)
(statsmodels' ``cov_type="cluster"``), equal to R's ``sandwich::vcovCL(type = "HC1")``;
intervals and tests are Wald on the log-odds scale with t(G - 1), as for ``lpm_fe``.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from statsmodels.genmod.families import Binomial
from statsmodels.genmod.generalized_linear_model import GLM
from statsmodels.tools.sm_exceptions import (
    ConvergenceWarning,
    PerfectSeparationError,
    PerfectSeparationWarning,
)

from pilot_eval.analysis.estimators import SCALES, Context, null_hypothesis, register
from pilot_eval.analysis.estimators.linear import t_inference
from pilot_eval.analysis.results import Estimate, not_estimable
from pilot_eval.data.frame import ComparisonSample

_LARGEST_LOG_ODDS = 700.0
"""exp() of more overflows a float."""


def _boundary_group(successes: np.ndarray, trials: np.ndarray, indicators: np.ndarray) -> bool:
    """True when a group of cells with the same indicator values (focal, arm) has applications
    that all fail or all pass: the maximum-likelihood odds ratio is then 0 or infinite (quasi-
    separation), and the fit stops at a large coefficient with a meaningless standard error
    instead of saying so (Albert & Anderson 1984)."""
    _, group = np.unique(indicators, axis=0, return_inverse=True)
    group = group.ravel()
    passed = np.bincount(group, weights=successes)
    total = np.bincount(group, weights=trials)
    return bool(np.any((total > 0) & ((passed == 0) | (passed == total))))


def _design(
    sample: ComparisonSample, ctx: Context
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """The model on binomial cells: successes, trials, regressors (with intercept), the
    vacancy of each cell and the name of the coefficient of interest.

    Every regressor is constant within a vacancy's focal (or, for pool_share, whole)
    applications, so the likelihood, its score per vacancy and its Hessian on these cells
    equal those on the applications.
    """
    frame = sample.frame
    h, plan = ctx.hypothesis, ctx.plan
    cells = sample.cells
    treated = np.asarray(cells.vacancy_column(frame, "arm") == plan.arm_of(h), dtype=np.float64)
    g = cells.n_vacancies
    if h.kind == "pool_share":
        trials = cells.sizes()
        successes = cells.count[:, 1, :].sum(axis=1).astype(np.float64)
        z, _ = cells.covariates(frame, h.adjust_for)
        x = np.column_stack([np.ones(g), treated, z])
        return successes, trials, x, np.arange(g), "arm"
    by_focal = cells.count.sum(axis=2)  # [vacancy, focal]
    v, f = np.nonzero(by_focal)
    trials = by_focal[v, f].astype(np.float64)
    successes = cells.count[v, f, 1].astype(np.float64)
    focal = f.astype(np.float64)
    columns: dict[str, np.ndarray] = {"const": np.ones(len(v)), "focal": focal}
    if h.kind == "gap_difference":
        columns["arm"] = treated[v]
        columns["focal:arm"] = focal * treated[v]
        return successes, trials, np.column_stack(list(columns.values())), v, "focal:arm"
    return successes, trials, np.column_stack(list(columns.values())), v, "focal"


@register("logit", "pool_share", "stage_gap", "gap_difference")
def logit(sample: ComparisonSample, ctx: Context) -> Estimate:
    """Odds ratio from a logistic regression with vacancy-clustered errors."""
    name = "logit"
    null = null_hypothesis(ctx)
    frame = sample.frame
    n_app = len(frame)
    n_vac = sample.cells.n_vacancies

    def refuse(reason: str) -> Estimate:
        return not_estimable(name, SCALES[name], null, reason, n_vac, n_app)

    if n_vac < 2:
        return refuse("fewer than two vacancies: clustered standard errors need two")
    successes, trials, x, groups, target = _design(sample, ctx)
    why = _cannot_fit(successes, trials, x, ctx)
    if why is not None:
        return refuse(why)
    names = _names(ctx)
    fit, why = _fit(successes, trials, x, groups)
    if why is not None:
        return refuse(why)
    # CR1 as on the applications: G/(G-1) * (N-1)/(N-K) with N applications, K regressors
    k = x.shape[1]
    factor = n_vac / (n_vac - 1) * (n_app - 1) / (n_app - k)
    j = names.index(target)
    b = float(fit.params[j])
    variance = factor * float(fit.cov_params()[j, j])
    if not math.isfinite(variance) or variance <= 0:
        return refuse("the clustered variance of the log odds ratio is not positive")
    se = math.sqrt(variance)
    t, p, low, high = t_inference(b, se, n_vac - 1, ctx.hypothesis.alternative, ctx.alpha)
    if max(abs(b), abs(low), abs(high)) > _LARGEST_LOG_ODDS:
        return refuse("the odds ratio or its interval is too large to be represented")
    return Estimate(
        estimator=name,
        scale=SCALES[name],
        null_hypothesis=null,
        estimate=math.exp(b),
        std_error=se,
        ci_low=math.exp(low),
        ci_high=math.exp(high),
        statistic=t,
        statistic_name="t",
        df=float(n_vac - 1),
        p_value=p,
        n_vacancies=n_vac,
        n_applications=n_app,
        details={"log_odds_ratio": b, "std_error_scale": "log odds ratio", "N": n_app, "G": n_vac},
    )


def _cannot_fit(
    successes: np.ndarray, trials: np.ndarray, x: np.ndarray, ctx: Context
) -> str | None:
    """Why the logistic model cannot be fitted on these cells, or None."""
    if successes.sum() in (0, trials.sum()):
        return "no variation: every application has the same outcome"
    if np.linalg.matrix_rank(x) < x.shape[1]:
        return "the regressors are collinear (a group or arm is empty)"
    groups_of = x[:, 1:3] if ctx.hypothesis.kind == "gap_difference" else x[:, 1:2]
    if _boundary_group(successes, trials, groups_of):
        return (
            "quasi-separation: in one group (focal or reference, in one arm) no application "
            "or every application passes, so the odds ratio is 0 or infinite"
        )
    return None


def _fit(
    successes: np.ndarray, trials: np.ndarray, x: np.ndarray, groups: np.ndarray
) -> tuple[Any, str | None]:
    """The binomial GLM with vacancy-clustered covariance (statsmodels), or why it failed."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", PerfectSeparationWarning)
        warnings.simplefilter("error", ConvergenceWarning)
        # IRLS's weighted least squares also estimates a scale, dividing by the residual
        # df, which is zero when there are as many cells as parameters; a binomial model
        # does not use that scale (it is 1)
        warnings.filterwarnings("ignore", "divide by zero encountered in scalar divide")
        try:
            model = GLM(np.column_stack([successes, trials - successes]), x, family=Binomial())
            fit = model.fit(
                maxiter=100,
                tol=1e-12,
                cov_type="cluster",
                cov_kwds={"groups": groups, "use_correction": False},
            )
        except (PerfectSeparationWarning, PerfectSeparationError):
            if len(successes) == x.shape[1] and np.all((successes > 0) & (successes < trials)):
                # the fitted cells equal the observed ones because there are only as many
                # cells as parameters, not because of separation
                return None, (
                    "the model is saturated (as many cells as parameters): its clustered "
                    "standard error is not defined"
                )
            return None, "the logistic model does not converge (perfect separation)"
        except (ConvergenceWarning, np.linalg.LinAlgError):
            return None, "the logistic model does not converge (perfect separation)"
    if not fit.converged or np.any(~np.isfinite(fit.params)):
        return None, "the logistic model does not converge (perfect separation)"
    return fit, None


def _names(ctx: Context) -> list[str]:
    h = ctx.hypothesis
    if h.kind == "pool_share":
        return ["const", "arm"]
    if h.kind == "gap_difference":
        return ["const", "focal", "arm", "focal:arm"]
    return ["const", "focal"]

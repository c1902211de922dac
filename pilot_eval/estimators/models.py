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

import numpy as np
import pandas as pd
from statsmodels.discrete.discrete_model import Logit
from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

from pilot_eval.estimators import SCALES, Context, null_hypothesis, register
from pilot_eval.estimators.linear import t_inference
from pilot_eval.prepare import ComparisonSample
from pilot_eval.results import Estimate, not_estimable


def _design(sample: ComparisonSample, ctx: Context) -> tuple[np.ndarray, np.ndarray, str]:
    """Outcome, regressors (with intercept) and the name of the coefficient of interest."""
    frame = sample.frame
    h, plan = ctx.hypothesis, ctx.plan
    columns: dict[str, np.ndarray] = {"const": np.ones(len(frame))}
    focal = frame["focal"].to_numpy(dtype=np.float64)
    if h.kind == "pool_share":
        y = focal
        columns["arm"] = np.asarray(frame["arm"] == plan.arm_of(h), dtype=np.float64)
        for col in h.adjust_for:
            values = frame[col]
            if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
                columns[col] = np.asarray(values, dtype=np.float64)
            else:
                dummies = pd.get_dummies(values.astype("str"), prefix=col, drop_first=True)
                columns.update({str(c): dummies[c].to_numpy(dtype=np.float64) for c in dummies})
        return y, np.column_stack(list(columns.values())), "arm"
    y = frame["success"].to_numpy(dtype=np.float64)
    columns["focal"] = focal
    if h.kind == "gap_difference":
        treated = np.asarray(frame["arm"] == plan.arm_of(h), dtype=np.float64)
        columns["arm"] = treated
        columns["focal:arm"] = focal * treated
        return y, np.column_stack(list(columns.values())), "focal:arm"
    return y, np.column_stack(list(columns.values())), "focal"


@register("logit", "pool_share", "stage_gap", "gap_difference")
def logit(sample: ComparisonSample, ctx: Context) -> Estimate:
    """Odds ratio from a logistic regression with vacancy-clustered errors."""
    name = "logit"
    null = null_hypothesis(ctx)
    frame = sample.frame
    n_app = len(frame)
    groups, uniques = pd.factorize(frame["vacancy_id"], sort=True)
    n_vac = len(uniques)

    def refuse(reason: str) -> Estimate:
        return not_estimable(name, SCALES[name], null, reason, n_vac, n_app)

    if n_vac < 2:
        return refuse("fewer than two vacancies: clustered standard errors need two")
    y, x, target = _design(sample, ctx)
    if y.min() == y.max():
        return refuse("no variation: every application has the same outcome")
    if np.linalg.matrix_rank(x) < x.shape[1]:
        return refuse("the regressors are collinear (a group or arm is empty)")
    names = _names(ctx)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PerfectSeparationWarning)
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            fit = Logit(y, x).fit(
                disp=0,
                method="newton",
                maxiter=100,
                cov_type="cluster",
                cov_kwds={"groups": groups},
            )
        except (PerfectSeparationWarning, ConvergenceWarning, np.linalg.LinAlgError):
            return refuse("the logistic model does not converge (perfect separation)")
    j = names.index(target)
    b = float(fit.params[j])
    se = float(fit.bse[j])
    if not math.isfinite(se) or se <= 0:
        return refuse("the standard error is not finite")
    t, p, low, high = t_inference(b, se, n_vac - 1, ctx.hypothesis.alternative, ctx.alpha)
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


def _names(ctx: Context) -> list[str]:
    h = ctx.hypothesis
    if h.kind == "pool_share":
        return ["const", "arm"]
    if h.kind == "gap_difference":
        return ["const", "focal", "arm", "focal:arm"]
    return ["const", "focal"]

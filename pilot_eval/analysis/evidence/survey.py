"""The applicant survey: response, non-response weights and a weighted comparison.

Who is in it: the rows of the optional table ``survey`` are the applications whose
applicants were invited; ``responded`` says who answered. Response rates are shown by arm,
by group and by the stage the application reached.

Non-response weights: the respondents are raked (``raking.rake``) to the margins of all
applications of the bundle that the plan declares (``survey.rake_to``, e.g. arm x origin
and arm x stage reached), starting from weight 1; a group's missing value is a category
of its own. When every applicant was invited, these are the margins of the invited. The
weights can be trimmed as declared. Their diagnostics: Kish's design effect, the
effective number of respondents, the largest weight and how many were trimmed.

The comparison: per scale (the mean of its Likert items, when all were answered) and per
group side, the weighted mean of the arm minus that of the reference arm, as the slope of
a weighted least-squares fit ``scale ~ arm`` (statsmodels WLS) with a linearised
(sandwich) variance clustered by vacancy, the respondents' primary sampling unit:
``V = G/(G-1) (X'WX)^-1 sum_g s_g s_g' (X'WX)^-1``, t with G - 2 degrees of freedom. This
is ``survey::svyglm`` on ``svydesign(ids = ~vacancy_id, weights = ~w)``; the tests compare
the two. The weights are treated as fixed: R's variance for the raked design itself, which
also uses that the margins are known, is somewhat smaller, so these intervals are on the
safe side.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats
from statsmodels.regression.linear_model import WLS

from pilot_eval.analysis.evidence.raking import kish_design_effect, rake, trim
from pilot_eval.errors import EstimationError
from pilot_eval.plan.model import STAGES, AnalysisPlan, SurveyPlan

FloatArray = npt.NDArray[np.float64]

MIN_VACANCIES_PER_ARM = 4
"""Clustered standard errors need respondents in this many vacancies of each arm (as the
subgroup checks of the hypotheses require)."""

UNKNOWN = "unknown"
"""The category of a missing group value in margins and response rates."""


def weighted_difference(
    y: FloatArray,
    treated: npt.NDArray[np.bool_],
    weights: FloatArray,
    clusters: npt.ArrayLike,
    alpha: float,
) -> dict[str, Any]:
    """Weighted mean of the treated minus that of the others, with a clustered
    linearised variance (``survey::svyglm`` with fixed weights and one-stage clusters).

    Returns estimate, std_error, ci_low, ci_high, statistic (t), df (G - 2), p_value
    (two-sided) and the two weighted means; a reason instead when it cannot be estimated.
    """
    codes, uniques = pd.factorize(pd.Series(np.asarray(clusters)), sort=True)
    g = len(uniques)
    t = np.asarray(treated, dtype=bool)
    per_arm = min(len(np.unique(codes[t])), len(np.unique(codes[~t])))
    if per_arm < MIN_VACANCIES_PER_ARM:
        # with one or two clusters in an arm the sandwich gives that arm (almost) no
        # variance: a test at 5% rejects far more often than 5%
        return {
            "reason": f"needs respondents in at least {MIN_VACANCIES_PER_ARM} vacancies of each arm"
        }
    x = np.column_stack([np.ones(len(y)), t.astype(np.float64)])
    fit = WLS(y, x, weights=weights).fit(
        cov_type="cluster", cov_kwds={"groups": codes, "use_correction": False}
    )
    vcov = np.asarray(fit.cov_params()) * g / (g - 1)
    est = float(fit.params[1])
    se = float(np.sqrt(vcov[1, 1]))
    df = g - 2
    if not np.isfinite(se) or se <= 0:
        return {"reason": "the standard error is zero"}
    q = float(stats.t.ppf(1 - alpha / 2, df))
    stat = est / se
    return {
        "estimate": est,
        "std_error": se,
        "ci_low": est - q * se,
        "ci_high": est + q * se,
        "statistic": stat,
        "df": df,
        "p_value": float(2 * stats.t.sf(abs(stat), df)),
        "mean_arm": float(np.average(y[t], weights=weights[t])),
        "mean_reference": float(np.average(y[~t], weights=weights[~t])),
        "reason": None,
    }


def _variable(frame: pd.DataFrame, plan: AnalysisPlan, name: str) -> pd.Categorical[Any]:
    """A raking or response variable as categories of lower-case text: arm, stage_reached
    or a group's column, a missing value as the category 'unknown'. Built on category
    codes: no per-row text."""
    column = {"arm": "arm", "stage_reached": "stage_reached"}.get(name)
    if column is None:
        column = plan.groups[name].column
    values = frame[column]
    if not isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype("category")
    labels = [str(c).lower() for c in values.cat.categories]
    codes = values.cat.codes.to_numpy(dtype=np.int64)
    if UNKNOWN not in labels:
        labels.append(UNKNOWN)
    codes = np.where(codes < 0, labels.index(UNKNOWN), codes)
    unique = list(dict.fromkeys(labels))  # booleans and text can give one label twice
    remap = np.array([unique.index(label) for label in labels], dtype=np.int64)
    return pd.Categorical.from_codes(remap[codes], dtype=pd.CategoricalDtype(unique))


def margin_codes(
    frame: pd.DataFrame, plan: AnalysisPlan, margin: Sequence[str]
) -> tuple[npt.NDArray[np.intp], list[str]]:
    """Each row's cell of a margin (the crossing of its variables) as a code, and the
    labels of the cells ('pilot x outside_europe')."""
    codes = np.zeros(len(frame), dtype=np.int64)
    labels = [""]
    for v in margin:
        cat = _variable(frame, plan, v)
        k = len(cat.categories)
        codes = codes * k + cat.codes.astype(np.int64)
        labels = [(f"{a} x {b}" if a else str(b)) for a in labels for b in cat.categories]
    used, inverse = np.unique(codes, return_inverse=True)
    return inverse.astype(np.intp), [labels[int(c)] for c in used]


def survey_weights(
    population: pd.DataFrame,
    respondent_rows: npt.NDArray[np.intp],
    plan: AnalysisPlan,
    s: SurveyPlan,
) -> tuple[FloatArray, dict[str, Any]]:
    """Raked (and trimmed) weights of the respondents, and their diagnostics.

    ``respondent_rows`` are the respondents' positions in ``population`` (all
    applications), whose margins are the targets."""
    codes: list[npt.NDArray[np.intp]] = []
    targets: list[FloatArray] = []
    margins_out: list[dict[str, Any]] = []
    for margin in s.rake_to:
        cell, labels = margin_codes(population, plan, margin)
        have = np.bincount(cell[respondent_rows], minlength=len(labels))
        empty = [labels[i] for i in np.flatnonzero(have == 0)]
        if empty:
            raise EstimationError(
                f"no respondent in {', '.join(empty)} of the margin {' x '.join(margin)}: "
                "raking needs respondents in every category"
            )
        codes.append(cell[respondent_rows])
        targets.append(np.bincount(cell, minlength=len(labels)).astype(np.float64))
        margins_out.append({"variables": list(margin), "categories": len(labels)})
    raked = rake(np.ones(len(respondent_rows)), codes, targets)
    w = raked.weights
    n_trimmed = 0
    upper = None
    if s.trim is not None:
        upper = s.trim.max_ratio * float(w.mean())
        w, n_trimmed = trim(w, upper)
    deff = kish_design_effect(w)
    return w, {
        "method": "raking",
        "margins": margins_out,
        "iterations": raked.iterations,
        "respondents": len(w),
        "population": len(population),
        "sum_of_weights": float(w.sum()),
        "min_weight": float(w.min()),
        "max_weight": float(w.max()),
        "trim_upper": upper,
        "trimmed": n_trimmed,
        "design_effect": deff,
        "effective_respondents": float(len(w) / deff),
    }


def scale_scores(table: pd.DataFrame, s: SurveyPlan) -> dict[str, pd.Series]:
    """Each scale per survey row: the mean of its items, missing unless all are answered."""
    return {
        name: table[list(items)].mean(axis=1).where(table[list(items)].notna().all(axis=1))
        for name, items in s.scales.items()
    }


def response_rates(frame: pd.DataFrame, plan: AnalysisPlan, s: SurveyPlan) -> list[dict[str, Any]]:
    """Invited, responded and the response rate by arm, and by arm x stage reached and
    arm x group value."""
    rows: list[dict[str, Any]] = []
    arm = _variable(frame, plan, "arm")
    responded = frame["responded"].to_numpy(dtype=bool)
    for name in ("all", "stage_reached", *s.groups):
        values: pd.Categorical[Any]
        if name == "all":
            values = pd.Categorical.from_codes(
                np.zeros(len(frame), dtype=np.int64), dtype=pd.CategoricalDtype(["all"])
            )
        else:
            values = _variable(frame, plan, name)
        k = len(values.categories)
        order = sorted(range(k), key=lambda c: _value_order(plan, name)(values.categories[c]))
        for a in plan.design.arms:
            in_arm = np.asarray(arm == a.lower())
            codes = values.codes[in_arm]
            n = np.bincount(codes, minlength=k)
            yes = np.bincount(codes, weights=responded[in_arm], minlength=k)
            for c in order:
                if name != "all" and n[c] == 0 and values.categories[c] == UNKNOWN:
                    continue
                rows.append(
                    {
                        "arm": a,
                        "by": name,
                        "value": str(values.categories[c]),
                        "n": int(n[c]),
                        "responded": int(yes[c]),
                        "response_rate": float(yes[c] / n[c]) if n[c] else None,
                    }
                )
    return rows


def _value_order(plan: AnalysisPlan, name: str) -> Any:
    if name == "all":
        return lambda v: 0
    if name == "stage_reached":
        return lambda v: STAGES.index(v) if v in STAGES else len(STAGES)
    g = plan.groups[name]
    known = [*g.focal, *g.reference]
    return lambda v: (known.index(v) if v in known else len(known), v == UNKNOWN, v)


def survey_section(frame: pd.DataFrame, survey: pd.DataFrame, plan: AnalysisPlan) -> dict[str, Any]:
    """Response rates, weights and weighted comparisons of the plan's survey section.

    ``frame`` is the analysis frame (every application of the plan's arms); ``survey`` the
    survey rows with a column ``row``: the application's row in the frame.
    """
    s = plan.survey
    assert s is not None  # the run calls this only when the plan has a survey
    positions = frame.index.get_indexer(pd.Index(survey["row"]))
    invited = frame.iloc[positions].copy()
    responded = survey["responded"].to_numpy(dtype=bool)
    invited["responded"] = responded
    scores = scale_scores(survey.reset_index(drop=True), s)
    for name, values in scores.items():
        invited["scale:" + name] = values.to_numpy()
    respondents = invited[responded]
    out: dict[str, Any] = {
        "invited": len(invited),
        "n_applications": len(frame),
        "responded": int(invited["responded"].sum()),
        "scales": {k: list(v) for k, v in s.scales.items()},
        "likert": s.likert.model_dump(),
        "response": response_rates(invited, plan, s),
    }
    try:
        weights, diagnostics = survey_weights(frame, positions[responded], plan, s)
    except EstimationError as exc:
        out["weighting"] = {
            "reason": exc.message,
            "margins": [{"variables": list(m)} for m in s.rake_to],
        }
        weights = None
    else:
        out["weighting"] = diagnostics
    out["comparisons"] = _comparisons(respondents, weights, plan, s)
    return out


def _comparisons(
    respondents: pd.DataFrame, weights: FloatArray | None, plan: AnalysisPlan, s: SurveyPlan
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    arm = np.asarray(respondents["arm"].astype("str"), dtype=object)
    sides: list[tuple[str, str, npt.NDArray[np.bool_]]] = [
        ("all", "all", np.ones(len(respondents), dtype=bool))
    ]
    clusters_all = pd.factorize(respondents["vacancy_id"])[0]
    for g in s.groups:
        values = _variable(respondents, plan, g)
        group = plan.groups[g]
        for side in ("focal", "reference"):
            wanted = [v.lower() for v in getattr(group, side)]
            sides.append((g, side, np.asarray(values.isin(wanted))))
    for scale in s.compared():
        y_all = respondents["scale:" + scale].to_numpy(dtype=np.float64)
        for other in plan.design.arms[1:]:
            for group_name, side, mask in sides:
                use = mask & ~np.isnan(y_all) & np.isin(arm, [other, plan.reference_arm])
                y = y_all[use]
                treated = arm[use] == other
                clusters = clusters_all[use]
                row: dict[str, Any] = {
                    "scale": scale,
                    "arm": other,
                    "group": group_name,
                    "side": side,
                    "n": int(use.sum()),
                    "n_arm": int(treated.sum()),
                    "n_reference": int((~treated).sum()),
                }
                unweighted = weighted_difference(y, treated, np.ones(len(y)), clusters, plan.alpha)
                row["unweighted"] = unweighted
                if weights is None:
                    row["weighted"] = {"reason": "no weights: raking was not possible"}
                else:
                    row["weighted"] = weighted_difference(
                        y, treated, weights[use], clusters, plan.alpha
                    )
                rows.append(row)
    return rows

"""Design diagnostics: covariate balance, missing demographics and intervention fidelity.

Three checks that the report's methodological reflection draws on, answering Parliament's
questions on how vacancies were selected and whether sample bias was detected:

* ``balance``: do pilot and control vacancies differ in department, function family,
  salary scale and managerial positions? Standardised differences (Austin 2009) with
  Austin's threshold of 0.1, and tests of independence for description.
* ``missingness``: is the voluntary diversity questionnaire answered as often in each
  arm? The anonymous procedure itself can change who reports, which would bias the
  shares among known values; tested with a linear probability model with
  vacancy-clustered standard errors (the vacancy is the unit of assignment).
* ``fidelity``: were the interventions applied where they should be (pilot vacancies)
  and not where they should not (control vacancies)?

Every comparison is an arm against the plan's reference arm. A diagnostic that needs an
absent optional column, or that the data cannot support (one arm, too few vacancies), is
not run; it is listed in ``skipped`` with the reason, never raised as an error.

The output is plain JSON types (float, int, str, bool, None, list, dict); non-finite
numbers are None. A standardised difference is infinite (None) under complete separation
(for example every pilot vacancy managerial and no control vacancy); it is then flagged and
left out of ``max_abs_std_diff``.

References
----------
Altman, D. G. (1985). Comparability of randomised groups. *The Statistician* 34, 125-136.
Austin, P. C. (2009). Balance diagnostics for comparing the distribution of baseline
covariates between treatment groups in propensity-score matched samples. *Statistics in
Medicine* 28, 3083-3107.
Cameron, A. C. & Miller, D. L. (2015). A practitioner's guide to cluster-robust inference.
*Journal of Human Resources* 50, 317-372.
Cochran, W. G. (1954). Some methods for strengthening the common chi-square tests.
*Biometrics* 10, 417-451.
Senn, S. (1994). Testing for baseline balance in clinical trials. *Statistics in
Medicine* 13, 1715-1726.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.regression.linear_model import OLS

from pilot_eval.data.tables import DEMOGRAPHICS
from pilot_eval.plan.model import RANDOMISED, AnalysisPlan

STD_DIFF_THRESHOLD = 0.1
"""Austin's (2009) threshold: an absolute standardised difference above it is imbalance."""

CATEGORICAL_COVARIATES = ("department", "function_family")
NUMERIC_COVARIATES = ("salary_scale",)
BINARY_COVARIATES = ("managerial",)
INTERVENTIONS = ("inclusive_text", "anonymous_questionnaire", "structured_interview")

MIN_EXPECTED = 5.0
"""Cochran's (1954) rule: the chi-square approximation is doubtful below this expected count."""

_MISSINGNESS_NOTE = (
    "Demographics come from a voluntary questionnaire. The anonymous procedure can change "
    "who reports (applicants may answer more readily when the form is not seen by the "
    "selection committee, or less readily when it is separate from the application), so "
    "missingness can differ between arms. If it does, and it depends on the group itself, "
    "shares and gaps among applicants who reported are biased in different ways per arm; "
    "the bounds that count unreported applicants as focal or as reference show how much "
    "this can matter. The test of missingness by arm is a linear probability model "
    "(missing ~ arm) with standard errors clustered by vacancy (CR1, t with G - 1 degrees "
    "of freedom), because arms were assigned to vacancies, not to applicants; the naive "
    "chi-square test treats applications as independent, which overstates the evidence when "
    "reporting varies between vacancies."
)

_FIDELITY_NOTE = (
    "Per arm: vacancies that applied each intervention (true), that did not (false), and "
    "whose record is missing. In the reference arm an applied intervention is contamination; "
    "in the other arms a vacancy that did not apply it is a fidelity failure (the plan does "
    "not state which interventions a non-reference arm comprises; the pilot applies all "
    "three). Comparisons stay by assigned arm (intention to treat); low fidelity dilutes the "
    "estimated effects towards zero."
)


def design_diagnostics(
    frame: pd.DataFrame, vacancies: pd.DataFrame, plan: AnalysisPlan
) -> dict[str, Any]:
    """Balance, missingness and fidelity diagnostics of a data bundle.

    Parameters
    ----------
    frame:
        The analysis frame (:func:`pilot_eval.data.frame.analysis_frame`): one row per
        application with ``vacancy_id``, ``arm`` and the demographic columns present.
    vacancies:
        The typed vacancies table (:class:`pilot_eval.data.bundle.Bundle`), one row per vacancy
        with ``arm`` and the covariate and fidelity columns present.
    plan:
        The analysis plan; its ``design.arms`` (the first is the reference arm) and
        ``design.assignment`` are used.

    Returns
    -------
    dict
        ``balance``, ``missingness``, ``fidelity`` and ``skipped`` (a list of
        ``{"diagnostic": ..., "reason": ...}`` for every diagnostic that could not run).
        JSON-serialisable; non-finite numbers are None.

    References
    ----------
    Austin (2009); Cameron & Miller (2015); see the module docstring.
    """
    skipped: list[dict[str, str]] = []
    return {
        "balance": _balance(vacancies, plan, skipped),
        "missingness": _missingness(frame, plan, skipped),
        "fidelity": _fidelity(vacancies, plan, skipped),
        "skipped": skipped,
    }


# --------------------------------------------------------------------------------------
# helpers


def _num(value: float | np.floating[Any] | None) -> float | None:
    """A plain float, or None when missing or not finite."""
    if value is None:
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def _skip(skipped: list[dict[str, str]], diagnostic: str, reason: str) -> None:
    skipped.append({"diagnostic": diagnostic, "reason": reason})


def _arm_labels(values: pd.Series) -> pd.Series:
    """The arm column as plain text (object dtype), missing where unknown."""
    return values.astype("object").where(values.notna(), None)


def _true(values: pd.Series) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """True where a boolean column is true; False where it is false or missing."""
    return values.astype("boolean").fillna(False).to_numpy(dtype=bool)


def _std_diff_binary(p1: float, p0: float) -> float:
    """Standardised difference of a proportion: (p1 - p0) / sqrt((p1 q1 + p0 q0) / 2).

    Zero when the shares are equal; infinite (complete separation: one arm all, the other
    none) when the pooled variance is zero but the shares differ (Austin 2009, eq. 2).
    """
    return _standardised(p1 - p0, math.sqrt((p1 * (1.0 - p1) + p0 * (1.0 - p0)) / 2.0))


def _standardised(diff: float, sd: float) -> float:
    """``diff / sd``; zero when ``diff`` is zero, infinite (with its sign) when ``sd`` is."""
    if diff == 0.0:
        return 0.0
    return diff / sd if sd > 0.0 else math.copysign(math.inf, diff)


def _chi_square(table: np.ndarray[Any, np.dtype[np.int64]]) -> dict[str, Any]:
    """Pearson's chi-square test of independence without continuity correction.

    Rows or columns with a zero total are dropped first (they carry no information and
    have expected count zero). Also reports the smallest expected count and how many
    cells fall below Cochran's 5, since the approximation is doubtful there.
    """
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return {
            "statistic": None,
            "df": None,
            "p_value": None,
            "min_expected": None,
            "cells_expected_below_5": None,
            "reason": "fewer than two arms or two categories observed: nothing to test",
        }
    res = stats.chi2_contingency(table, correction=False)
    expected = np.asarray(res.expected_freq, dtype=float)
    return {
        "statistic": _num(res.statistic),
        "df": int(res.dof),
        "p_value": _num(res.pvalue),
        "min_expected": _num(expected.min()),
        "cells_expected_below_5": int((expected < MIN_EXPECTED).sum()),
        "reason": None,
    }


def _fisher(table: np.ndarray[Any, np.dtype[np.int64]], odds_of: str) -> dict[str, Any] | None:
    """Fisher's exact test (two-sided) of a 2x2 table; None for other shapes.

    Rows are (arm, reference arm) and columns (``odds_of``, other), so the sample odds
    ratio is the odds of ``odds_of`` in the arm over those in the reference arm.
    """
    if table.shape != (2, 2):
        return None
    res = stats.fisher_exact(table, alternative="two-sided")
    return {"odds_ratio": _num(res.statistic), "p_value": _num(res.pvalue), "odds_of": odds_of}


# --------------------------------------------------------------------------------------
# balance


def _balance_note(plan: AnalysisPlan) -> str:
    assignment = plan.design.assignment
    threshold = (
        f"Standardised differences above {STD_DIFF_THRESHOLD} in absolute value are flagged "
        "(Austin 2009); for department and function family each category's indicator is "
        "compared."
    )
    if assignment in RANDOMISED:
        block = (
            " Within blocks the arms are exchangeable; where the share of pilot vacancies "
            "differs between blocks, block composition can also create crude differences, "
            "which comparisons within blocks (block fixed effects) take into account."
            if assignment == "block_randomised"
            else ""
        )
        return (
            f"{threshold} Assignment was {assignment.replace('_', ' ')}: any imbalance is "
            "chance, and a balance test tests a null hypothesis known to be true, so its "
            "p-value is descriptive only (Altman 1985; Senn 1994). A large difference in a "
            "covariate that predicts the outcome still matters and is a reason to adjust "
            f"for it.{block}"
        )
    return (
        f"{threshold} Assignment was {assignment.replace('_', ' ')}, not randomised: "
        "imbalance reflects how vacancies came into the pilot, and vacancies may also "
        "differ in ways not measured here; covariates with a large difference need "
        "adjustment or weighting, and balance on measured covariates does not imply "
        "balance on unmeasured ones."
    )


def _balance(
    vacancies: pd.DataFrame, plan: AnalysisPlan, skipped: list[dict[str, str]]
) -> dict[str, Any]:
    reference = plan.reference_arm
    out: dict[str, Any] = {
        "reference_arm": reference,
        "assignment": plan.design.assignment,
        "threshold": STD_DIFF_THRESHOLD,
        "note": _balance_note(plan),
        "comparisons": {},
    }
    if "arm" not in vacancies:
        _skip(skipped, "balance", "column 'arm' absent from vacancies")
        return out
    arms = _arm_labels(vacancies["arm"])
    counts = {arm: int((arms == arm).sum()) for arm in plan.design.arms}
    present = [arm for arm in plan.design.arms if counts[arm] > 0]
    if len(present) < 2 or counts[reference] == 0:
        _skip(
            skipped,
            "balance",
            "only one arm has vacancies"
            if len(present) == 1
            else "the reference arm or every other arm has no vacancies",
        )
        return out
    covariates = [*CATEGORICAL_COVARIATES, *NUMERIC_COVARIATES, *BINARY_COVARIATES]
    absent = [c for c in covariates if c not in vacancies]
    for col in absent:
        _skip(skipped, f"balance.{col}", f"column '{col}' absent from vacancies")
    for arm in plan.design.arms[1:]:
        if counts[arm] < 2 or counts[reference] < 2:
            _skip(
                skipped,
                f"balance.{arm}",
                f"fewer than 2 vacancies per arm ({arm}: {counts[arm]}, "
                f"{reference}: {counts[reference]})",
            )
            continue
        sub = vacancies.loc[(arms == arm) | (arms == reference)]
        results, flagged = _covariate_balance(sub, arm, reference)
        maxima = [res["max_abs_std_diff"] for res in results.values()]
        defined = [m for m in maxima if m is not None]
        out["comparisons"][arm] = {
            "arm": arm,
            "reference_arm": reference,
            "n_vacancies": {arm: counts[arm], reference: counts[reference]},
            "covariates": results,
            "max_abs_std_diff": max(defined) if defined else None,
            "flagged": flagged,
        }
    return out


def _covariate_balance(
    sub: pd.DataFrame, arm: str, reference: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Balance of every covariate present between the vacancies of ``arm`` and of the
    reference arm in ``sub``, and the categories flagged beyond the threshold."""
    treated = (_arm_labels(sub["arm"]) == arm).to_numpy(dtype=bool)
    results: dict[str, Any] = {}
    for col in CATEGORICAL_COVARIATES:
        if col in sub:
            results[col] = _categorical(sub[col], treated, arm, reference)
    for col in NUMERIC_COVARIATES:
        if col in sub:
            results[col] = _numeric(sub[col], treated, arm, reference)
    for col in BINARY_COVARIATES:
        if col in sub:
            results[col] = _binary(sub[col], treated, arm, reference)
    flagged: list[dict[str, Any]] = []
    for col, res in results.items():
        flagged.extend({"covariate": col, **flag} for flag in res.pop("_flags"))
    return results, flagged


def _flag(std_diff: float, category: str | None) -> list[dict[str, Any]]:
    if math.isnan(std_diff) or abs(std_diff) <= STD_DIFF_THRESHOLD:
        return []
    return [
        {
            "category": category,
            "std_diff": _num(std_diff),
            "reason": (
                "complete separation: the arms differ but neither varies within itself, "
                "so the standardised difference is infinite (reported as null)"
                if math.isinf(std_diff)
                else f"|standardised difference| > {STD_DIFF_THRESHOLD}"
            ),
        }
    ]


def _categorical(values: pd.Series, treated: np.ndarray[Any, Any], arm: str, ref: str) -> Any:
    """Shares per category in each arm, standardised differences and tests."""
    known = values.notna().to_numpy(dtype=bool)
    text = np.array([str(v) for v in values.astype("object")], dtype=object)
    categories = sorted({str(v) for v in text[known]})
    n1 = int((known & treated).sum())
    n0 = int((known & ~treated).sum())
    table = np.zeros((2, len(categories)), dtype=np.int64)
    per_category: dict[str, Any] = {}
    flags: list[dict[str, Any]] = []
    diffs: list[float] = []
    for j, cat in enumerate(categories):
        hit = known & (text == cat)
        table[0, j] = int((hit & treated).sum())
        table[1, j] = int((hit & ~treated).sum())
        p1 = table[0, j] / n1 if n1 else math.nan
        p0 = table[1, j] / n0 if n0 else math.nan
        d = _std_diff_binary(p1, p0) if n1 and n0 else math.nan
        diffs.append(d)
        flags.extend(_flag(d, cat))
        per_category[cat] = {
            "n": {arm: int(table[0, j]), ref: int(table[1, j])},
            "share": {arm: _num(p1), ref: _num(p0)},
            "std_diff": _num(d),
        }
    finite = [abs(d) for d in diffs if math.isfinite(d)]
    return {
        "type": "categorical",
        "n_missing": {arm: int((~known & treated).sum()), ref: int((~known & ~treated).sum())},
        "categories": per_category,
        "max_abs_std_diff": max(finite) if finite else None,
        "chi_square": _chi_square(table),
        "fisher_exact": _fisher(table, categories[0]) if len(categories) == 2 else None,
        "_flags": flags,
    }


def _numeric(values: pd.Series, treated: np.ndarray[Any, Any], arm: str, ref: str) -> Any:
    """Means, SDs, standardised mean difference (Austin 2009, eq. 1) and Welch's t-test."""
    x = pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()
    known = np.isfinite(x)
    x1 = x[known & treated]
    x0 = x[known & ~treated]
    out: dict[str, Any] = {
        "type": "numeric",
        "n": {arm: len(x1), ref: len(x0)},
        "n_missing": {arm: int((~known & treated).sum()), ref: int((~known & ~treated).sum())},
        "mean": {arm: None, ref: None},
        "sd": {arm: None, ref: None},
        "std_diff": None,
        "max_abs_std_diff": None,
        "welch_t": {"statistic": None, "df": None, "p_value": None, "reason": None},
        "_flags": [],
    }
    if len(x1) < 2 or len(x0) < 2:
        out["welch_t"]["reason"] = "fewer than two known values in an arm"
        if len(x1) and len(x0):
            out["mean"] = {arm: float(x1.mean()), ref: float(x0.mean())}
        return out
    m1, m0 = float(x1.mean()), float(x0.mean())
    s1, s0 = float(x1.std(ddof=1)), float(x0.std(ddof=1))
    pooled = math.sqrt((s1**2 + s0**2) / 2.0)
    d = _standardised(m1 - m0, pooled)
    out.update(
        mean={arm: m1, ref: m0},
        sd={arm: s1, ref: s0},
        std_diff=_num(d),
        max_abs_std_diff=_num(abs(d)),
        _flags=_flag(d, None),
    )
    if pooled > 0:
        res = stats.ttest_ind(x1, x0, equal_var=False)
        out["welch_t"] = {
            "statistic": _num(res.statistic),
            "df": _num(res.df),
            "p_value": _num(res.pvalue),
            "reason": None,
        }
    else:
        out["welch_t"]["reason"] = "no variation within either arm"
    return out


def _binary(values: pd.Series, treated: np.ndarray[Any, Any], arm: str, ref: str) -> Any:
    """Shares of true in each arm, standardised difference and tests (chi-square, Fisher)."""
    known = values.notna().to_numpy(dtype=bool)
    yes = _true(values)
    k1, n1 = int((yes & treated).sum()), int((known & treated).sum())
    k0, n0 = int((yes & ~treated).sum()), int((known & ~treated).sum())
    p1 = k1 / n1 if n1 else math.nan
    p0 = k0 / n0 if n0 else math.nan
    d = _std_diff_binary(p1, p0) if n1 and n0 else math.nan
    table = np.array([[k1, n1 - k1], [k0, n0 - k0]], dtype=np.int64)
    defined = n1 > 0 and n0 > 0
    return {
        "type": "binary",
        "n": {arm: n1, ref: n0},
        "n_true": {arm: k1, ref: k0},
        "n_missing": {arm: int((~known & treated).sum()), ref: int((~known & ~treated).sum())},
        "share": {arm: _num(p1), ref: _num(p0)},
        "std_diff": _num(d),
        "max_abs_std_diff": _num(abs(d)),
        "chi_square": _chi_square(table),
        "fisher_exact": _fisher(table, "true") if defined else None,
        "_flags": _flag(d, None),
    }


# --------------------------------------------------------------------------------------
# missingness


def _missingness(
    frame: pd.DataFrame, plan: AnalysisPlan, skipped: list[dict[str, str]]
) -> dict[str, Any]:
    reference = plan.reference_arm
    out: dict[str, Any] = {"reference_arm": reference, "note": _MISSINGNESS_NOTE, "columns": {}}
    for col in ("arm", "vacancy_id"):
        if col not in frame:
            _skip(skipped, "missingness", f"column '{col}' absent from the analysis frame")
            return out
    arms = _arm_labels(frame["arm"])
    for col in DEMOGRAPHICS:
        if col not in frame:
            _skip(skipped, f"missingness.{col}", f"column '{col}' absent from applications")
            continue
        missing = frame[col].isna().to_numpy(dtype=bool)
        per_arm: dict[str, Any] = {}
        for arm in plan.design.arms:
            mask = (arms == arm).to_numpy(dtype=bool)
            n = int(mask.sum())
            k = int((missing & mask).sum())
            per_arm[arm] = {
                "n_applications": n,
                "n_vacancies": int(frame.loc[mask, "vacancy_id"].nunique()),
                "n_not_reported": k,
                "share_not_reported": k / n if n else None,
            }
        comparisons: dict[str, Any] = {}
        for arm in plan.design.arms[1:]:
            name = f"missingness.{col}.{arm}"
            if per_arm[arm]["n_applications"] == 0 or per_arm[reference]["n_applications"] == 0:
                _skip(skipped, name, f"no applications in arm '{arm}' or '{reference}'")
                continue
            mask = (arms.isin([arm, reference])).to_numpy(dtype=bool)
            treated = (arms[mask] == arm).to_numpy(dtype=bool)
            lpm = _clustered_lpm(
                missing[mask], treated, frame.loc[mask, "vacancy_id"], arm, reference
            )
            if lpm["reason"] is not None:
                _skip(skipped, f"{name}.clustered_lpm", lpm["reason"])
            y = missing[mask]
            table = np.array(
                [
                    [int((y & treated).sum()), int((~y & treated).sum())],
                    [int((y & ~treated).sum()), int((~y & ~treated).sum())],
                ],
                dtype=np.int64,
            )
            share1 = per_arm[arm]["share_not_reported"]
            share0 = per_arm[reference]["share_not_reported"]
            comparisons[arm] = {
                "difference": share1 - share0,
                "clustered_lpm": lpm,
                "naive_chi_square": _chi_square(table),
            }
        out["columns"][col] = {"arms": per_arm, "comparisons": comparisons}
    return out


def _clustered_lpm(
    missing: np.ndarray[Any, Any],
    treated: np.ndarray[Any, Any],
    vacancy: pd.Series,
    arm: str,
    reference: str,
) -> dict[str, Any]:
    """OLS of missing (0/1) on an intercept and the arm, CR1 errors clustered by vacancy.

    CR1 is ``G/(G-1) * (N-1)/(N-K)`` times the sandwich (statsmodels' ``cov_type="cluster"``,
    R's ``sandwich::vcovCL(type = "HC1")``); the t statistic is referred to a t
    distribution with G - 1 degrees of freedom (Cameron & Miller 2015, section VI.C).
    """
    codes, uniques = pd.factorize(vacancy)
    g_arm = int(pd.Series(codes[treated]).nunique())
    g_ref = int(pd.Series(codes[~treated]).nunique())
    n = len(missing)
    out: dict[str, Any] = {
        "model": "missing ~ arm, OLS, CR1 standard errors clustered by vacancy",
        "estimate": None,
        "std_error": None,
        "statistic": None,
        "statistic_name": "t",
        "df": None,
        "p_value": None,
        "n_applications": n,
        "n_vacancies": len(uniques),
        "reason": None,
    }
    if g_arm < 2 or g_ref < 2:
        out["reason"] = (
            f"fewer than 2 vacancies with applications per arm ({arm}: {g_arm}, "
            f"{reference}: {g_ref}): clustered standard errors need more"
        )
        return out
    y = missing.astype(np.float64)
    x = np.column_stack([np.ones(n), treated.astype(np.float64)])
    fit = OLS(y, x).fit(cov_type="cluster", cov_kwds={"groups": codes})
    estimate = float(fit.params[1])
    se = float(np.sqrt(fit.cov_params()[1, 1]))
    df = len(uniques) - 1
    out.update(estimate=estimate, std_error=se, df=df)
    if not se > 0.0:
        out["reason"] = "no variation in missingness within arms: the standard error is zero"
        return out
    t = estimate / se
    out.update(statistic=t, p_value=float(2.0 * stats.t.sf(abs(t), df)))
    return out


# --------------------------------------------------------------------------------------
# fidelity


def _fidelity(
    vacancies: pd.DataFrame, plan: AnalysisPlan, skipped: list[dict[str, str]]
) -> dict[str, Any]:
    reference = plan.reference_arm
    out: dict[str, Any] = {
        "reference_arm": reference,
        "note": _FIDELITY_NOTE,
        "columns": {},
        "all_present": None,
    }
    if "arm" not in vacancies:
        _skip(skipped, "fidelity", "column 'arm' absent from vacancies")
        return out
    arms = _arm_labels(vacancies["arm"])
    present = [c for c in INTERVENTIONS if c in vacancies]
    for col in INTERVENTIONS:
        if col not in vacancies:
            _skip(skipped, f"fidelity.{col}", f"column '{col}' absent from vacancies")
    for col in present:
        values = vacancies[col]
        per_arm: dict[str, Any] = {}
        for arm in plan.design.arms:
            sub = values[(arms == arm).to_numpy(dtype=bool)]
            n = len(sub)
            n_missing = int(sub.isna().sum())
            n_true = int(_true(sub).sum())
            n_false = n - n_missing - n_true
            entry: dict[str, Any] = {
                "n_vacancies": n,
                "n_applied": n_true,
                "n_not_applied": n_false,
                "n_missing": n_missing,
                "share_applied": n_true / (n - n_missing) if n > n_missing else None,
            }
            if arm == reference:
                entry["n_contamination"] = n_true
            else:
                entry["n_fidelity_failures"] = n_false
            per_arm[arm] = entry
        out["columns"][col] = {"arms": per_arm}
    if present:
        applied = np.column_stack([_true(vacancies[c]) for c in present])
        known = np.column_stack([vacancies[c].notna().to_numpy(dtype=bool) for c in present])
        all_known = np.asarray(known.all(axis=1), dtype=bool)
        all_true = np.asarray(applied.all(axis=1), dtype=bool)
        none_true = ~np.asarray(applied.any(axis=1), dtype=bool) & all_known
        summary: dict[str, Any] = {"interventions": present, "arms": {}}
        for arm in plan.design.arms:
            mask = (arms == arm).to_numpy(dtype=bool)
            n_known = int(all_known[mask].sum())
            summary["arms"][arm] = {
                "n_vacancies": int(mask.sum()),
                "n_all_applied": int(all_true[mask].sum()),
                "n_none_applied": int(none_true[mask].sum()),
                "n_any_missing": int(mask.sum()) - n_known,
                "share_all_applied": int(all_true[mask].sum()) / n_known if n_known else None,
            }
        out["all_present"] = summary
    return out

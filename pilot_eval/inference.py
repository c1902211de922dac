"""Multiplicity and verdicts: from estimates to what the plan's criteria say.

Adjusted p-values are computed per family of the plan with statsmodels' ``multipletests``
(Holm 1979; Benjamini & Hochberg 1995; Bonferroni), over the hypotheses of that family that
could be estimated. A hypothesis that could not be estimated keeps ``p_adjusted = null``
and the verdict ``not_estimable``.

A criterion ``min_effect = m`` is a threshold on the chosen estimate's own scale; left
out, it is the value of no effect (0 for differences, 1 for ratios):

* ``greater``: met when estimate >= m and p_adjusted < alpha; not met when the confidence
  interval lies entirely below m (the data rule the criterion out) or the estimate goes
  the wrong way (below the value of no effect);
* ``less``: met when estimate <= m and p_adjusted < alpha; not met when the interval lies
  entirely above m or the estimate goes the wrong way;
* ``two-sided``: met when the estimate is at least as far from the null value as m and
  p_adjusted < alpha; not met when the interval lies strictly between the null value
  mirrored around m (no effect as large as m is compatible with the data);
* otherwise the verdict is ``inconclusive``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats
from statsmodels.stats.multitest import multipletests

from pilot_eval.plan import NO_EFFECT, AnalysisPlan, Hypothesis
from pilot_eval.results import Estimate

Verdict = Literal["met", "not_met", "inconclusive", "not_estimable"]

_METHOD = {"holm": "holm", "fdr_bh": "fdr_bh", "bonferroni": "bonferroni"}

NULL_VALUE = NO_EFFECT
"""The value of the estimate under the null hypothesis, by scale."""


def adjust_p_values(plan: AnalysisPlan, chosen: Mapping[str, Estimate]) -> dict[str, float | None]:
    """Adjusted p-value per hypothesis id, within the plan's families."""
    out: dict[str, float | None] = {h.id: None for h in plan.hypotheses}
    for name, family in plan.families.items():
        ids = [h.id for h in plan.hypotheses if h.family == name and chosen[h.id].estimable]
        if not ids:
            continue
        raw = np.array([chosen[i].p_value for i in ids], dtype=float)
        if family.correction == "none":
            adjusted = raw
        elif family.correction == "holm":
            adjusted = holm(raw)
        else:
            adjusted = multipletests(raw, alpha=plan.alpha, method=_METHOD[family.correction])[1]
        out.update({i: float(p) for i, p in zip(ids, adjusted, strict=True)})
    return out


def holm(p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Holm's (1979) step-down adjusted p-values: the i-th smallest p times (m - i + 1),
    made non-decreasing, at most 1.

    The same as statsmodels' ``multipletests(method="holm")``, which collects garbage on
    every call (a tenth of a second in a large process, once per family and run); tested
    against it.
    """
    m = len(p)
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(np.maximum.accumulate(p[order] * np.arange(m, 0, -1)), 1.0)
    out = np.empty(m)
    out[order] = stepped
    return out


def verdict(h: Hypothesis, est: Estimate, p_adjusted: float | None, alpha: float) -> Verdict:
    """The verdict on hypothesis ``h`` from its chosen estimate (see module docstring)."""
    if not est.estimable or p_adjusted is None or est.estimate is None:
        return "not_estimable"
    m = threshold(h, est.scale)
    x = est.estimate
    low, high = est.ci_low, est.ci_high
    null = NULL_VALUE[est.scale]
    significant = p_adjusted < alpha
    if h.alternative == "greater":
        if x >= m and significant:
            return "met"
        if (high is not None and high < m) or x < null:
            return "not_met"
    elif h.alternative == "less":
        if x <= m and significant:
            return "met"
        if (low is not None and low > m) or x > null:
            return "not_met"
    else:
        reach = abs(m - null)
        if abs(x - null) >= reach and significant:
            return "met"
        bounded = low is not None and high is not None
        if reach > 0 and bounded and null - reach < low < high < null + reach:  # type: ignore[operator]
            return "not_met"
    return "inconclusive"


def threshold(h: Hypothesis, scale: str) -> float:
    """The criterion's min_effect, or the value of no effect on ``scale``."""
    m = h.criterion.min_effect
    return NULL_VALUE[scale] if m is None else m


def criterion_text(h: Hypothesis, scale: str, alpha: float) -> str:
    """The success criterion in words."""
    m = threshold(h, scale)
    if h.alternative == "two-sided":
        null = NULL_VALUE[scale]
        return f"|estimate - {null:g}| >= {abs(m - null):g} and adjusted p < {alpha:g}"
    sign = ">=" if h.alternative == "greater" else "<="
    return f"estimate {sign} {m:g} and adjusted p < {alpha:g}"


def family_level(plan: AnalysisPlan, h: Hypothesis) -> float:
    """The per-test level of the hypothesis' family: alpha / m (Bonferroni, the first step of
    Holm; conservative for fdr_bh) unless the family is uncorrected."""
    if plan.families[h.family].correction == "none":
        return plan.alpha
    m = sum(1 for x in plan.hypotheses if x.family == h.family)
    return plan.alpha / m


def minimum_detectable_effect(
    est: Estimate, alternative: str, alpha: float, power: float = 0.8
) -> float | None:
    """The smallest true effect this comparison detects with the given power at ``alpha``
    (the family's per-test level, ``family_level``).

    ``(q_{1-alpha} + q_{power}) * SE`` (one-sided; ``q_{1-alpha/2}`` two-sided) with the
    estimate's own standard error, so the vacancy-clustered structure of the data is taken
    into account (Bloom 1995). Quantiles are t with the estimate's df where its statistic is
    a t, standard normal otherwise (z, and chi-square with one df, whose root is a z). On
    ratio scales the standard error is that of the log and the result is a ratio. Returned
    on the estimate's scale, on the side of the alternative (above the value of no effect
    for two-sided); None without a standard error.
    """
    if est.std_error is None or not est.estimable:
        return None
    tail = alpha / 2 if alternative == "two-sided" else alpha
    if est.df and est.statistic_name == "t":
        # a chi-square statistic's df (Mantel-Haenszel: 1) is not a t distribution's
        q = float(stats.t.ppf(1 - tail, est.df) + stats.t.ppf(power, est.df))
    else:
        q = float(stats.norm.ppf(1 - tail) + stats.norm.ppf(power))
    sign = -1.0 if alternative == "less" else 1.0
    if est.scale in ("odds_ratio", "ratio"):
        return float(np.exp(sign * q * est.std_error))
    return sign * q * est.std_error

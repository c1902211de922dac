"""Multiplicity and verdicts: from estimates to what the plan's criteria say.

Adjusted p-values are computed per family of the plan with statsmodels' ``multipletests``
(Holm 1979; Benjamini & Hochberg 1995; Bonferroni), over the hypotheses of that family that
could be estimated. A hypothesis that could not be estimated keeps ``p_adjusted = null``
and the verdict ``not_estimable``.

A criterion ``min_effect = m`` is a threshold on the deciding test's own scale; left
out, it is the value of no effect (0 for differences, 1 for ratios). With ``rule:
estimate`` (the default):

* ``greater``: met when estimate >= m and p_adjusted < alpha; not met when the confidence
  interval lies entirely below m (the data rule the criterion out) or the estimate goes
  the wrong way (below the value of no effect);
* ``less``: met when estimate <= m and p_adjusted < alpha; not met when the interval lies
  entirely above m or the estimate goes the wrong way;
* ``two-sided``: met when the estimate is at least as far from the null value as m and
  p_adjusted < alpha; not met when the interval lies strictly between the null value
  mirrored around m (no effect as large as m is compatible with the data);
* otherwise the verdict is ``inconclusive``.

With ``rule: bound`` the threshold is tested, not compared with the estimate. The
deciding estimate's Wald interval is read back as its test (``Pivot``: the estimate and
standard error on the scale where the interval is symmetric, the log for ratios, with the
interval's t or normal reference) and gives one-sided p-values against thresholds:

* ``met``: 'effect at most m' rejected (``greater``; mirrored for ``less``; two-sided: the
  smaller one-sided p against ``null +- |m - null|``, doubled), adjusted over every
  hypothesis of the family (with m its own threshold, no effect when left out);
* ``not_met``: the reverse, 'effect at least m' rejected (two-sided: two one-sided tests
  that the effect lies within ``null +- |m - null|``).

The reverse test decides ``not_met`` under either rule, so that 'met' and 'not met' rest on
the same multiplicity-adjusted evidence: with ``rule: estimate`` an estimate on the wrong
side of no effect, or an unadjusted interval beyond m, is no longer enough (the list above
gives the rule of earlier versions, which still applies where the deciding test has no
interval, as randomisation inference).

A ``margin`` d adds, for a criterion not met: ``non_inferior`` when 'the effect goes the
harmful way by d or more' is rejected (one-sided: against ``null - d`` for ``greater``),
``equivalent`` when two one-sided tests show it within ``null +- d`` (Schuirmann 1987,
*J. Pharmacokinetics and Biopharmaceutics* 15(6)). For a comparison between arms with a
one-sided alternative, ``harm`` is true when 'no effect or one the stated way' is rejected:
the interval lies entirely on the other side. Every such p-value is adjusted within the
family by the family's correction, like the p-values themselves, so that 'met', 'not met',
the margin and harm rest on the same multiplicity-adjusted evidence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import stats
from statsmodels.stats.multitest import multipletests

from pilot_eval.analysis.results import Estimate
from pilot_eval.plan.model import BETWEEN_ARMS, NO_EFFECT, AnalysisPlan, Hypothesis

Verdict = Literal["met", "not_met", "inconclusive", "not_estimable", "non_inferior", "equivalent"]

_METHOD = {"holm": "holm", "fdr_bh": "fdr_bh", "bonferroni": "bonferroni"}

NULL_VALUE = NO_EFFECT
"""The value of the estimate under the null hypothesis, by scale."""


def adjust_p_values(plan: AnalysisPlan, chosen: Mapping[str, Estimate]) -> dict[str, float | None]:
    """Adjusted p-value per hypothesis id, within the plan's families."""
    return adjust_within_families(
        plan, {i: e.p_value for i, e in chosen.items() if e.estimable and e.p_value is not None}
    )


def adjust_within_families(
    plan: AnalysisPlan, p_values: Mapping[str, float]
) -> dict[str, float | None]:
    """Adjusted p-values per hypothesis id, within the plan's families, of the hypotheses
    in ``p_values`` (the others: None)."""
    out: dict[str, float | None] = {h.id: None for h in plan.hypotheses}
    for name, family in plan.families.items():
        ids = [h.id for h in plan.hypotheses if h.family == name and h.id in p_values]
        if not ids:
            continue
        raw = np.array([p_values[i] for i in ids], dtype=float)
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


@dataclass(frozen=True)
class Pivot:
    """A Wald interval read back as its test: the estimate ``center`` and its standard error
    on the scale where the interval is symmetric (the log for ratios), with its df (None:
    normal)."""

    center: float
    se: float
    df: float | None
    log: bool

    def _z(self, value: float) -> float:
        return (self.center - (math.log(value) if self.log else value)) / self.se

    def _dist(self) -> Any:
        return stats.norm if self.df is None else stats.t(self.df)

    def p_above(self, value: float) -> float:
        """p-value of 'the effect is at most ``value``' against 'above it'."""
        if self.log and value <= 0:
            return 0.0
        return float(self._dist().sf(self._z(value)))

    def p_below(self, value: float) -> float:
        """p-value of 'the effect is at least ``value``' against 'below it'."""
        if self.log and value <= 0:
            return 1.0
        return float(self._dist().cdf(self._z(value)))


def pivot(est: Estimate, alpha: float) -> Pivot | None:
    """The test behind ``est``'s two-sided 1 - alpha Wald interval; None without one."""
    x, low, high = est.estimate, est.ci_low, est.ci_high
    if x is None or low is None or high is None:
        return None
    log = est.scale in ("ratio", "odds_ratio")
    if log and min(x, low) <= 0:
        return None
    g = math.log if log else float
    df = est.df if est.df is not None and est.statistic_name == "t" else None
    q = float(stats.norm.ppf(1 - alpha / 2) if df is None else stats.t.ppf(1 - alpha / 2, df))
    se = (g(high) - g(low)) / (2 * q)
    if not (math.isfinite(se) and se > 0):
        return None
    return Pivot(g(x), se, df, log)


@dataclass(frozen=True)
class Judgement:
    """A hypothesis' verdict, whether the data show harm (one-sided hypotheses whose
    interval lies on the harmful side after adjustment; None when not assessed), and the
    adjusted p-value of each criterion test."""

    verdict: Verdict
    harm: bool | None
    evidence: Mapping[str, float | None]


CRITERION_TESTS = ("met", "not_met", "min_effect", "margin", "harm")
"""The criterion tests of a hypothesis. ``min_effect`` tests 'the effect lies beyond
min_effect' (no effect when left out, then it is the hypothesis' own test) for every
hypothesis, so that the family it is adjusted in is the plan's family; with rule 'bound' it
decides ('met'), with rule 'estimate' it is shown for information."""


def _criterion_tests(h: Hypothesis, est: Estimate, alpha: float) -> dict[str, float]:
    """Raw p-values of the criterion tests of one hypothesis (module docstring)."""
    null, m = NULL_VALUE[est.scale], threshold(h, est.scale)
    pv = pivot(est, alpha)
    if pv is None:
        # a test without an interval (randomisation) tests no effect only
        return {"min_effect": est.p_value} if m == null and est.p_value is not None else {}
    margin = h.criterion.margin
    out: dict[str, float] = {}
    if h.alternative == "two-sided":
        reach = abs(m - null)
        out["min_effect"] = min(1.0, 2 * min(pv.p_above(null + reach), pv.p_below(null - reach)))
        if reach > 0:
            out["not_met"] = max(pv.p_above(null - reach), pv.p_below(null + reach))
        if margin is not None:
            out["margin"] = max(pv.p_above(null - margin), pv.p_below(null + margin))
        return out
    up = h.alternative == "greater"
    toward, away = (pv.p_above, pv.p_below) if up else (pv.p_below, pv.p_above)
    out["min_effect"] = toward(m)
    out["not_met"] = away(m)
    if h.kind in BETWEEN_ARMS:  # the pilot against the reference arm: a wrong way is harm
        out["harm"] = away(null)
    if margin is not None:
        out["margin"] = toward(null - margin if up else null + margin)
    return out


def judge(
    plan: AnalysisPlan, deciding: Mapping[str, Estimate], adjusted: Mapping[str, float | None]
) -> dict[str, Judgement]:
    """The verdict of every hypothesis from its deciding estimate; every criterion test is
    adjusted within the family by the family's correction, as the p-values are."""
    raw: dict[str, dict[str, float]] = {k: {} for k in CRITERION_TESTS}
    for h in plan.hypotheses:
        est = deciding[h.id]
        if est.estimable and adjusted[h.id] is not None:
            for k, p in _criterion_tests(h, est, plan.alpha).items():
                raw[k][h.id] = p
    tested = {k: adjust_within_families(plan, v) for k, v in raw.items()}
    out: dict[str, Judgement] = {}
    for h in plan.hypotheses:
        est, p_adj = deciding[h.id], adjusted[h.id]
        evidence = {k: tested[k][h.id] for k in CRITERION_TESTS}

        def shown(test: str, evidence: Mapping[str, float | None] = evidence) -> bool:
            value = evidence[test]
            return value is not None and value < plan.alpha

        v = verdict(h, est, p_adj, plan.alpha)
        if v != "not_estimable" and h.criterion.rule == "bound":
            evidence["met"] = evidence["min_effect"]
            v = "met" if shown("met") else "not_met" if shown("not_met") else "inconclusive"
        elif v in ("not_met", "inconclusive") and evidence["not_met"] is not None:
            # 'not met' on the same adjusted evidence as 'met': the reverse test rejects
            v = "not_met" if shown("not_met") else "inconclusive"
        elif v == "not_met" and h.alternative == "two-sided":
            v = "inconclusive"  # no threshold to rule out: nothing can be 'not met'

        # a margin shown answers 'no disadvantage larger than the margin', unless the data
        # show a disadvantage (harm, or an effect shown the other way of no effect)
        shown_short = v == "not_met" and threshold(h, est.scale) == NULL_VALUE[est.scale]
        if (
            v in ("not_met", "inconclusive")
            and shown("margin")
            and not shown("harm")
            and not shown_short
        ):
            v = "equivalent" if h.alternative == "two-sided" else "non_inferior"
        harm = None if evidence["harm"] is None else shown("harm")
        out[h.id] = Judgement(v, harm, evidence)
    return out


def threshold(h: Hypothesis, scale: str) -> float:
    """The criterion's min_effect, or the value of no effect on ``scale``."""
    m = h.criterion.min_effect
    return NULL_VALUE[scale] if m is None else m


def criterion_text(h: Hypothesis, scale: str, alpha: float) -> str:
    """The success criterion in words."""
    m, null, margin = threshold(h, scale), NULL_VALUE[scale], h.criterion.margin
    bound = h.criterion.rule == "bound"
    if h.alternative == "two-sided":
        if bound:
            text = f"adjusted test shows |effect - {null:g}| > {abs(m - null):g} at {alpha:g}"
        else:
            text = f"|estimate - {null:g}| >= {abs(m - null):g} and adjusted p < {alpha:g}"
        if margin is not None:
            text += f"; else equivalent if adjusted TOST shows |effect - {null:g}| < {margin:g}"
        return text
    up = h.alternative == "greater"
    if bound:
        text = f"adjusted test shows effect {'>' if up else '<'} {m:g} at {alpha:g}"
    else:
        text = f"estimate {'>=' if up else '<='} {m:g} and adjusted p < {alpha:g}"
    if margin is not None:
        limit = null - margin if up else null + margin
        text += f"; else non-inferior if adjusted test shows effect {'>' if up else '<'} {limit:g}"
    return text


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

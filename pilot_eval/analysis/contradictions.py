"""Automatic detection of contradictory results, each explained in plain words.

Parliament asked how contradictory results are documented; these checks run on every
hypothesis and every one that fires is listed in results.json and in the report:

* ``pooled_vs_stratified``: the pooled difference (all vacancies thrown together) and the
  within-vacancy estimate point in opposite directions, and at least one of them is
  significant: Simpson's paradox, typically because groups apply to vacancies with
  different pass rates.
* ``tests_disagree``: the tests of one hypothesis fall on opposite sides of alpha (for
  example the z-test and Fisher's exact test, or the pooled and the clustered test).
* ``subgroups_opposite``: subgroups (departments by default) with significant effects of
  opposite sign; reported with Cochran's Q test of heterogeneity.
* ``robustness_flip``: a declared robustness specification changes the sign or the
  verdict of a hypothesis.

Checks use unadjusted p-values at the plan's alpha: they are diagnostics of one
hypothesis, not new hypotheses.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats

from pilot_eval.analysis.inference import NULL_VALUE
from pilot_eval.analysis.records.statistics import (
    Contradiction,
    Heterogeneity,
    SubgroupAnalysis,
    SubgroupEstimate,
)
from pilot_eval.analysis.results import Estimate

CHECKS = ("pooled_vs_stratified", "tests_disagree", "subgroups_opposite", "robustness_flip")
"""Contradiction kinds this version checks (listed in results.json)."""

WITHIN = ("lpm_fe", "mantel_haenszel")
"""Estimators that compare within vacancies."""


def _direction(e: Estimate) -> int:
    """+1 / -1 / 0: the side of the value of no effect the estimate lies on."""
    if e.estimate is None:
        return 0
    null = NULL_VALUE[e.scale]
    return int(np.sign(e.estimate - null))


def _significant(e: Estimate, alpha: float) -> bool:
    return e.p_value is not None and e.p_value < alpha


def pooled_vs_stratified(
    h_id: str, estimates: Mapping[str, Estimate], alpha: float
) -> list[Contradiction]:
    """Pooled and within-vacancy estimates on opposite sides of no effect."""
    pooled = estimates.get("difference_pooled")
    if pooled is None or not pooled.estimable:
        return []
    found = []
    for name in WITHIN:
        within = estimates.get(name)
        if within is None or not within.estimable:
            continue
        a, b = _direction(pooled), _direction(within)
        if a * b < 0 and (_significant(pooled, alpha) or _significant(within, alpha)):
            found.append(
                Contradiction(
                    hypothesis=h_id,
                    kind="pooled_vs_stratified",
                    estimators=["difference_pooled", name],
                    detail=(
                        f"All vacancies pooled, the difference is {pooled.estimate:+.4g} "
                        f"(p = {pooled.p_value:.3g}); compared within vacancies ({name}) it is "
                        f"{within.estimate:.4g} on the {within.scale} scale (p = "
                        f"{within.p_value:.3g}), the opposite direction. The groups are spread "
                        "unevenly over vacancies with different pass rates (Simpson's "
                        "paradox); the within-vacancy comparison is the one the plan relies on."
                    ),
                )
            )
    return found


def tests_disagree(
    h_id: str, estimates: Mapping[str, Estimate], alpha: float
) -> list[Contradiction]:
    """Tests of one hypothesis on opposite sides of alpha."""
    usable = {n: e for n, e in estimates.items() if e.estimable}
    below = sorted(n for n, e in usable.items() if _significant(e, alpha))
    above = sorted(n for n in usable if n not in below)
    if not below or not above:
        return []
    p = {n: usable[n].p_value for n in usable}
    listing = ", ".join(f"{n} p = {p[n]:.3g}" for n in sorted(p))
    return [
        Contradiction(
            hypothesis=h_id,
            kind="tests_disagree",
            estimators=sorted(usable),
            significant=below,
            not_significant=above,
            detail=(
                f"At alpha = {alpha:g} the tests disagree ({listing}). Significant: "
                f"{', '.join(below)}; not significant: {', '.join(above)}. Tests that ignore "
                "the clustering of applications in vacancies (pooled, z, Fisher) are too "
                "confident when vacancies differ; the small-sample exact test is more "
                "conservative than the z-test. The verdict follows the plan's deciding test."
            ),
        )
    ]


def cochran_q(values: Sequence[float], errors: Sequence[float]) -> tuple[float, int, float]:
    """Cochran's Q test of equal effects: Q = sum w (b - b_w)^2, w = 1/se^2, df = k - 1."""
    b = np.asarray(values, dtype=float)
    w = 1 / np.asarray(errors, dtype=float) ** 2
    pooled = float(np.sum(w * b) / np.sum(w))
    q = float(np.sum(w * (b - pooled) ** 2))
    df = len(b) - 1
    return q, df, float(stats.chi2.sf(q, df)) if df > 0 else math.nan


def subgroups_opposite(
    h_id: str, column: str, by_subgroup: Mapping[str, Estimate], alpha: float
) -> tuple[SubgroupAnalysis, list[Contradiction]]:
    """Heterogeneity across subgroups and the contradiction when significant signs differ.

    Returns the heterogeneity summary (always) and the contradictions (possibly none).
    """
    usable = {
        k: e
        for k, e in by_subgroup.items()
        if e.estimable and e.std_error is not None and e.std_error > 0
    }
    het = None
    if len(usable) >= 2:
        q, df, p = cochran_q(
            [float(e.estimate) for e in usable.values()],  # type: ignore[arg-type]
            [float(e.std_error) for e in usable.values()],  # type: ignore[arg-type]
        )
        het = Heterogeneity(
            test="Cochran's Q",
            statistic=q,
            df=df,
            p_value=p,
            null_hypothesis=f"the effect is the same in every {column}",
        )
    summary = SubgroupAnalysis(
        column=column,
        subgroups={
            k: SubgroupEstimate(
                estimate=e.estimate,
                std_error=e.std_error,
                p_value=e.p_value,
                n_vacancies=e.n_vacancies,
                reason=e.reason,
            )
            for k, e in sorted(by_subgroup.items())
        },
        heterogeneity=het,
    )
    positive = sorted(k for k, e in usable.items() if _significant(e, alpha) and _direction(e) > 0)
    negative = sorted(k for k, e in usable.items() if _significant(e, alpha) and _direction(e) < 0)
    if not positive or not negative:
        return summary, []
    het_text = "" if het is None else f" Cochran's Q = {het.statistic:.3g}, p = {het.p_value:.3g}."
    return summary, [
        Contradiction(
            hypothesis=h_id,
            kind="subgroups_opposite",
            column=column,
            positive=positive,
            negative=negative,
            detail=(
                f"Within {column}, the effect is significantly positive in {', '.join(positive)} "
                f"and significantly negative in {', '.join(negative)}.{het_text} The overall "
                "estimate averages effects that go in opposite directions, as earlier field "
                "experiments found where employers already favoured or disfavoured a group."
            ),
        )
    ]


def robustness_flip(
    h_id: str,
    spec_id: str,
    main: Estimate,
    main_verdict: str | None,
    alt: Estimate,
    alt_verdict: str | None,
) -> list[Contradiction]:
    """A robustness specification that changes the sign or the verdict (verdicts None:
    compare signs only, as when the specification reports on another scale)."""
    if not main.estimable or not alt.estimable:
        return []
    sign_flip = _direction(main) * _direction(alt) < 0
    if not sign_flip and main_verdict == alt_verdict:
        return []
    what = "the sign of the estimate" if sign_flip else "the verdict"
    return [
        Contradiction(
            hypothesis=h_id,
            kind="robustness_flip",
            specification=spec_id,
            detail=(
                f"Robustness specification {spec_id} changes {what}: main {main.estimator} "
                f"{main.estimate:.4g} ({main_verdict or main.scale}), under {spec_id} "
                f"{alt.estimator} {alt.estimate:.4g} ({alt_verdict or alt.scale}). The "
                "conclusion depends on this choice "
                "of analysis and should be read with that in mind."
            ),
        )
    ]

"""Minimum detectable effects before the data: can the planned pilot answer its questions?

``pilot-eval power`` gives, per hypothesis, the smallest true effect that the planned
numbers of vacancies and applications detect with 80% power, from normal approximations
(Bloom 1995; Donner & Klar 2000 for the design effect):

    MDE = (z_{1-a} + z_{power}) * sqrt(Var),   a = alpha (one-sided) or alpha/2 (two-sided)

with a the family's level after a Bonferroni split over its hypotheses (Holm's first
step; conservative for fdr_bh) and Var the sampling variance of the estimate:

* pool_share: q(1-q) * Deff * (1/n_arm + 1/n_ref), with q the focal share, n the
  applications with a reported value per arm and Deff = 1 + (m - 1) ICC for m applications
  per vacancy (the share varies between vacancies);
* stage_gap: p(1-p) (1/n_focal + 1/n_ref) among applications that reached ``from`` in the
  arm (vacancy fixed effects remove the between-vacancy variance: no design effect);
* gap_difference: p(1-p) summed over the four arm x group cells;
* impact_ratio: on the log scale, (1-p)/p (1/n_focal + 1/n_ref); reported as a ratio below 1;
* score_gap: 1/n_focal + 1/n_ref on the standardised (Hedges' g) scale.

These are planning figures; the minimum detectable effect reported with each result uses
the real design (its standard error, with the vacancy-clustered structure of the data).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scipy import stats

from pilot_eval.analysis.inference import family_level
from pilot_eval.plan.model import STAGES, AnalysisPlan, Hypothesis

DEFAULT_STAGE_RATES = (0.25, 0.85, 0.30, 0.85)
"""Transition rates applied->invited->interviewed->offered->hired assumed when not given."""

DEFAULT_SHARES: Mapping[str, Mapping[str, float]] = {
    "origin": {"netherlands": 0.75, "europe": 0.08, "outside_europe": 0.17},
    "gender": {"female": 0.5, "male": 0.49, "other": 0.01},
    "age_band": {"<30": 0.3, "30-44": 0.4, "45-54": 0.18, "55+": 0.12},
    "disability": {"true": 0.08, "false": 0.92},
}
"""Shares among applicants who report a value (origin: CBS herkomstland, about 2023)."""


@dataclass(frozen=True)
class PowerSettings:
    """Assumptions of the planning calculation.

    Attributes
    ----------
    vacancies:
        Vacancies in the evaluation (all arms).
    applications_per_vacancy:
        Average applications per vacancy.
    icc:
        Intra-vacancy correlation of group membership (pool_share design effect).
    arm_share:
        Share of the vacancies in the compared arm (the rest in the reference arm).
    missing:
        Share of applications without the group value.
    stage_rates:
        Four transition rates between consecutive stages.
    power:
        Target power.
    """

    vacancies: int
    applications_per_vacancy: float
    icc: float = 0.02
    arm_share: float = 0.5
    missing: float = 0.2
    stage_rates: tuple[float, float, float, float] = DEFAULT_STAGE_RATES
    power: float = 0.8


def _shares(plan: AnalysisPlan, h: Hypothesis) -> tuple[float, float]:
    g = plan.groups[h.group]
    known = DEFAULT_SHARES.get(g.column)
    if known is None:  # a column without known shares: assume halves
        return 0.5, 0.5
    return sum(known.get(v, 0.0) for v in g.focal), sum(known.get(v, 0.0) for v in g.reference)


def _reach(rates: Sequence[float], stage: str) -> float:
    return math.prod(rates[: STAGES.index(stage)])


def _rate(rates: Sequence[float], start: str, end: str) -> float:
    return math.prod(rates[STAGES.index(start) : STAGES.index(end)])


def variance(plan: AnalysisPlan, h: Hypothesis, s: PowerSettings) -> float:
    """Sampling variance of the estimate under the settings (module docstring)."""
    focal, ref = _shares(plan, h)
    apps = s.vacancies * s.applications_per_vacancy * (1 - s.missing)
    # share of vacancies in the one arm a within-arm comparison looks at
    in_arm = s.arm_share if plan.arm_of(h) != plan.reference_arm else 1 - s.arm_share
    if h.kind == "pool_share":
        q = focal
        deff = 1 + (s.applications_per_vacancy * (1 - s.missing) - 1) * s.icc
        return q * (1 - q) * deff * (1 / (apps * s.arm_share) + 1 / (apps * (1 - s.arm_share)))
    if h.kind == "score_gap":
        n = apps * in_arm
        return 1 / (n * focal) + 1 / (n * ref)
    if h.stage is None:  # guaranteed by the plan's checks
        raise ValueError(f"{h.id} needs a stage")
    at_risk = apps * _reach(s.stage_rates, h.stage.from_)
    p = _rate(s.stage_rates, h.stage.from_, h.stage.to)
    if h.kind == "gap_difference":
        cells = [at_risk * a * g for a in (s.arm_share, 1 - s.arm_share) for g in (focal, ref)]
        return p * (1 - p) * sum(1 / n for n in cells)
    n = at_risk * in_arm
    if h.kind == "impact_ratio":
        return (1 - p) / p * (1 / (n * focal) + 1 / (n * ref))
    return p * (1 - p) * (1 / (n * focal) + 1 / (n * ref))


def minimum_detectable(plan: AnalysisPlan, h: Hypothesis, s: PowerSettings) -> float:
    """The minimum detectable effect on the hypothesis' scale (a ratio for impact ratios)."""
    a = family_level(plan, h)
    tail = a / 2 if h.alternative == "two-sided" else a
    q = float(stats.norm.ppf(1 - tail) + stats.norm.ppf(s.power))
    mde = q * math.sqrt(variance(plan, h, s))
    if h.kind == "impact_ratio":
        return math.exp(-mde)
    return -mde if h.alternative == "less" else mde


def power_table(plan: AnalysisPlan, s: PowerSettings, all_families: bool = False) -> str:
    """A plain-text table of minimum detectable effects per hypothesis (by default those
    of the plan's first, primary family)."""
    family = None if all_families else plan.primary_family
    lines = [
        f"Minimum detectable effects at {s.power:.0%} power: {s.vacancies} vacancies, "
        f"{s.applications_per_vacancy:g} applications per vacancy, ICC {s.icc:g}, "
        f"{s.arm_share:.0%} of vacancies in the compared arm, {s.missing:.0%} missing "
        "demographics.",
        "",
        f"{'id':<6} {'kind':<15} {'alternative':<11} {'level':>8} {'MDE':>9}  scale",
    ]
    for h in plan.hypotheses:
        if family is not None and h.family != family:
            continue
        mde = minimum_detectable(plan, h, s)
        scale = {"impact_ratio": "ratio", "score_gap": "Hedges' g"}.get(h.kind, "difference")
        lines.append(
            f"{h.id:<6} {h.kind:<15} {h.alternative:<11} {family_level(plan, h):>8.4f} "
            f"{mde:>9.4f}  {scale}"
        )
    return "\n".join(lines)

"""How much vacancies differ: intraclass correlations and vacancy-level SDs of gaps.

Applicants of one vacancy share its text, committee and labour market, so their group
membership, their chance of passing a stage and their scores are correlated, and a gap
between groups differs from vacancy to vacancy. A test that counts applicants as independent
then finds differences that are not there; a design diagnosis that draws applicants
independently of their vacancy cannot show it. The design diagnosis draws them with the
heterogeneity estimated here from a data bundle (or declared in the plan's
``diagnosis.heterogeneity``):

* the intraclass correlation (ICC) of a 0/1 outcome or a score, by the one-way analysis of
  variance estimator for unequal cluster sizes (Donner 1986, *International Statistical
  Review* 54(1); Shrout & Fleiss ICC(1) with the average cluster size ``n0``),
  set to 0 when negative;
* the SD across vacancies of a gap between two groups, as the between-study SD of a
  random-effects meta-analysis of the vacancies' gaps (DerSimonian & Laird 1986,
  *Controlled Clinical Trials* 7(3)), each weighted by the inverse of its sampling
  variance ``s_f^2 / n_f + s_r^2 / n_r``, with ``s^2`` each group's within-vacancy
  variance averaged over vacancies (``p(1 - p) n / (n - 1)`` for proportions), so that no
  vacancy's weight follows its own estimate; set to 0 when negative. Only vacancies with at
  least five applicants of each group count, and at least ten of them are needed: with
  fewer the estimate is mostly noise and the value is 0 unless the plan declares one.

Estimates use the reference arm, where the pilot changes nothing; a score observed only in
another arm is estimated over all arms.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from statsmodels.stats.meta_analysis import combine_effects

from pilot_eval.plan.model import TRANSITION_NAMES, AnalysisPlan, Diagnosis

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

MIN_PER_GROUP = 5
"""Applicants of each group a vacancy needs to count in the SD of a gap."""
MIN_VACANCIES = 10
"""Vacancies a gap's SD needs; with fewer the bundle cannot tell and the value is 0."""


def anova_icc(values: FloatArray, clusters: npt.NDArray[Any]) -> float | None:
    """The one-way ANOVA intraclass correlation (MSB - MSW) / (MSB + (n0 - 1) MSW), with
    ``n0 = (N - sum n_i^2 / N) / (G - 1)``, set to 0 when negative; None with fewer than two
    clusters, no replication within clusters or no variation within them."""
    values = np.asarray(values, dtype=np.float64)
    _, inverse = np.unique(clusters, return_inverse=True)
    n = np.bincount(inverse).astype(np.float64)
    g, total = n.size, values.size
    if g < 2 or total - g < 1:
        return None
    means = np.bincount(inverse, weights=values) / n
    msb = float(n @ (means - values.mean()) ** 2) / (g - 1)
    msw = float(np.sum((values - means[inverse]) ** 2)) / (total - g)
    if msw <= 0:  # every vacancy uniform: the bundle cannot tell how much they differ
        return None
    n0 = (total - float(n @ n) / total) / (g - 1)
    denominator = msb + (n0 - 1) * msw
    if denominator <= 0:
        return None
    return max(0.0, (msb - msw) / denominator)


def gap_sd(
    outcome: FloatArray,
    focal: BoolArray,
    reference: BoolArray,
    clusters: npt.NDArray[Any],
    proportion: bool,
) -> float | None:
    """SD across vacancies of the focal-minus-reference gap in the mean of ``outcome`` (a
    proportion when ``proportion``): the DerSimonian-Laird between-study SD of the
    vacancies' gaps (``statsmodels.stats.meta_analysis.combine_effects``); None when fewer
    than ``MIN_VACANCIES`` vacancies have ``MIN_PER_GROUP`` applicants of each group."""
    frame = pd.DataFrame(
        {"y": np.asarray(outcome, dtype=np.float64), "f": focal, "r": reference, "v": clusters}
    )
    frame = frame[frame["f"] | frame["r"]]
    stats = frame.groupby(["v", "f"], sort=True)["y"].agg(["mean", "var", "count"]).unstack("f")
    if stats.shape[1] < 6:
        return None
    n_f, n_r = stats[("count", True)], stats[("count", False)]
    keep = ((n_f >= MIN_PER_GROUP) & (n_r >= MIN_PER_GROUP)).to_numpy()
    if int(keep.sum()) < MIN_VACANCIES:
        return None
    count_f, count_r = n_f.to_numpy()[keep], n_r.to_numpy()[keep]
    m_f = stats[("mean", True)].to_numpy()[keep]
    m_r = stats[("mean", False)].to_numpy()[keep]
    # each group's within-vacancy variance averaged over vacancies (unbiased per vacancy):
    # weights that do not follow each vacancy's own estimate keep Q from being inflated
    if proportion:
        s2_f = float(np.mean(m_f * (1 - m_f) * count_f / (count_f - 1)))
        s2_r = float(np.mean(m_r * (1 - m_r) * count_r / (count_r - 1)))
    else:
        s2_f = float(np.mean(stats[("var", True)].to_numpy()[keep]))
        s2_r = float(np.mean(stats[("var", False)].to_numpy()[keep]))
    v_f, v_r = max(s2_f, 1e-12) / count_f, max(s2_r, 1e-12) / count_r
    with np.errstate(invalid="ignore"):  # its random-effects SEs at a negative tau^2
        result = combine_effects(m_f - m_r, v_f + v_r, method_re="dl")
    return math.sqrt(max(float(result.tau2), 0.0))


# --------------------------------------------------------------------------------------
# from a bundle


@dataclass(frozen=True)
class Estimated:
    """Heterogeneity estimated from a bundle, in the shape of ``diagnosis.heterogeneity``
    (values the bundle cannot tell are left out)."""

    membership: Mapping[str, float]
    stages: Mapping[str, float]
    scores: Mapping[str, float]
    gap_sd: Mapping[str, Mapping[str, float]]
    score_gap_sd: Mapping[str, Mapping[str, float]]


def estimate_heterogeneity(
    apps: pd.DataFrame, arm: pd.Series, plan: AnalysisPlan, text: Mapping[str, pd.Series]
) -> Estimated:
    """Heterogeneity of ``apps`` (module docstring); ``arm`` is each application's arm and
    ``text`` each group column as text."""
    in_ref = (arm == plan.reference_arm).to_numpy()
    vacancy = apps["vacancy_id"].astype("str").to_numpy()
    stage = apps["stage_reached"].cat.codes.to_numpy()
    focal: dict[str, tuple[BoolArray, BoolArray]] = {}
    membership: dict[str, list[float]] = {}
    for name, spec in plan.groups.items():
        values = text[spec.column]
        is_focal = values.isin(spec.focal).to_numpy()
        is_ref = values.isin(spec.reference).to_numpy()
        focal[name] = (is_focal, is_ref)
        known = in_ref & values.notna().to_numpy()
        icc = anova_icc(is_focal[known].astype(np.float64), vacancy[known])
        if icc is not None:
            membership.setdefault(spec.column, []).append(icc)
    stages: dict[str, float] = {}
    gaps: dict[str, dict[str, float]] = {}
    for i, name in enumerate(TRANSITION_NAMES):
        at_risk = in_ref & (stage >= i)
        passed = (stage >= i + 1).astype(np.float64)
        icc = anova_icc(passed[at_risk], vacancy[at_risk])
        if icc is not None:
            stages[name] = icc
        for group, (is_focal, is_ref) in focal.items():
            sd = gap_sd(passed[at_risk], is_focal[at_risk], is_ref[at_risk], vacancy[at_risk], True)
            if sd is not None:
                gaps.setdefault(group, {})[name] = sd
    scores: dict[str, float] = {}
    score_gaps: dict[str, dict[str, float]] = {}
    for column in plan.score_columns():
        raw = apps[column].to_numpy(dtype=np.float64, na_value=np.nan)
        seen = np.isfinite(raw)
        rows = seen & in_ref if (seen & in_ref).sum() > 1 else seen
        if rows.sum() < 2:
            continue
        standardised = (raw - raw[rows].mean()) / (raw[rows].std(ddof=1) or 1.0)
        icc = anova_icc(standardised[rows], vacancy[rows])
        if icc is not None:
            scores[column] = icc
        for group, (is_focal, is_ref) in focal.items():
            sd = gap_sd(standardised[rows], is_focal[rows], is_ref[rows], vacancy[rows], False)
            if sd is not None:
                score_gaps.setdefault(group, {})[column] = sd
    return Estimated(
        membership={c: float(np.mean(v)) for c, v in sorted(membership.items())},
        stages=stages,
        scores=scores,
        gap_sd=gaps,
        score_gap_sd=score_gaps,
    )


# --------------------------------------------------------------------------------------
# what a simulation uses


@dataclass(frozen=True)
class Value:
    """One heterogeneity value and where it comes from: plan, data or default."""

    value: float
    source: str

    def as_json(self) -> dict[str, Any]:
        """Results form."""
        return {"value": self.value, "source": self.source}


@dataclass(frozen=True)
class Effective:
    """The heterogeneity a simulation draws with: plan first, then the bundle, then 0
    (stages without an ICC: logit-normal with ``vacancy_sd``)."""

    membership: Mapping[str, Value]
    stages: tuple[Value | None, ...]
    vacancy_sd: Value
    scores: Mapping[str, Value]
    gap_sd: Mapping[tuple[str, int], Value]
    score_gap_sd: Mapping[tuple[str, str], Value]

    def as_json(self) -> list[dict[str, Any]]:
        """Results form: one record per value, with what it is about."""
        rows: list[dict[str, Any]] = [
            {"kind": "membership", "column": c, **v.as_json()} for c, v in self.membership.items()
        ]
        for name, stage in zip(TRANSITION_NAMES, self.stages, strict=True):
            start, end = name.split("->")
            if stage is None:
                rows.append(
                    {"kind": "vacancy_sd", "from": start, "to": end, **self.vacancy_sd.as_json()}
                )
            else:
                rows.append({"kind": "stages", "from": start, "to": end, **stage.as_json()})
        rows += [{"kind": "scores", "score": c, **v.as_json()} for c, v in self.scores.items()]
        for (group, t), v in self.gap_sd.items():
            start, end = TRANSITION_NAMES[t].split("->")
            rows.append({"kind": "gap_sd", "group": group, "from": start, "to": end, **v.as_json()})
        rows += [
            {"kind": "score_gap_sd", "group": g, "score": c, **v.as_json()}
            for (g, c), v in self.score_gap_sd.items()
        ]
        return rows


def _pick(declared: Mapping[str, float], estimated: Mapping[str, float], key: str) -> Value:
    if key in declared:
        return Value(float(declared[key]), "plan")
    if key in estimated:
        return Value(float(estimated[key]), "data")
    return Value(0.0, "default")


def effective(plan: AnalysisPlan, d: Diagnosis, estimated: Estimated) -> Effective:
    """Merge the plan's declared heterogeneity with the bundle's estimates."""
    h = d.heterogeneity
    columns = sorted({g.column for g in plan.groups.values()})
    explicit_sd = "vacancy_sd" in d.model_fields_set
    stages: list[Value | None] = []
    for name in TRANSITION_NAMES:
        if name in h.stages:
            stages.append(Value(float(h.stages[name]), "plan"))
        elif not explicit_sd and name in estimated.stages:
            stages.append(Value(float(estimated.stages[name]), "data"))
        else:
            stages.append(None)
    empty: dict[str, float] = {}
    return Effective(
        membership={c: _pick(h.membership, estimated.membership, c) for c in columns},
        stages=tuple(stages),
        vacancy_sd=Value(d.vacancy_sd, "plan" if explicit_sd else "default"),
        scores={s: _pick(h.scores, estimated.scores, s) for s in plan.score_columns()},
        gap_sd={
            (g, t): _pick(h.gap_sd.get(g, empty), estimated.gap_sd.get(g, empty), name)
            for g in sorted(plan.groups)
            for t, name in enumerate(TRANSITION_NAMES)
        },
        score_gap_sd={
            (g, s): _pick(h.score_gap_sd.get(g, empty), estimated.score_gap_sd.get(g, empty), s)
            for g in sorted(plan.groups)
            for s in plan.score_columns()
        },
    )


def beta_rates(rng: np.random.Generator, mean: float, icc: float, size: int) -> FloatArray:
    """Vacancy probabilities with mean ``mean`` whose 0/1 outcomes have intraclass
    correlation ``icc``: Beta(mean (1 - icc) / icc, (1 - mean) (1 - icc) / icc)."""
    if icc <= 0:
        return np.full(size, mean)
    k = (1 - icc) / icc
    out: FloatArray = rng.beta(mean * k, (1 - mean) * k, size=size)
    return out


def dirichlet_shares(
    rng: np.random.Generator, shares: FloatArray, icc: float, size: int
) -> FloatArray:
    """Each vacancy's shares of the values, mean ``shares``, with intraclass correlation
    ``icc`` of each value's indicator: Dirichlet(shares (1 - icc) / icc)."""
    if icc <= 0:
        return np.tile(shares, (size, 1))
    out: FloatArray = rng.dirichlet(shares * (1 - icc) / icc, size=size)
    return out

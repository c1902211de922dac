"""Design diagnosis by simulation: what the locked plan can tell, before the outcomes.

In the manner of DeclareDesign's ``diagnose_design`` (Blair, Cooper, Coppock & Humphreys
2019, *American Political Science Review* 113(3)), for the whole plan: the design (its
vacancies, blocks, arms and assignment mechanism, applications per vacancy, group shares,
missing demographics, stage rates) is simulated many times under the true effects the
plan's ``diagnosis`` section declares, and once more under no effect at all; every
hypothesis of the plan is estimated on each simulated bundle with the test that decides
it (``decided_by``), adjusted within its family and judged by its criterion, exactly as
``run`` does. Subgroup checks, robustness specifications and descriptive tables decide no
verdict and are not simulated.

The design comes from a data bundle (``--data``: its vacancies, blocks, arms and sizes; the
shares and missingness of the group columns by arm; the transition rates of the reference
arm), or from the synthetic generator (``--simulate``). In each simulation:

* arms are re-drawn as the plan's assignment says (within blocks, or over all vacancies);
  matched and self-selected designs keep the observed arms;
* vacancies differ (``pilot_eval.analysis.heterogeneity``; every value from the plan's
  ``diagnosis.heterogeneity`` or else estimated from the bundle's reference arm), in every
  scenario, the one without effect included;
* each vacancy has its own shares of a group column's values (Dirichlet around the
  reference arm's shares of known values, with the column's intraclass correlation); each
  application's value is drawn from its vacancy's shares, missing with the arm's share of
  missing values; a declared ``pool_share`` change moves applicants of the reference group
  to the focal group in that arm (or back);
* each vacancy has its own probability of each transition (Beta around the reference arm's
  rate with the transition's intraclass correlation; logit-normal with standard deviation
  ``vacancy_sd`` where neither plan nor bundle gives one); a focal applicant's probability
  is shifted by the declared gap of its arm, clipped to [0.01, 0.99]; before that, each
  vacancy's gap deviates from it (normal with the gap's SD across vacancies, split half up
  for the focal and half down for the reference group on the logit scale, so that its mean
  over vacancies is exactly the declared one);
* with ``stage_correlation`` above 0 an applicant's transitions share a latent ability
  (Gaussian copula with that correlation): each transition keeps its probability, but whoever
  passes an earlier stage despite a penalty is stronger at the next one;
* scores are standard normal with a vacancy part of the score's intraclass correlation,
  plus the declared standardised difference and the vacancy's deviation from it for the
  focal group, observed with the arm's share of observed scores.

The true value of each hypothesis follows from the declared effects: the declared change
(pool_share), gap (stage_gap) or difference of gaps (gap_difference); for an impact ratio
``(r + gap) / r`` with ``r`` the mean reference rate over vacancies; the declared
standardised difference (score_gap). Under no effect the true value is exactly 0 (or 1 for
ratios); with effects, clipping and the selection of applicants into later stages make the
declared values approximations, and bias and coverage are measured against them.

Per hypothesis and scenario (Morris, White & Crowther 2019, *Statistics in Medicine* 38,
table 6, for the Monte Carlo standard errors): power (adjusted p below alpha) and the
share of runs whose criterion is met; bias, RMSE and coverage of the interval; under no
effect the type-I error of the test (its p below alpha) and after adjustment, flagged when it
exceeds ``INFLATION`` (1.5) times alpha; the type-S
error (significant with the wrong sign) and the exaggeration ratio (mean |estimate| /
|truth| among significant runs; Gelman & Carlin 2014, *Perspectives on Psychological
Science* 9(6)). Each run has its own child of ``SeedSequence(seed).spawn(sims)``, so the
results do not depend on how many workers run them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import special

from pilot_eval.analysis.estimators import Context, estimate
from pilot_eval.analysis.heterogeneity import (
    Estimated,
    beta_rates,
    dirichlet_shares,
    effective,
    estimate_heterogeneity,
)
from pilot_eval.analysis.hypotheses import Analysis, verdicts
from pilot_eval.data.bundle import Bundle
from pilot_eval.data.frame import analysis_frame, comparison_sample
from pilot_eval.errors import PilotEvalError
from pilot_eval.plan.model import (
    ESTIMATOR_SCALES,
    NO_EFFECT,
    RANDOMISED,
    STAGES,
    AnalysisPlan,
    Diagnosis,
    Hypothesis,
)
from pilot_eval.progress import silenced

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MIN_SIMS = 30
"""Fewer simulations than this give Monte Carlo errors too large to read; a warning says so."""

INFLATION = 1.5
"""A deciding test whose type-I error under no effect exceeds this many times alpha is
flagged: its verdicts claim more certainty than the design gives."""

CLIP = (0.01, 0.99)
SCENARIOS = ("declared", "null")
CHUNK = 10
"""Simulations per task sent to a worker."""


@dataclass(frozen=True)
class ColumnModel:
    """How one group column is drawn: missing share by arm, known values and their shares."""

    missing: Mapping[str, float]
    values: tuple[str, ...]
    shares: tuple[float, ...]


@dataclass(frozen=True)
class DesignModel:
    """Everything a simulated bundle is drawn from.

    Attributes
    ----------
    vacancies:
        The vacancies table (typed, as a bundle holds it).
    sizes:
        Applications per vacancy, aligned with ``vacancies``.
    columns:
        Group column -> how it is drawn.
    base_rates:
        Reference-arm probability of each of the four transitions.
    scores:
        Score column -> arm -> share of applications with an observed score.
    templates:
        Column -> a typed empty series whose dtype the simulated column takes.
    source:
        ``data`` or ``simulate``.
    estimated:
        Heterogeneity between vacancies estimated from the bundle
        (``pilot_eval.analysis.heterogeneity``).
    """

    vacancies: pd.DataFrame
    sizes: IntArray
    columns: Mapping[str, ColumnModel]
    base_rates: tuple[float, ...]
    scores: Mapping[str, Mapping[str, float]]
    templates: Mapping[str, pd.Series]
    source: str
    estimated: Estimated

    def summary(self) -> dict[str, Any]:
        """The design in results form."""
        return {
            "source": self.source,
            "n_vacancies": len(self.vacancies),
            "n_applications": int(self.sizes.sum()),
            "vacancies_by_arm": {
                str(k): int(v) for k, v in self.vacancies["arm"].value_counts().sort_index().items()
            },
            "transition_rates": {
                f"{a}->{b}": r for (a, b), r in zip(_transitions(), self.base_rates, strict=True)
            },
            "missing_by_arm": {c: dict(m.missing) for c, m in self.columns.items()},
        }


def _transitions() -> list[tuple[str, str]]:
    return list(itertools.pairwise(STAGES))


def _text(s: pd.Series) -> pd.Series:
    if isinstance(s.dtype, pd.BooleanDtype):
        s = s.map({True: "true", False: "false"})
    return s.astype("string")


def design_from_bundle(bundle: Bundle, plan: AnalysisPlan, source: str) -> DesignModel:
    """Learn the design of ``bundle``: sizes, group columns by arm, reference-arm rates."""
    vac, apps = bundle.vacancies, bundle.applications
    ref = plan.reference_arm
    sizes = (
        apps["vacancy_id"].value_counts().reindex(vac["vacancy_id"], fill_value=0).to_numpy()
    ).astype(np.int64)
    arm = apps["vacancy_id"].map(dict(zip(vac["vacancy_id"], vac["arm"], strict=True)))
    columns: dict[str, ColumnModel] = {}
    templates: dict[str, pd.Series] = {}
    for column in dict.fromkeys(g.column for g in plan.groups.values()):
        text = _text(apps[column])
        missing = {a: float(text[arm == a].isna().mean()) for a in plan.design.arms}
        known = text[(arm == ref) & text.notna()]
        if known.empty:
            known = text.dropna()
        counts = known.value_counts().sort_index()
        columns[column] = ColumnModel(
            missing={a: (0.0 if math.isnan(v) else v) for a, v in missing.items()},
            values=tuple(str(v) for v in counts.index),
            shares=tuple(float(x) for x in counts / counts.sum()),
        )
        templates[column] = apps[column].iloc[:0]
    stage = apps["stage_reached"].cat.codes.to_numpy()
    in_ref = (arm == ref).to_numpy()
    rates = []
    for i in range(len(STAGES) - 1):
        reached = int(np.sum(in_ref & (stage >= i)))
        passed = int(np.sum(in_ref & (stage >= i + 1)))
        rates.append(min(max(passed / reached if reached else 0.5, CLIP[0]), CLIP[1]))
    scores = {
        s: {a: float(apps.loc[(arm == a).to_numpy(), s].notna().mean()) for a in plan.design.arms}
        for s in plan.score_columns()
    }
    scores = {s: {a: 0.0 if math.isnan(v) else v for a, v in m.items()} for s, m in scores.items()}
    templates["stage_reached"] = apps["stage_reached"].iloc[:0]
    as_text = {c: _text(apps[c]) for c in columns}
    estimated = estimate_heterogeneity(apps, arm, plan, as_text)
    return DesignModel(vac, sizes, columns, tuple(rates), scores, templates, source, estimated)


# --------------------------------------------------------------------------------------
# one simulated bundle


def _arms(model: DesignModel, plan: AnalysisPlan, rng: np.random.Generator) -> pd.Series:
    """Re-drawn arms: shuffled within blocks or over all vacancies; kept when not randomised."""
    arm = model.vacancies["arm"].astype("str").to_numpy()
    if plan.design.assignment not in RANDOMISED:
        return pd.Series(arm, index=model.vacancies.index)
    if plan.design.assignment == "block_randomised" and plan.design.block:
        block = pd.factorize(model.vacancies[plan.design.block].astype("str"), sort=True)[0]
    else:
        block = np.zeros(len(arm), dtype=np.int64)
    grouped = np.argsort(block, kind="stable")
    shuffled = np.lexsort((rng.random(len(arm)), block))
    out = np.empty_like(arm)
    out[shuffled] = arm[grouped]
    return pd.Series(out, index=model.vacancies.index)


def simulate_design(
    model: DesignModel, plan: AnalysisPlan, d: Diagnosis, null: bool, seed: np.random.SeedSequence
) -> Bundle:
    """One simulated bundle of the design under the declared effects (or none).

    Kept whole: the random draws follow one another in a fixed order from the run's seed
    (groups, stage rates, gap variation, effects, passing, scores), which a reader checks
    against the module docstring top to bottom; it is also the hot path of the diagnosis
    (``benchmarks/``), where helper calls would pass a dozen arrays each.
    """
    rng = np.random.default_rng(seed)
    het = effective(plan, d, model.estimated)
    arms = _arms(model, plan, rng)
    vac = model.vacancies.assign(arm=arms.astype(model.vacancies["arm"].dtype))
    v = np.repeat(np.arange(len(vac)), model.sizes)
    n = v.size
    # no application ids: nothing in a plan reads them (the analysis frame leaves them out)
    data: dict[str, Any] = {"vacancy_id": vac["vacancy_id"].to_numpy()[v]}
    arm_names, vac_arm = np.unique(arms.to_numpy().astype(str), return_inverse=True)
    arm_code = vac_arm[v]

    def in_arm(name: str) -> npt.NDArray[np.bool_]:
        hit = np.flatnonzero(arm_names == name)
        return arm_code == hit[0] if hit.size else np.zeros(n, dtype=bool)

    def by_arm(value: Mapping[str, float]) -> FloatArray:
        """A per-arm probability for every application."""
        per_arm: FloatArray = np.array([value.get(str(a), 0.0) for a in arm_names], dtype=float)
        return per_arm[arm_code]

    focal: dict[str, npt.NDArray[np.bool_]] = {}
    reference: dict[str, npt.NDArray[np.bool_]] = {}
    for column, cm in model.columns.items():
        # values as codes into ``names`` (-1 missing); groups' first values may be unseen
        groups = [g for g in plan.groups.values() if g.column == column]
        names = list(dict.fromkeys([*cm.values, *(x for g in groups for x in g.focal[:1])]))
        names = list(dict.fromkeys([*names, *(x for g in groups for x in g.reference[:1])]))
        code = {name: i for i, name in enumerate(names)}
        shares = dirichlet_shares(rng, np.array(cm.shares), het.membership[column].value, len(vac))
        # the value whose cumulative share first exceeds a uniform, per vacancy
        cumulative = np.cumsum(shares, axis=1)[v]
        values = np.minimum(
            (rng.random(n)[:, None] * cumulative[:, -1:] >= cumulative).sum(axis=1),
            len(cm.shares) - 1,
        )
        missing = rng.random(n) < by_arm(cm.missing)
        for gname, group in plan.groups.items():
            if group.column != column or null:
                continue
            focal_codes = [code[x] for x in group.focal if x in code]
            reference_codes = [code[x] for x in group.reference if x in code]
            for a, delta in d.pool_share.get(gname, {}).items():
                values = _shift_share(values, in_arm(a), focal_codes, reference_codes, delta, rng)
        values[missing] = -1
        for gname, group in plan.groups.items():
            if group.column == column:
                focal[gname] = np.isin(values, [code[x] for x in group.focal if x in code])
                reference[gname] = np.isin(values, [code[x] for x in group.reference if x in code])
        data[column] = _typed(values, names, model.templates.get(column))
    transitions = _transitions()
    base = np.column_stack(
        [
            beta_rates(rng, rate, icc.value, len(vac))
            if icc is not None
            else 1 / (1 + np.exp(-(_logit(np.array(rate)) + rng.normal(0, d.vacancy_sd, len(vac)))))
            for rate, icc in zip(model.base_rates, het.stages, strict=True)
        ]
    )
    p = base[v]
    # every gap varies by vacancy around its arm's value, with or without an effect: half
    # the vacancy's deviation up for the focal group, half down for the reference group, on
    # the logit scale (an SD in probabilities divided by p(1 - p)), so that the gap's mean
    # over vacancies stays exactly that of the arm
    for (gname, t), sd in het.gap_sd.items():
        if sd.value > 0:
            rate = np.clip(base[:, t], *CLIP)
            half = (rng.normal(0.0, sd.value, len(vac)) / (rate * (1 - rate)) / 2)[v]
            shift = half * focal[gname] - half * reference[gname]
            p[:, t] = 1 / (1 + np.exp(-(_logit(np.clip(p[:, t], *CLIP)) + shift)))
    if not null:
        for gap in d.gaps:
            t = transitions.index((gap.stage.from_, gap.stage.to))
            for a, value in gap.by_arm.items():
                p[:, t] += value * (focal[gap.group] & in_arm(a))
    p = np.clip(p, *CLIP)
    if d.stage_correlation > 0:
        # a shared latent ability: uniform margins, correlated across the transitions
        rho = d.stage_correlation
        ability = rng.standard_normal((n, 1))
        latent = math.sqrt(rho) * ability + math.sqrt(1 - rho) * rng.standard_normal(p.shape)
        passed = special.ndtr(latent) < p
    else:
        passed = rng.random(p.shape) < p
    stage = np.cumprod(passed, axis=1).sum(axis=1)
    data["stage_reached"] = pd.Categorical.from_codes(
        np.asarray(stage, dtype=np.int64), dtype=pd.CategoricalDtype(list(STAGES), ordered=True)
    )
    for score, observed in model.scores.items():
        icc = het.scores[score].value
        drawn = math.sqrt(icc) * rng.standard_normal(len(vac))[v]
        drawn += math.sqrt(1 - icc) * rng.standard_normal(n)
        for (gname, column), sd in het.score_gap_sd.items():
            if column == score and sd.value > 0:
                drawn += rng.normal(0.0, sd.value, len(vac))[v] * focal[gname]
        if not null:
            for sg in d.score_gaps:
                if sg.score == score:
                    for a, smd in sg.by_arm.items():
                        drawn += smd * (focal[sg.group] & in_arm(a))
        seen = rng.random(n) < by_arm(observed)
        data[score] = np.where(seen, drawn, np.nan)
    apps = pd.DataFrame(data)
    return Bundle(folder=Path("."), files={}, vacancies=vac, applications=apps)


def _shift_share(
    values: IntArray,
    in_arm: npt.NDArray[np.bool_],
    focal: Sequence[int],
    reference: Sequence[int],
    delta: float,
    rng: np.random.Generator,
) -> IntArray:
    """Move applicants of the arm between reference and focal group (value codes) so that
    the focal share among known values changes by ``delta`` in expectation."""
    is_focal = np.isin(values, focal)
    is_ref = np.isin(values, reference)
    if delta > 0:
        share = is_ref[in_arm].mean() if in_arm.any() else 0.0
        move = in_arm & is_ref & (rng.random(values.size) < min(1.0, delta / max(share, 1e-12)))
        values = values.copy()
        values[move] = focal[0]
    elif delta < 0:
        share = is_focal[in_arm].mean() if in_arm.any() else 0.0
        move = in_arm & is_focal & (rng.random(values.size) < min(1.0, -delta / max(share, 1e-12)))
        values = values.copy()
        values[move] = reference[0]
    return values


def _typed(codes: IntArray, names: list[str], template: pd.Series | None) -> Any:
    """Value codes into ``names`` (-1 missing) as the bundle's column holds them."""
    missing = codes < 0
    safe = np.where(missing, 0, codes)
    if template is not None and isinstance(template.dtype, pd.BooleanDtype):
        truth = np.array([name == "true" for name in names], dtype=bool)
        return pd.arrays.BooleanArray(truth[safe], missing)
    if template is not None and isinstance(template.dtype, pd.CategoricalDtype):
        lookup = template.dtype.categories.astype("str").get_indexer(pd.Index(names))
        return pd.Categorical.from_codes(np.where(missing, -1, lookup[safe]), dtype=template.dtype)
    text = np.array(names, dtype=object)[safe]
    text[missing] = None
    return text if template is None else pd.Series(text, dtype=object).astype(template.dtype).array


def _logit(p: FloatArray) -> FloatArray:
    out: FloatArray = np.log(p) - np.log1p(-p)
    return out


# --------------------------------------------------------------------------------------
# the plan on one bundle


def run_once(bundle: Bundle, plan: AnalysisPlan) -> list[tuple[Any, ...]]:
    """Each hypothesis with the test that decides it, adjusted and judged as ``run`` does:
    (estimate, ci_low, ci_high, p_value, p_adjusted, verdict) per hypothesis."""
    with silenced():
        return _run_once(bundle, plan)


def _run_once(bundle: Bundle, plan: AnalysisPlan) -> list[tuple[Any, ...]]:
    frame = analysis_frame(bundle, plan)
    # only what the deciding tests read: every selection then copies a few columns
    needed = ["vacancy_id", "arm", *plan.application_columns()]
    needed += [c for h in plan.hypotheses for c in h.adjust_for]
    needed += [plan.design.block] if plan.design.block else []
    needed += [c for c in frame.columns if c.startswith("reached_")]
    frame = frame[list(dict.fromkeys(needed))]
    analyses = []
    for h in plan.hypotheses:
        sample = comparison_sample(frame, plan, h)
        decides = estimate(h.deciding_test, sample, Context(plan, h))
        analyses.append(Analysis(h, sample, {decides.estimator: decides}, decides, decides))
    adjusted, judged = verdicts(plan, analyses)
    return [
        (
            a.deciding.estimate,
            a.deciding.ci_low,
            a.deciding.ci_high,
            a.deciding.p_value,
            adjusted[a.hypothesis.id],
            judged[a.hypothesis.id],
        )
        for a in analyses
    ]


_WORKER: dict[str, Any] = {}


def _init_worker(model: DesignModel, plan: AnalysisPlan, d: Diagnosis) -> None:
    _WORKER.update(model=model, plan=plan, diagnosis=d)


def _run_chunk(
    tasks: Sequence[tuple[bool, np.random.SeedSequence]],
    model: DesignModel | None = None,
    plan: AnalysisPlan | None = None,
    d: Diagnosis | None = None,
) -> list[list[tuple[Any, ...]]]:
    """Simulate and analyse a chunk of runs (in a worker process, or on a Dask worker when
    the design is passed along)."""
    model = model if model is not None else _WORKER["model"]
    plan = plan if plan is not None else _WORKER["plan"]
    d = d if d is not None else _WORKER["diagnosis"]
    return [run_once(simulate_design(model, plan, d, null, seed), plan) for null, seed in tasks]


def simulate_runs(
    model: DesignModel,
    plan: AnalysisPlan,
    d: Diagnosis,
    sims: int,
    jobs: int = 1,
    scheduler: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, list[list[tuple[Any, ...]]]]:
    """Every run of both scenarios, in the order of their seeds, whatever runs them.

    The seeds are ``SeedSequence(d.seed).spawn(2 * sims)``: the first ``sims`` for the
    declared effects, the rest for no effect.
    """
    seeds = np.random.SeedSequence(d.seed).spawn(2 * sims)
    tasks = [(i >= sims, seed) for i, seed in enumerate(seeds)]
    chunks = [tasks[i : i + CHUNK] for i in range(0, len(tasks), CHUNK)]
    results: list[list[list[tuple[Any, ...]]]] = [[] for _ in chunks]

    def done(i: int, value: list[list[tuple[Any, ...]]]) -> None:
        results[i] = value
        if progress:
            progress(len(value))

    if scheduler:
        try:
            import distributed
        except ImportError:
            raise PilotEvalError(
                "--scheduler needs dask.distributed: pip install 'pilot-eval[dask]'"
            ) from None
        # distributed has no type hints
        client_of: Any = distributed.Client
        as_completed: Any = distributed.as_completed
        try:
            client_context = client_of(scheduler, timeout="10s")
        except OSError as exc:
            raise PilotEvalError(f"Cannot reach the Dask scheduler {scheduler}: {exc}") from None
        with client_context as client:
            shared = client.scatter([model, plan, d], broadcast=True)
            futures = [client.submit(_run_chunk, c, *shared, pure=False) for c in chunks]
            index = {f.key: i for i, f in enumerate(futures)}
            for future in as_completed(futures):
                done(index[future.key], future.result())
    elif jobs > 1:
        with ProcessPoolExecutor(jobs, initializer=_init_worker, initargs=(model, plan, d)) as ex:
            for i, value in enumerate(ex.map(_run_chunk, chunks)):
                done(i, value)
    else:
        _init_worker(model, plan, d)
        for i, chunk in enumerate(chunks):
            done(i, _run_chunk(chunk))
    flat = [run for chunk in results for run in chunk]
    return {"declared": flat[:sims], "null": flat[sims:]}


# --------------------------------------------------------------------------------------
# true values and the diagnosands


def true_value(h: Hypothesis, plan: AnalysisPlan, d: Diagnosis, model: DesignModel) -> float | None:
    """The value the hypothesis estimates under the declared effects (module docstring);
    None for transitions over more than one stage, whose value the model does not give."""
    scale = ESTIMATOR_SCALES[h.deciding_test]
    arm, ref = plan.arm_of(h), plan.reference_arm
    if h.kind == "pool_share":
        shifts = d.pool_share.get(h.group, {})
        return shifts.get(arm, 0.0) - shifts.get(ref, 0.0)
    if h.kind == "score_gap":
        return sum(
            sg.by_arm.get(arm, 0.0)
            for sg in d.score_gaps
            if sg.group == h.group and sg.score == h.score
        )
    assert h.stage is not None  # the plan requires a stage for the other kinds
    if STAGES.index(h.stage.to) != STAGES.index(h.stage.from_) + 1:
        return None
    gaps = [g for g in d.gaps if g.group == h.group and g.stage == h.stage]
    gap = {a: sum(g.by_arm.get(a, 0.0) for g in gaps) for a in plan.design.arms}
    if scale == "odds_ratio":
        return None if any(gap.values()) else 1.0
    if h.kind == "stage_gap":
        return gap[arm]
    if h.kind == "gap_difference":
        return gap[arm] - gap[ref]
    t = STAGES.index(h.stage.from_)
    if effective(plan, d, model.estimated).stages[t] is not None:
        rate = model.base_rates[t]  # the mean of the vacancies' Beta-distributed rates
    else:
        rate = _mean_rate(model.base_rates[t], d.vacancy_sd)
    return (rate + gap[arm]) / rate


def _mean_rate(base: float, sd: float) -> float:
    """Mean of expit(logit(base) + sd Z) over vacancies (Gauss-Hermite quadrature)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(60)
    values = 1 / (1 + np.exp(-(math.log(base / (1 - base)) + sd * nodes)))
    return float(values @ weights / math.sqrt(2 * math.pi))


def _share(x: npt.NDArray[np.bool_]) -> tuple[float | None, float | None]:
    """A proportion and its Monte Carlo standard error sqrt(p(1-p)/R)."""
    if x.size == 0:
        return None, None
    p = float(x.mean())
    return p, math.sqrt(p * (1 - p) / x.size)


def diagnosands(
    runs: Sequence[Sequence[Any]], truth: float | None, null_value: float, alpha: float
) -> dict[str, Any]:
    """The diagnosands of one hypothesis in one scenario, each with its Monte Carlo SE."""
    est = np.array([np.nan if r[0] is None else r[0] for r in runs], dtype=np.float64)
    low = np.array([np.nan if r[1] is None else r[1] for r in runs], dtype=np.float64)
    high = np.array([np.nan if r[2] is None else r[2] for r in runs], dtype=np.float64)
    p = np.array([np.nan if r[3] is None else r[3] for r in runs], dtype=np.float64)
    padj = np.array([np.nan if r[4] is None else r[4] for r in runs], dtype=np.float64)
    met = np.array([r[5] == "met" for r in runs])
    ok = np.isfinite(est) & np.isfinite(p) & np.isfinite(padj)
    out: dict[str, Any] = {"runs": len(runs), "estimable": int(ok.sum())}
    significant = ok & (padj < alpha)
    out["power"], out["power_mcse"] = _share(significant[ok])
    out["power_unadjusted"], out["power_unadjusted_mcse"] = _share(p[ok] < alpha)
    out["criterion_met"], out["criterion_met_mcse"] = _share(met[ok])
    keys = ("bias", "rmse", "coverage", "type_s", "exaggeration")
    out.update({k: None for k in keys} | {f"{k}_mcse": None for k in keys})
    if truth is None or not ok.any():
        return out
    error = est[ok] - truth
    r = error.size
    out["bias"] = float(error.mean())
    out["bias_mcse"] = float(error.std(ddof=1) / math.sqrt(r)) if r > 1 else None
    mse = float(np.mean(error**2))
    out["rmse"] = math.sqrt(mse)
    if r > 1 and mse > 0:
        # delta method on the MSE's standard error (Morris et al. 2019, table 6)
        out["rmse_mcse"] = float(np.std(error**2, ddof=1) / math.sqrt(r) / (2 * math.sqrt(mse)))
    finite = ok & np.isfinite(low) & np.isfinite(high)
    covered = (low[finite] <= truth) & (truth <= high[finite])
    out["coverage"], out["coverage_mcse"] = _share(covered)
    effect = truth - null_value
    if effect != 0 and significant.any():
        wrong = np.sign(est[significant] - null_value) != np.sign(effect)
        out["type_s"], out["type_s_mcse"] = _share(wrong)
        ratio = np.abs(est[significant] - null_value) / abs(effect)
        out["exaggeration"] = float(ratio.mean())
        out["exaggeration_mcse"] = (
            float(ratio.std(ddof=1) / math.sqrt(ratio.size)) if ratio.size > 1 else None
        )
    return out


def diagnose(
    plan: AnalysisPlan,
    model: DesignModel,
    sims: int,
    jobs: int = 1,
    scheduler: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """The diagnosis of the plan's design: the content of diagnosis.json (without the plan
    and software sections the command adds)."""
    d = plan.diagnosis or Diagnosis(seed=0)
    runs = simulate_runs(model, plan, d, sims, jobs, scheduler, progress)
    rows = []
    inflated: list[bool] = []
    for i, h in enumerate(plan.hypotheses):
        scale = ESTIMATOR_SCALES[h.deciding_test]
        null_value = NO_EFFECT[scale]
        truth = true_value(h, plan, d, model)
        declared = diagnosands([r[i] for r in runs["declared"]], truth, null_value, plan.alpha)
        null = diagnosands([r[i] for r in runs["null"]], null_value, null_value, plan.alpha)
        null["type_i_error"] = null.pop("power_unadjusted")
        null["type_i_error_mcse"] = null.pop("power_unadjusted_mcse")
        null["type_i_error_adjusted"] = null.pop("power")
        null["type_i_error_adjusted_mcse"] = null.pop("power_mcse")
        null["type_i_inflated"] = _inflated(null["type_i_error"], plan.alpha)
        inflated.append(null["type_i_inflated"])
        rows.append(
            {
                "id": h.id,
                "family": h.family,
                "kind": h.kind,
                "estimator": h.deciding_test,
                "scale": scale,
                "alternative": h.alternative,
                "truth": truth,
                "null_value": null_value,
                "declared": declared,
                "null": null,
            }
        )
    return {
        "sims": sims,
        "seed": d.seed,
        "declared_effects": plan.diagnosis is not None,
        "warning": f"fewer than {MIN_SIMS} simulations: Monte Carlo errors are large"
        if sims < MIN_SIMS
        else None,
        "alpha": plan.alpha,
        "vacancy_sd": d.vacancy_sd,
        "heterogeneity": effective(plan, d, model.estimated).as_json(),
        "groups": {name: g.model_dump(mode="json") for name, g in plan.groups.items()},
        "type_i_limit": INFLATION * plan.alpha,
        "type_i_inflated": [h["id"] for h, flag in zip(rows, inflated, strict=True) if flag],
        "design": model.summary(),
        "hypotheses": rows,
    }


def _inflated(type_i: float | None, alpha: float) -> bool:
    """The test rejects a true null more often than ``INFLATION`` times alpha."""
    return type_i is not None and type_i > INFLATION * alpha

"""Orchestration only: plan -> lock check -> bundle -> samples -> estimators -> results."""

from __future__ import annotations

import math
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
from scipy import stats

from pilot_eval import __version__
from pilot_eval.audit import protect as audit_and_withhold
from pilot_eval.bundle import Bundle, load_bundle
from pilot_eval.contradictions import (
    CHECKS,
    pooled_vs_stratified,
    robustness_flip,
    subgroups_opposite,
    tests_disagree,
)
from pilot_eval.descriptives import describe
from pilot_eval.diagnostics import design_diagnostics
from pilot_eval.errors import EstimationError
from pilot_eval.estimators import (
    SCALES,
    Context,
    estimate,
    estimate_published,
    null_hypothesis,
    refuse,
    small_cell,
)
from pilot_eval.estimators.linear import WEIGHTED
from pilot_eval.estimators.proportions import p_value_z
from pilot_eval.evidence import application_tables, other_evidence
from pilot_eval.evidence.quality import mean_interview_rating
from pilot_eval.evidence.representativeness import population_weights
from pilot_eval.inference import (
    Judgement,
    adjust_p_values,
    criterion_text,
    family_level,
    judge,
    minimum_detectable_effect,
    threshold,
)
from pilot_eval.io import sha256_file
from pilot_eval.later_stages import stratum_bounds, unconditional, withheld_stratum_bounds
from pilot_eval.lock import LockStatus, check_locked
from pilot_eval.missing_bounds import manski_bounds, response_weighted, withheld_bounds
from pilot_eval.outputs import relative
from pilot_eval.plan import (
    BETWEEN_ARMS,
    ESTIMATORS_BY_KIND,
    NO_EFFECT,
    RANDOMISED,
    AnalysisPlan,
    Criterion,
    Hypothesis,
    LoadedPlan,
    RobustnessSpec,
    load_plan,
)
from pilot_eval.prepare import (
    ComparisonSample,
    analysis_frame,
    comparison_sample,
    fill_missing_group,
)
from pilot_eval.protect import protect_results
from pilot_eval.results import Estimate, not_estimable
from pilot_eval.weighting import DEFAULT_PROFILE, profile_weights

RESULTS_FORMAT = 1

SOFTWARE = ("numpy", "pandas", "scipy", "statsmodels", "pingouin")
"""Libraries whose arithmetic makes the numbers of results.json: their versions are part of
the results, and another version may move a last digit."""

SHAPING_SOFTWARE = (
    "pydantic",
    "pyyaml",
    "pandera",
    "pyarrow",
    "openpyxl",
    "jinja2",
    "babel",
    "matplotlib",
    "weasyprint",
    "pydyf",
    "fonttools",
)
"""Libraries that read the inputs or shape the outputs (plan, tables, report, figures, PDF)
without computing a number: recorded in manifest.json, where a reviewer sees why a report
differs in its bytes while results.json does not."""


@dataclass(frozen=True)
class RunInputs:
    """A plan checked against its lock, and the bundle validated against the plan."""

    loaded: LoadedPlan
    lock: LockStatus
    bundle: Bundle
    exploratory: bool


def prepare_inputs(plan_path: Path, data_dir: Path, exploratory: bool) -> RunInputs:
    """Load the plan (plan errors first), check its lock, then load the bundle."""
    loaded = load_plan(plan_path)
    lock = check_locked(loaded, exploratory)
    bundle = load_bundle(data_dir, loaded.plan)
    return RunInputs(loaded=loaded, lock=lock, bundle=bundle, exploratory=exploratory)


def input_hashes(inputs: RunInputs, plan_path: Path, data_dir: Path) -> dict[str, dict[str, str]]:
    """Role (plan, lock, data) -> path relative to the working folder -> SHA-256, as the
    manifest records the inputs of a command."""
    lock: dict[str, str] = {}
    if inputs.lock.history is not None:
        lock[relative(inputs.lock.history.path)] = sha256_file(inputs.lock.history.path)
    return {
        "plan": {relative(plan_path): sha256_file(plan_path)},
        "lock": lock,
        "data": {relative(data_dir / name): digest for name, digest in inputs.bundle.files.items()},
    }


def software_versions() -> dict[str, str]:
    """Versions of Python, pilot-eval and the libraries that compute results (results.json)."""
    out = {"pilot_eval": __version__, "python": platform.python_version()}
    for name in SOFTWARE:
        out[name] = metadata.version(name)
    return out


def output_software_versions() -> dict[str, str]:
    """Versions of every library that shapes an output, for manifest.json: those of
    :func:`software_versions` and :data:`SHAPING_SOFTWARE` ("not installed" for an optional
    one that is absent, such as WeasyPrint without the ``pdf`` extra)."""
    out = software_versions()
    for name in SHAPING_SOFTWARE:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return dict(sorted(out.items()))


def applicable_estimators(plan: AnalysisPlan, kind: str) -> tuple[str, ...]:
    """Estimators reported for a kind; randomisation inference only for randomised designs."""
    names = ESTIMATORS_BY_KIND[kind]
    if plan.design.assignment not in RANDOMISED:
        names = tuple(n for n in names if n != "randomisation")
    return names


@dataclass(frozen=True)
class Analysis:
    """One hypothesis analysed: its sample, every applicable estimate, the chosen one (the
    plan's estimator, reported first) and the deciding one (the cluster-aware test whose
    adjusted p-value and interval give the verdict; often the same)."""

    hypothesis: Hypothesis
    sample: ComparisonSample
    estimates: dict[str, Estimate]
    chosen: Estimate
    deciding: Estimate
    withheld: str | None = None
    """Why nothing is published on the sample (a cell below min_cell), or None."""


def analyse(frame: pd.DataFrame, plan: AnalysisPlan, h: Hypothesis) -> Analysis:
    """Run every applicable estimator of hypothesis ``h`` on its comparison sample."""
    sample = comparison_sample(frame, plan, h)
    ctx = Context(plan=plan, hypothesis=h)
    names = dict.fromkeys(
        (*applicable_estimators(plan, h.kind), h.chosen_estimator, h.deciding_test)
    )
    withheld = small_cell(sample, ctx)
    estimates = {
        name: refuse(name, sample, ctx, withheld) if withheld else estimate(name, sample, ctx)
        for name in names
    }
    chosen, deciding = estimates[h.chosen_estimator], estimates[h.deciding_test]
    return Analysis(h, sample, estimates, chosen, deciding, withheld)


def score_gap_by_arm(frame: pd.DataFrame, plan: AnalysisPlan, h: Hypothesis) -> dict[str, Any]:
    """Hedges' g of a score_gap hypothesis in every arm, and its difference between the
    hypothesis' arm and the reference arm (independent samples: SE = sqrt(se1^2 + se0^2),
    z-test)."""
    per_arm: dict[str, Estimate] = {}
    for name in plan.design.arms:
        other = h.model_copy(update={"arm": name})
        per_arm[name] = estimate_published(
            "hedges_g", comparison_sample(frame, plan, other), Context(plan, other)
        )
    out: dict[str, Any] = {
        "per_arm": {k: {**_estimate_fields(e), **_group_sizes(e)} for k, e in per_arm.items()}
    }
    g1, g0 = per_arm[plan.arm_of(h)], per_arm[plan.reference_arm]
    if plan.arm_of(h) == plan.reference_arm:
        out["difference_between_arms"] = None
    elif (
        g1.estimate is not None
        and g0.estimate is not None
        and g1.std_error
        and g0.std_error
        and g1.estimable
        and g0.estimable
    ):
        diff = g1.estimate - g0.estimate
        se = math.sqrt(g1.std_error**2 + g0.std_error**2)
        q = float(stats.norm.ppf(1 - plan.alpha / 2))
        out["difference_between_arms"] = {
            "estimate": diff,
            "std_error": se,
            "ci_low": diff - q * se,
            "ci_high": diff + q * se,
            "statistic": diff / se,
            "p_value": p_value_z(diff / se, h.alternative),
            "reason": None,
        }
    else:
        out["difference_between_arms"] = {
            "reason": "Hedges' g cannot be estimated in both arms "
            f"({plan.reference_arm}: {g0.reason or 'estimated'}; "
            f"{plan.arm_of(h)}: {g1.reason or 'estimated'})"
        }
    return out


def _group_sizes(e: Estimate) -> dict[str, int | None]:
    """The focal and reference group sizes of a Hedges' g (from its details)."""
    details = e.details or {}
    sizes: dict[str, int | None] = {}
    for side in ("focal", "reference"):
        d = details.get(side)
        sizes[f"n_{side}"] = int(d["n"]) if isinstance(d, dict) and "n" in d else None
    return sizes


def verdicts(
    plan: AnalysisPlan, analyses: Sequence[Analysis]
) -> tuple[dict[str, float | None], dict[str, str]]:
    """Adjusted p-values within the plan's families, and the verdict per hypothesis."""
    adjusted, judged = judgements(plan, analyses)
    return adjusted, {h_id: j.verdict for h_id, j in judged.items()}


def judgements(
    plan: AnalysisPlan, analyses: Sequence[Analysis]
) -> tuple[dict[str, float | None], dict[str, Judgement]]:
    """Adjusted p-values within the plan's families, and the judgement per hypothesis: its
    verdict, harm and the adjusted criterion tests (``inference.judge``)."""
    deciding = {a.hypothesis.id: a.deciding for a in analyses}
    adjusted = adjust_p_values(plan, deciding)
    return adjusted, judge(plan, deciding, adjusted)


def subgroup_analysis(
    frame: pd.DataFrame, plan: AnalysisPlan, a: Analysis, column: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The chosen estimator within each subgroup of a vacancy column, with heterogeneity."""
    by_value: dict[str, Estimate] = {}
    h = a.hypothesis
    ctx = Context(plan, h)
    for value, rows in frame.groupby(column, sort=True, observed=True):
        sample = comparison_sample(rows, plan, h)
        too_few = _too_few_vacancies(sample, h)
        if too_few:
            by_value[str(value)] = not_estimable(
                h.chosen_estimator,
                SCALES[h.chosen_estimator],
                null_hypothesis(ctx),
                too_few,
                n_vacancies=int(sample.frame["vacancy_id"].nunique()),
                n_applications=len(sample.frame),
            )
            continue
        by_value[str(value)] = estimate_published(h.chosen_estimator, sample, ctx)
    return subgroups_opposite(h.id, column, by_value, plan.alpha)


MIN_SUBGROUP_VACANCIES = 10
"""Fewer vacancies than this make clustered standard errors unreliable (Cameron & Miller
2015, section VI); such subgroups are listed without an estimate."""

MIN_SUBGROUP_VACANCIES_PER_ARM = 4
"""A comparison between arms within a subgroup needs this many vacancies in each arm."""


def _too_few_vacancies(sample: ComparisonSample, h: Hypothesis) -> str | None:
    per_arm = sample.frame.groupby("arm", observed=True)["vacancy_id"].nunique()
    if int(per_arm.sum()) < MIN_SUBGROUP_VACANCIES:
        return f"fewer than {MIN_SUBGROUP_VACANCIES} vacancies in this subgroup"
    if h.kind in BETWEEN_ARMS and (
        len(per_arm) < 2 or int(per_arm.min()) < MIN_SUBGROUP_VACANCIES_PER_ARM
    ):
        return f"fewer than {MIN_SUBGROUP_VACANCIES_PER_ARM} vacancies in an arm of this subgroup"
    return None


AUTOMATIC_REWEIGHT = RobustnessSpec(
    id="reweighted_to_arm_profile",
    description="Reference-arm vacancies reweighted to the arm's profile (department, salary "
    "band): the design was not randomised, so the arms may differ in the vacancies they hold.",
    reweight=DEFAULT_PROFILE,
)


def robustness_specs(plan: AnalysisPlan) -> tuple[RobustnessSpec, ...]:
    """The plan's specifications, plus reweighting for self-selected or matched designs."""
    specs = plan.robustness
    if plan.design.assignment in ("self_selected", "matched") and not any(
        s.reweight for s in specs
    ):
        specs = (*specs, AUTOMATIC_REWEIGHT)
    return specs


def _reweighted(
    frame: pd.DataFrame,
    vacancies: pd.DataFrame,
    plan: AnalysisPlan,
    h: Hypothesis,
    columns: Sequence[str],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Applications with their vacancy's weight; vacancies off support get weight 0."""
    weights, summary = profile_weights(
        vacancies, plan.arm_of(h), plan.reference_arm, columns or DEFAULT_PROFILE
    )
    out = frame.assign(weight=frame["vacancy_id"].map(weights).fillna(0.0).astype("float64"))
    off = out["weight"] == 0
    summary["applications_off_support"] = int(off.sum())
    return out[~off], summary


def evidence_section(frame: pd.DataFrame, bundle: Bundle, plan: AnalysisPlan) -> dict[str, Any]:
    """The other evidence, with the interview-rating gaps by group per arm."""
    joined = application_tables(bundle, frame)
    out = other_evidence(frame, bundle, plan, joined)
    quality = out.get("interview_quality")
    rows = joined.get("interview_ratings")
    if quality is not None and rows is not None and plan.interview_quality is not None:
        rated = frame.assign(
            interview_rating=mean_interview_rating(int(frame.index.max()) + 1, rows)[
                frame.index.to_numpy()
            ]
        )
        quality["gaps"] = [
            {
                "group": g,
                **score_gap_by_arm(
                    rated,
                    plan,
                    Hypothesis(
                        id=f"interview_rating_{g}",
                        family=plan.primary_family,
                        kind="score_gap",
                        group=g,
                        score="interview_rating",
                        arm=plan.design.arms[-1],
                    ),
                ),
            }
            for g in plan.interview_quality.groups
        ]
        for gap in quality["gaps"]:
            _withhold_small_gaps(gap, plan.disclosure.min_cell)
    return out


def _withhold_small_gaps(gap: dict[str, Any], min_cell: int) -> None:
    """Hedges' g on fewer applications than min_cell in a group would publish their number
    through its df and standard error: such an arm's g is withheld, with the reason."""
    reason = f"fewer than {min_cell} rated applications in a group of this arm"
    small = False
    for name, e in list(gap["per_arm"].items()):
        sizes = [e.get("n_focal"), e.get("n_reference")]
        n = e.get("n_applications")
        if (n is not None and n < min_cell) or any(
            x is not None and 0 < x < min_cell for x in sizes
        ):
            gap["per_arm"][name] = {"n_applications": n, "reason": reason}
            small = True
    if small and gap.get("difference_between_arms") is not None:
        gap["difference_between_arms"] = {"reason": reason}


def _population_weighted(
    rows: pd.DataFrame, bundle: Bundle, plan: AnalysisPlan, h: Hypothesis
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Applications with their vacancy's population weight (0 off support: dropped)."""
    population = bundle.table("population")
    assert population is not None  # checked by the caller
    arms = tuple(dict.fromkeys((plan.arm_of(h), plan.reference_arm)))
    weights, summary = population_weights(bundle.vacancies, population, plan, arms)
    out = rows.assign(weight=rows["vacancy_id"].astype("str").map(weights).astype("float64"))
    off = out["weight"].isna() | (out["weight"] == 0)
    summary["applications_off_support"] = int(off.sum())
    return out[~off], summary


def robustness(
    frame: pd.DataFrame,
    bundle: Bundle,
    plan: AnalysisPlan,
    analyses: Sequence[Analysis],
    main_verdicts: Mapping[str, str],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run each declared robustness specification; return its results and any flips."""
    vacancies = bundle.vacancies
    by_id = {a.hypothesis.id: a for a in analyses}
    results: list[dict[str, Any]] = []
    flips: list[dict[str, Any]] = []
    for spec in robustness_specs(plan):
        targets = [by_id[h.id] for h in plan.robustness_targets(spec)]
        if spec.population_weights and bundle.table("population") is None:
            for a in targets:
                h = a.hypothesis
                missing = not_estimable(
                    h.deciding_test,
                    SCALES[h.deciding_test],
                    null_hypothesis(Context(plan, h)),
                    "population weights need the table population, absent from the bundle",
                )
                results.append(
                    {
                        "specification": spec.id,
                        "description": spec.description,
                        "hypothesis": h.id,
                        **_estimate_fields(missing),
                        "p_adjusted": None,
                        "verdict": "not_estimable",
                        "exclusions": [],
                        "weighting": None,
                    }
                )
            continue
        data = frame
        left_out: list[dict[str, Any]] = []
        for column, values in spec.exclude.items():
            drop = data[column].astype("str").isin(values)
            left_out.append(
                {
                    "rule": "vacancy_excluded",
                    "reason": f"vacancy left out: {column} {', '.join(values)}",
                    "rows": int(drop.sum()),
                }
            )
            data = data[~drop]
        changed: list[Analysis] = []
        weightings: list[dict[str, Any] | None] = []
        ledgers: list[list[dict[str, Any]]] = []
        for a in targets:
            # the specification's estimator decides its verdict; otherwise the test that
            # decides the main verdict, so that only the declared change differs
            name = spec.estimator or a.hypothesis.deciding_test
            update: dict[str, Any] = {"estimator": name, "decided_by": None}
            if spec.adjust_for is not None:
                update["adjust_for"] = spec.adjust_for
            if SCALES[a.hypothesis.deciding_test] != SCALES[name]:
                # a threshold on another scale does not carry over: test against no effect
                update["criterion"] = Criterion()
            h = a.hypothesis.model_copy(update=update)
            rows, weighting, ledger = data, None, list(left_out)
            if spec.reweight is not None:
                rows, weighting = _reweighted(rows, vacancies, plan, h, spec.reweight)
                ledger.append(
                    {
                        "reason": "vacancy off support: no vacancy of the other arm in its "
                        "profile cell",
                        "rows": weighting["applications_off_support"],
                    }
                )
            weight_failure = None
            if spec.population_weights:
                try:
                    rows, weighting = _population_weighted(rows, bundle, plan, h)
                except EstimationError as exc:
                    weight_failure = f"population weights: {exc.message}"
                else:
                    ledger.append(
                        {
                            "reason": "vacancy off support: its category is not in the population",
                            "rows": weighting["applications_off_support"],
                        }
                    )
            if spec.response_weights is not None:
                try:
                    rows, weighting = response_weighted(rows, plan, h, spec.response_weights)
                except EstimationError as exc:
                    weight_failure = f"response weights: {exc.message}"
            weightings.append(weighting)
            if spec.missing_group is not None:
                rows = fill_missing_group(rows, plan.groups[h.group], spec.missing_group)
            sample = comparison_sample(rows, plan, h)
            ctx = Context(plan, h)
            if weight_failure is not None:
                alt = refuse(name, sample, ctx, weight_failure)
            elif (
                spec.adjust_for
                and h.kind in ("stage_gap", "gap_difference")
                and name not in ("lpm_fe", "lpm_cr2")
            ):
                alt = refuse(
                    name,
                    sample,
                    ctx,
                    f"adjust_for lets the gap vary with vacancy columns, which only lpm_fe "
                    f"and lpm_cr2 estimate (focal x column); {name} cannot",
                )
            elif (
                spec.reweight is not None
                or spec.population_weights
                or spec.response_weights is not None
            ) and (name not in WEIGHTED):
                alt = refuse(
                    name,
                    sample,
                    ctx,
                    f"{name} does not use weights; reweighting is run with {', '.join(WEIGHTED)}",
                )
            else:
                alt = estimate_published(name, sample, ctx)
            changed.append(Analysis(h, sample, {alt.estimator: alt}, alt, alt))
            ledger += [e.as_json() for e in sample.exclusions]
            ledgers.append(ledger)
        sub_plan = plan.model_copy(update={"hypotheses": tuple(c.hypothesis for c in changed)})
        adjusted, spec_verdicts = verdicts(sub_plan, changed)
        for a, c, weighting, ledger in zip(targets, changed, weightings, ledgers, strict=True):
            h_id = a.hypothesis.id
            results.append(
                {
                    "specification": spec.id,
                    "description": spec.description,
                    "hypothesis": h_id,
                    **_estimate_fields(c.chosen),
                    "p_adjusted": adjusted[h_id],
                    "verdict": spec_verdicts[h_id],
                    "exclusions": ledger,
                    "weighting": weighting,
                }
            )
            # verdicts on different scales rest on different thresholds: compare signs only
            same_scale = a.deciding.scale == c.chosen.scale
            flips += robustness_flip(
                h_id,
                spec.id,
                a.deciding,
                main_verdicts[h_id] if same_scale else None,
                c.chosen,
                spec_verdicts[h_id] if same_scale else None,
            )
    return results, flips


def _estimate_fields(e: Estimate) -> dict[str, Any]:
    """An estimate's numbers without its estimator-specific details."""
    return {k: v for k, v in e.as_json().items() if k != "details"}


def _hypothesis_row(
    plan: AnalysisPlan,
    a: Analysis,
    p_adjusted: float | None,
    judged: Judgement,
    subgroups: list[dict[str, Any]],
) -> dict[str, Any]:
    h, pick, decides = a.hypothesis, a.chosen, a.deciding
    row = {
        "id": h.id,
        "family": h.family,
        "kind": h.kind,
        "group": h.group,
        "arm": plan.arm_of(h),
        "stage": None if h.stage is None else {"from": h.stage.from_, "to": h.stage.to},
        "score": h.score,
        "alternative": h.alternative,
        "description": h.description,
        "criterion": {
            "min_effect": threshold(h, decides.scale),
            "rule": h.criterion.rule,
            "margin": h.criterion.margin,
            "text": criterion_text(h, decides.scale, plan.alpha),
        },
        **_estimate_fields(pick),
        "decided_by": decides.estimator,
        "decision": _estimate_fields(decides),
        "p_adjusted": p_adjusted,
        "verdict": judged.verdict,
        "harm": judged.harm,
        "group_disadvantaged": _group_disadvantaged(h, decides, judged),
        "criterion_tests": dict(judged.evidence),
        "min_effect_shown": _min_effect_shown(h, decides, judged, plan.alpha),
        "disadvantage_not_ruled_out": _disadvantage_not_ruled_out(h, decides, judged),
        "minimum_detectable_effect": minimum_detectable_effect(
            decides, h.alternative, family_level(plan, h)
        ),
        "estimates": {
            name: {**e.as_json(), "alternative": h.alternative} for name, e in a.estimates.items()
        },
        "exclusions": [e.as_json() for e in a.sample.exclusions],
        "n_total_applications": a.sample.n_total,
        "subgroups": subgroups,
    }
    if not row["n_vacancies"]:
        row["n_vacancies"] = int(a.sample.frame["vacancy_id"].nunique())
        row["n_applications"] = len(a.sample.frame)
    return row


def _min_effect_shown(h: Hypothesis, est: Estimate, judged: Judgement, alpha: float) -> bool | None:
    """Whether the adjusted test shows the effect beyond a min_effect other than no effect
    (None without one, or without the test)."""
    p = judged.evidence.get("min_effect")
    if p is None or threshold(h, est.scale) == NO_EFFECT[est.scale]:
        return None
    return p < alpha


def _group_disadvantaged(h: Hypothesis, est: Estimate, judged: Judgement) -> bool | None:
    """For a comparison of groups within one arm: whether its criterion is met with the
    focal group behind (a gap or score difference below zero, an impact ratio below one), so
    that the report shows a confirmed disadvantage as one, never as a success. None for a
    comparison between arms (``harm`` covers those)."""
    if h.kind in BETWEEN_ARMS:
        return None
    return (
        judged.verdict == "met" and est.estimate is not None and est.estimate < NO_EFFECT[est.scale]
    )


def _disadvantage_not_ruled_out(h: Hypothesis, est: Estimate, judged: Judgement) -> float | None:
    """For a one-sided hypothesis with a margin that is neither met nor shown within it: how
    far the interval reaches the harmful way from no effect (None when it does not)."""
    if (
        h.criterion.margin is None
        or h.alternative == "two-sided"
        or judged.verdict not in ("inconclusive", "not_met")
    ):
        return None
    bound = est.ci_low if h.alternative == "greater" else est.ci_high
    if bound is None:
        return None
    reach = (NO_EFFECT[est.scale] - bound) * (1 if h.alternative == "greater" else -1)
    return reach if reach > 0 else None


def _later_stage(
    frame: pd.DataFrame, plan: AnalysisPlan, h: Hypothesis, withheld: str | None
) -> dict[str, Any] | None:
    """For a transition after the application: the comparison from the application and
    bounds among applicants who would reach the earlier stage in either arm (not published
    when the hypothesis' own table has a small cell: ``withheld`` says why)."""
    whole = unconditional(frame, plan, h)
    if whole is None:
        return None
    bounds = stratum_bounds(frame, plan, h)
    return {
        "from_application": _estimate_fields(whole),
        "stratum_bounds": withheld_stratum_bounds(withheld) if withheld and bounds else bounds,
    }


def evaluate(inputs: RunInputs) -> dict[str, Any]:
    """Run every hypothesis of the plan; return the content of results.json."""
    plan = inputs.loaded.plan
    frame = analysis_frame(inputs.bundle, plan)
    analyses = [analyse(frame, plan, h) for h in plan.hypotheses]
    adjusted, judged = judgements(plan, analyses)
    main_verdicts = {h_id: j.verdict for h_id, j in judged.items()}
    contradictions: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for a in analyses:
        h_id = a.hypothesis.id
        contradictions += pooled_vs_stratified(h_id, a.estimates, plan.alpha)
        contradictions += tests_disagree(h_id, a.estimates, plan.alpha)
        subgroups = []
        for column in plan.subgroups:
            summary, found = subgroup_analysis(frame, plan, a, column)
            subgroups.append(summary)
            contradictions += found
        row = _hypothesis_row(plan, a, adjusted[h_id], judged[h_id], subgroups)
        # bounds rest on the same cells as the estimate: none where a cell is small
        bounds = manski_bounds(frame, plan, a.hypothesis)
        row["missing_data"] = withheld_bounds(a.withheld) if a.withheld and bounds else bounds
        row["later_stage"] = _later_stage(frame, plan, a.hypothesis, a.withheld)
        if a.hypothesis.kind == "score_gap":
            row["by_arm"] = score_gap_by_arm(frame, plan, a.hypothesis)
        rows.append(row)
    robust, flips = robustness(frame, inputs.bundle, plan, analyses, main_verdicts)
    contradictions += flips
    excluded = [
        {"table": "applications", "hypothesis": row["id"], **e}
        for row in rows
        for e in row["exclusions"]
    ]
    descriptives = describe(frame, inputs.bundle.vacancies, plan)
    results: dict[str, Any] = {
        "results_format": RESULTS_FORMAT,
        "plan": _plan_section(inputs),
        "data": {
            "files": inputs.bundle.files,
            "n_vacancies": len(inputs.bundle.vacancies),
            "n_applications": len(inputs.bundle.applications),
            "excluded": excluded,
        },
        "software": software_versions(),
        "descriptives": descriptives,
        "diagnostics": design_diagnostics(frame, inputs.bundle.vacancies, plan),
        "hypotheses": rows,
        "robustness": robust,
        "evidence": evidence_section(frame, inputs.bundle, plan),
        "contradictions": contradictions,
        "contradiction_checks": list(CHECKS),
    }
    suppressed = protect_results(results, plan.disclosure.min_cell)
    # what the published counts still give away when solved together: withheld
    suppressed += audit_and_withhold(results, plan)
    results["suppressed_cells"] = (
        descriptives["suppressed_cells"] + results["evidence"]["suppressed_cells"] + suppressed
    )
    return results


def _plan_section(inputs: RunInputs) -> dict[str, Any]:
    plan = inputs.loaded.plan
    history = inputs.lock.history
    return {
        "id": plan.id,
        "title": plan.title,
        "version": plan.version,
        "file": inputs.loaded.path.name,
        "sha256": inputs.loaded.sha256,
        "locked": inputs.lock.locked,
        "exploratory": inputs.exploratory,
        "registered_on": plan.registered_on.isoformat(),
        "data_access_at_registration": plan.data_access_at_registration,
        "description": plan.description,
        "design": plan.design.model_dump(mode="json"),
        "alpha": plan.alpha,
        "families": {k: v.model_dump(mode="json") for k, v in plan.families.items()},
        "groups": {k: v.model_dump(mode="json") for k, v in plan.groups.items()},
        "disclosure": plan.disclosure.model_dump(mode="json"),
        "evaluation": plan.evaluation.model_dump(mode="json"),
        "deviations": [d.model_dump(mode="json") for d in plan.deviations],
        "lock": None
        if history is None
        else {
            "file": inputs.lock.lock_file,
            "sha256": inputs.lock.lock_sha256,
            "entries": [e.as_json() for e in history.entries],
        },
    }

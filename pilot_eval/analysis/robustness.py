"""The plan's robustness specifications: each hypothesis again under another choice of
sample, fill-in, covariate or weighting, and the verdicts that change."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from pilot_eval.analysis.contradictions import (
    robustness_flip,
)
from pilot_eval.analysis.estimators import (
    SCALES,
    Context,
    estimate_published,
    null_hypothesis,
    refuse,
)
from pilot_eval.analysis.estimators.linear import WEIGHTED
from pilot_eval.analysis.evidence.representativeness import population_weights
from pilot_eval.analysis.hypotheses import (
    Analysis,
    estimate_fields,
    verdicts,
)
from pilot_eval.analysis.missing_bounds import response_weighted
from pilot_eval.analysis.records.statistics import Contradiction, RobustnessResult
from pilot_eval.analysis.results import Estimate, not_estimable
from pilot_eval.analysis.weighting import DEFAULT_PROFILE, profile_weights
from pilot_eval.data.bundle import Bundle
from pilot_eval.data.frame import (
    comparison_sample,
    fill_missing_group,
)
from pilot_eval.errors import EstimationError
from pilot_eval.plan.model import (
    AnalysisPlan,
    Criterion,
    Hypothesis,
    RobustnessSpec,
)

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
) -> tuple[list[RobustnessResult], list[Contradiction]]:
    """Run each declared robustness specification; return its results and any flips."""
    by_id = {a.hypothesis.id: a for a in analyses}
    results: list[dict[str, Any]] = []
    flips: list[Contradiction] = []
    for spec in robustness_specs(plan):
        targets = [by_id[h.id] for h in plan.robustness_targets(spec)]
        if spec.population_weights and bundle.table("population") is None:
            results += [_without_population(plan, spec, a.hypothesis) for a in targets]
            continue
        data, left_out = _left_out(frame, spec)
        changed = [_reanalyse(data, bundle, plan, spec, a.hypothesis, left_out) for a in targets]
        sub_plan = plan.model_copy(
            update={"hypotheses": tuple(c.analysis.hypothesis for c in changed)}
        )
        adjusted, spec_verdicts = verdicts(sub_plan, [c.analysis for c in changed])
        for a, c in zip(targets, changed, strict=True):
            h_id = a.hypothesis.id
            results.append(
                _row(spec, h_id, c.analysis.chosen, adjusted[h_id], spec_verdicts[h_id], c)
            )
            # verdicts on different scales rest on different thresholds: compare signs only
            same_scale = a.deciding.scale == c.analysis.chosen.scale
            flips += robustness_flip(
                h_id,
                spec.id,
                a.deciding,
                main_verdicts[h_id] if same_scale else None,
                c.analysis.chosen,
                spec_verdicts[h_id] if same_scale else None,
            )
    return [RobustnessResult.model_validate(r) for r in results], flips


@dataclass(frozen=True)
class _Reanalysis:
    """One hypothesis under a specification: its analysis, what was left out and why, and
    the weighting used (None without one)."""

    analysis: Analysis
    exclusions: list[dict[str, Any]]
    weighting: dict[str, Any] | None


def _row(
    spec: RobustnessSpec,
    h_id: str,
    e: Estimate,
    p_adjusted: float | None,
    verdict: str,
    c: _Reanalysis | None,
) -> dict[str, Any]:
    """The results.json row of a hypothesis under a specification."""
    return {
        "specification": spec.id,
        "description": spec.description,
        "hypothesis": h_id,
        **estimate_fields(e),
        "p_adjusted": p_adjusted,
        "verdict": verdict,
        "exclusions": [] if c is None else c.exclusions,
        "weighting": None if c is None else c.weighting,
    }


def _without_population(plan: AnalysisPlan, spec: RobustnessSpec, h: Hypothesis) -> dict[str, Any]:
    """The row of a specification with population weights when the bundle has no table
    population: not estimable, and why."""
    missing = not_estimable(
        h.deciding_test,
        SCALES[h.deciding_test],
        null_hypothesis(Context(plan, h)),
        "population weights need the table population, absent from the bundle",
    )
    return _row(spec, h.id, missing, None, "not_estimable", None)


def _left_out(
    frame: pd.DataFrame, spec: RobustnessSpec
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """The applications without the vacancies the specification excludes, and the ledger."""
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
    return data, left_out


def _changed_hypothesis(spec: RobustnessSpec, main: Hypothesis) -> Hypothesis:
    """The hypothesis as the specification changes it. The specification's estimator decides
    its verdict; otherwise the test that decides the main verdict, so that only the declared
    change differs."""
    name = spec.estimator or main.deciding_test
    update: dict[str, Any] = {"estimator": name, "decided_by": None}
    if spec.adjust_for is not None:
        update["adjust_for"] = spec.adjust_for
    if SCALES[main.deciding_test] != SCALES[name]:
        # a threshold on another scale does not carry over: test against no effect
        update["criterion"] = Criterion()
    return main.model_copy(update=update)


def _weighted(
    rows: pd.DataFrame,
    bundle: Bundle,
    plan: AnalysisPlan,
    spec: RobustnessSpec,
    h: Hypothesis,
    ledger: list[dict[str, Any]],
) -> tuple[pd.DataFrame, dict[str, Any] | None, str | None]:
    """The applications with the specification's weights (reweighting to the other arm,
    to the population, or by response), the weighting's summary, and why weighting failed
    (None when it did not); applications off support are dropped and counted in ``ledger``."""
    weighting, failure = None, None
    if spec.reweight is not None:
        rows, weighting = _reweighted(rows, bundle.vacancies, plan, h, spec.reweight)
        ledger.append(
            {
                "reason": "vacancy off support: no vacancy of the other arm in its profile cell",
                "rows": weighting["applications_off_support"],
            }
        )
    if spec.population_weights:
        try:
            rows, weighting = _population_weighted(rows, bundle, plan, h)
        except EstimationError as exc:
            failure = f"population weights: {exc.message}"
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
            failure = f"response weights: {exc.message}"
    return rows, weighting, failure


def _reanalyse(
    data: pd.DataFrame,
    bundle: Bundle,
    plan: AnalysisPlan,
    spec: RobustnessSpec,
    main: Hypothesis,
    left_out: list[dict[str, Any]],
) -> _Reanalysis:
    """One hypothesis under a specification: changed, weighted, filled in and estimated."""
    h = _changed_hypothesis(spec, main)
    name = h.chosen_estimator
    ledger = list(left_out)
    rows, weighting, failure = _weighted(data, bundle, plan, spec, h, ledger)
    if spec.missing_group is not None:
        rows = fill_missing_group(rows, plan.groups[h.group], spec.missing_group)
    sample = comparison_sample(rows, plan, h)
    ctx = Context(plan, h)
    refusal = failure or _cannot(spec, h, name)
    alt = refuse(name, sample, ctx, refusal) if refusal else estimate_published(name, sample, ctx)
    ledger += [e.as_json() for e in sample.exclusions]
    return _Reanalysis(Analysis(h, sample, {alt.estimator: alt}, alt, alt), ledger, weighting)


def _cannot(spec: RobustnessSpec, h: Hypothesis, name: str) -> str | None:
    """Why the estimator ``name`` cannot carry out the specification's change, or None."""
    if (
        spec.adjust_for
        and h.kind in ("stage_gap", "gap_difference")
        and name
        not in (
            "lpm_fe",
            "lpm_cr2",
        )
    ):
        return (
            f"adjust_for lets the gap vary with vacancy columns, which only lpm_fe "
            f"and lpm_cr2 estimate (focal x column); {name} cannot"
        )
    weighted = spec.reweight is not None or spec.population_weights
    if (weighted or spec.response_weights is not None) and name not in WEIGHTED:
        return f"{name} does not use weights; reweighting is run with {', '.join(WEIGHTED)}"
    return None

"""Orchestration only: plan -> lock check -> bundle -> samples -> estimators -> results."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from pilot_eval import __version__
from pilot_eval.bundle import Bundle, load_bundle
from pilot_eval.descriptives import describe
from pilot_eval.estimators import Context, estimate
from pilot_eval.inference import adjust_p_values, criterion_text, threshold, verdict
from pilot_eval.lock import LockStatus, check_locked
from pilot_eval.plan import ESTIMATORS_BY_KIND, RANDOMISED, AnalysisPlan, LoadedPlan, load_plan
from pilot_eval.prepare import analysis_frame, comparison_sample
from pilot_eval.results import Estimate

RESULTS_FORMAT = 1

SOFTWARE = (
    "numpy",
    "pandas",
    "scipy",
    "statsmodels",
    "linearmodels",
    "pingouin",
    "pandera",
    "pydantic",
    "jinja2",
    "babel",
)


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


def software_versions() -> dict[str, str]:
    """Versions of Python, pilot-eval and the libraries that compute results."""
    out = {"pilot_eval": __version__, "python": platform.python_version()}
    for name in SOFTWARE:
        out[name] = metadata.version(name)
    return out


def applicable_estimators(plan: AnalysisPlan, kind: str) -> tuple[str, ...]:
    """Estimators reported for a kind; randomisation inference only for randomised designs."""
    names = ESTIMATORS_BY_KIND[kind]
    if plan.design.assignment not in RANDOMISED:
        names = tuple(n for n in names if n != "randomisation")
    return names


def evaluate(inputs: RunInputs) -> dict[str, Any]:
    """Run every hypothesis of the plan; return the content of results.json."""
    plan = inputs.loaded.plan
    frame = analysis_frame(inputs.bundle, plan)
    rows: list[dict[str, Any]] = []
    chosen: dict[str, Estimate] = {}
    excluded: list[dict[str, Any]] = []
    for h in plan.hypotheses:
        sample = comparison_sample(frame, plan, h)
        ctx = Context(plan=plan, hypothesis=h)
        estimates = {
            name: estimate(name, sample, ctx) for name in applicable_estimators(plan, h.kind)
        }
        pick = estimates.get(h.chosen_estimator) or estimate(h.chosen_estimator, sample, ctx)
        chosen[h.id] = pick
        exclusions = [{"reason": e.reason, "rows": e.rows} for e in sample.exclusions]
        excluded.extend({"table": "applications", "hypothesis": h.id, **e} for e in exclusions)
        rows.append(
            {
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
                    "min_effect": threshold(h, pick.scale),
                    "declared": h.criterion.min_effect is not None,
                    "text": criterion_text(h, pick.scale, plan.alpha),
                },
                "estimator": pick.estimator,
                "scale": pick.scale,
                "estimate": pick.estimate,
                "std_error": pick.std_error,
                "ci_low": pick.ci_low,
                "ci_high": pick.ci_high,
                "statistic": pick.statistic,
                "statistic_name": pick.statistic_name,
                "df": pick.df,
                "p_value": pick.p_value,
                "null_hypothesis": pick.null_hypothesis,
                "n_vacancies": pick.n_vacancies or int(sample.frame["vacancy_id"].nunique()),
                "n_applications": pick.n_applications or len(sample.frame),
                "reason": pick.reason,
                "estimates": {name: e.as_json() for name, e in estimates.items()},
                "exclusions": exclusions,
                "n_total_applications": sample.n_total,
            }
        )
    adjusted = adjust_p_values(plan, chosen)
    for row in rows:
        h_id = row["id"]
        row["p_adjusted"] = adjusted[h_id]
        h = next(x for x in plan.hypotheses if x.id == h_id)
        row["verdict"] = verdict(h, chosen[h_id], adjusted[h_id], plan.alpha)
    descriptives = describe(frame, inputs.bundle.vacancies, plan)
    return {
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
        "hypotheses": rows,
        "contradictions": [],
        "contradiction_checks": [],
        "suppressed_cells": descriptives["suppressed_cells"],
    }


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
        "deviations": [d.model_dump(mode="json") for d in plan.deviations],
        "lock": None
        if history is None
        else {
            "file": inputs.lock.lock_file,
            "sha256": inputs.lock.lock_sha256,
            "entries": [e.as_json() for e in history.entries],
        },
    }

"""Orchestration only: plan -> lock check -> bundle -> samples -> estimators -> results."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from pilot_eval import __version__
from pilot_eval.analysis.contradictions import (
    CHECKS,
    pooled_vs_stratified,
    tests_disagree,
)
from pilot_eval.analysis.descriptives import describe
from pilot_eval.analysis.design_checks import design_diagnostics
from pilot_eval.analysis.evidence.section import evidence_section
from pilot_eval.analysis.hypotheses import (
    analyse,
    hypothesis_row,
    judgements,
    later_stage,
    score_gap_by_arm,
    subgroup_analysis,
)
from pilot_eval.analysis.missing_bounds import manski_bounds, withheld_bounds
from pilot_eval.analysis.records import RESULTS_FORMAT, Results
from pilot_eval.analysis.robustness import robustness
from pilot_eval.data.bundle import Bundle, load_bundle
from pilot_eval.data.files import sha256_file
from pilot_eval.data.frame import (
    analysis_frame,
)
from pilot_eval.pipeline.outputs import relative
from pilot_eval.plan.lock import LockStatus, check_locked
from pilot_eval.plan.model import (
    LoadedPlan,
    load_plan,
)
from pilot_eval.privacy.audit import protect as audit_and_withhold
from pilot_eval.privacy.withhold import protect_results

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


def evaluate(inputs: RunInputs) -> Results:
    """Run every hypothesis of the plan; return the record of results.json."""
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
        row = hypothesis_row(plan, a, adjusted[h_id], judged[h_id], subgroups)
        # bounds rest on the same cells as the estimate: none where a cell is small
        bounds = manski_bounds(frame, plan, a.hypothesis)
        row["missing_data"] = withheld_bounds(a.withheld) if a.withheld and bounds else bounds
        row["later_stage"] = later_stage(frame, plan, a.hypothesis, a.withheld)
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
    suppressed = protect_results(results, Results, plan.disclosure.min_cell)
    # what the published counts still give away when solved together: withheld
    suppressed += audit_and_withhold(results, plan)
    results["suppressed_cells"] = (
        descriptives["suppressed_cells"] + results["evidence"]["suppressed_cells"] + suppressed
    )
    return Results.model_validate(results)


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

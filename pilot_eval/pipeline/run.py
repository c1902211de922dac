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
    hypothesis_result,
    judgements,
    subgroup_analysis,
)
from pilot_eval.analysis.records import RESULTS_FORMAT, Results
from pilot_eval.analysis.records.checks import Diagnostics
from pilot_eval.analysis.records.counts import Descriptives
from pilot_eval.analysis.records.other_evidence import Evidence
from pilot_eval.analysis.records.provenance import DataSummary, ExcludedRows, PlanSummary
from pilot_eval.analysis.records.statistics import Contradiction, HypothesisResult
from pilot_eval.analysis.robustness import robustness
from pilot_eval.data.bundle import Bundle, load_bundle
from pilot_eval.data.files import sha256_file
from pilot_eval.data.frame import (
    analysis_frame,
)
from pilot_eval.pipeline.outputs import relative
from pilot_eval.plan.lock import LockStatus, check_locked
from pilot_eval.plan.model import (
    AnalysisPlan,
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
    """Run every hypothesis of the plan; return the record of results.json, protected."""
    plan = inputs.loaded.plan
    frame = analysis_frame(inputs.bundle, plan)
    analyses = [analyse(frame, plan, h) for h in plan.hypotheses]
    adjusted, judged = judgements(plan, analyses)
    main_verdicts = {h_id: j.verdict for h_id, j in judged.items()}
    contradictions: list[Contradiction] = []
    rows: list[HypothesisResult] = []
    for a in analyses:
        h_id = a.hypothesis.id
        contradictions += pooled_vs_stratified(h_id, a.estimates, plan.alpha)
        contradictions += tests_disagree(h_id, a.estimates, plan.alpha)
        subgroups = []
        for column in plan.subgroups:
            summary, found = subgroup_analysis(frame, plan, a, column)
            subgroups.append(summary)
            contradictions += found
        rows.append(hypothesis_result(frame, plan, a, adjusted[h_id], judged[h_id], subgroups))
    robust, flips = robustness(frame, inputs.bundle, plan, analyses, main_verdicts)
    excluded = [
        ExcludedRows(table="applications", hypothesis=row.id, **e.model_dump())
        for row in rows
        for e in row.exclusions
    ]
    results = Results(
        results_format=RESULTS_FORMAT,
        plan=PlanSummary.model_validate(_plan_section(inputs)),
        data=DataSummary(
            files=inputs.bundle.files,
            n_vacancies=len(inputs.bundle.vacancies),
            n_applications=len(inputs.bundle.applications),
            excluded=excluded,
        ),
        software=software_versions(),
        descriptives=Descriptives.model_validate(describe(frame, inputs.bundle.vacancies, plan)),
        diagnostics=Diagnostics.model_validate(
            design_diagnostics(frame, inputs.bundle.vacancies, plan)
        ),
        hypotheses=rows,
        robustness=robust,
        evidence=Evidence.model_validate(evidence_section(frame, inputs.bundle, plan)),
        contradictions=[*contradictions, *flips],
        contradiction_checks=list(CHECKS),
        suppressed_cells=0,
    )
    return published(results, plan)


def published(results: Results, plan: AnalysisPlan) -> Results:
    """``results`` as they may be published: every small count of persons hidden (by the
    type each record declares), then what the published counts still give away when solved
    together withheld (``privacy.audit``); ``suppressed_cells`` counts all that is hidden."""
    form = results.model_dump(by_alias=True, exclude_unset=True)
    suppressed = protect_results(form, Results, plan.disclosure.min_cell)
    suppressed += audit_and_withhold(form, plan)
    form["suppressed_cells"] = (
        results.descriptives.suppressed_cells + results.evidence.suppressed_cells + suppressed
    )
    return Results.model_validate(form)


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

"""Orchestration of ``pilot-eval diagnose``: plan and design in, diagnosis.json and its
report section out (formatting in ``templates/diagnosis.*.j2``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pilot_eval.analysis.results import dumps
from pilot_eval.data.bundle import Bundle, load_bundle
from pilot_eval.design.diagnosis import DesignModel, design_from_bundle, diagnose
from pilot_eval.design.simulate import simulate_bundle
from pilot_eval.pipeline.outputs import (
    check_destination,
    manifest,
    relative,
    staged_folder,
    write_files,
)
from pilot_eval.pipeline.run import output_software_versions, software_versions
from pilot_eval.plan.lock import check_locked
from pilot_eval.plan.model import load_plan
from pilot_eval.progress import progress
from pilot_eval.report.render import Lang, render

DIAGNOSIS_FORMAT = 1


def run_diagnosis(
    plan_path: Path,
    data_dir: Path | None,
    vacancies: int,
    sims: int | None,
    jobs: int,
    scheduler: str | None,
    out: Path,
    lang: Lang,
    force: bool,
) -> dict[str, Any]:
    """Diagnose the plan's design and write ``out``; return diagnosis.json's content.

    Raises
    ------
    PilotEvalError
        On a bad plan or bundle, or an output folder that exists without ``force``.
    """
    check_destination(
        out, force, inputs=(plan_path,) if data_dir is None else (plan_path, data_dir)
    )
    loaded = load_plan(plan_path)
    plan = loaded.plan
    lock = check_locked(loaded, exploratory=True)
    model = _design(plan_path, data_dir, vacancies)
    n = sims or (plan.diagnosis.sims if plan.diagnosis else 500)
    with progress("diagnosis", 2 * n, "runs") as advance:
        summary = diagnose(plan, model, n, jobs, scheduler, advance)
    command = ["pilot-eval", "diagnose", relative(plan_path)]
    command += ["--data", relative(data_dir)] if data_dir else ["--simulate"]
    if data_dir is None:
        command += ["--vacancies", str(vacancies)]
    command += ["--sims", str(n), "--out", relative(out), "--lang", lang]
    result = {
        "diagnosis_format": DIAGNOSIS_FORMAT,
        "plan": {
            "id": plan.id,
            "title": plan.title,
            "version": plan.version,
            "file": loaded.path.name,
            "sha256": loaded.sha256,
            "locked": lock.locked,
            "disclosure": plan.disclosure.model_dump(mode="json"),
            "design": plan.design.model_dump(mode="json"),
        },
        **summary,
        "software": software_versions(),
    }
    texts = {"diagnosis.json": dumps(result)}
    for fmt in ("md", "html"):
        texts[f"diagnosis.{lang}.{fmt}"] = render(
            result, lang, fmt, " ".join(command), template="diagnosis"
        )
    with staged_folder(out, force) as staging:
        written = write_files(staging, texts)
        inputs = {"plan": {relative(plan_path): loaded.sha256}}
        write_files(
            staging,
            {
                "manifest.json": manifest(
                    command=command,
                    inputs=inputs,
                    software=output_software_versions(),
                    outputs=written,
                    exploratory=not lock.locked,
                )
            },
        )
    return result


def _design(plan_path: Path, data_dir: Path | None, vacancies: int) -> DesignModel:
    plan = load_plan(plan_path).plan
    if data_dir is not None:
        return design_from_bundle(load_bundle(data_dir, plan), plan, "data")
    seed = plan.diagnosis.seed if plan.diagnosis else 0
    synthetic = simulate_bundle(seed=seed, n_vacancies=vacancies, optional=False)
    bundle = Bundle(Path("."), {}, synthetic.vacancies, synthetic.applications)
    return design_from_bundle(bundle, plan, "simulate")

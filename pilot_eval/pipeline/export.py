"""Orchestration of the open-data export: anonymise, write, read back, re-analyse, report.

``pilot-eval export-open-data PLAN --data DIR --out DIR`` writes into ``OUT/``:

* ``vacancies.csv`` and ``applications.csv``: the anonymised bundle
  (:mod:`pilot_eval.privacy.opendata`), which validates as a bundle of the same plan;
* ``disclosure.json``: what was recoded and suppressed, the remaining risk, and every
  hypothesis of the plan on the original data next to the open data;
* ``export-report.<lang>.md`` and ``.html``: the same for readers;
* ``manifest.json``: SHA-256 of inputs and outputs, software versions, the command.

The open data are read back with the bundle loader before they are analysed, so what is
compared is what is published.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pilot_eval.analysis.results import dumps
from pilot_eval.data.bundle import load_bundle
from pilot_eval.data.files import csv_text
from pilot_eval.pipeline.outputs import (
    check_destination,
    manifest,
    relative,
    staged_folder,
    write_files,
    write_text,
)
from pilot_eval.pipeline.run import (
    RunInputs,
    evaluate,
    input_hashes,
    output_software_versions,
    prepare_inputs,
)
from pilot_eval.privacy.cells import protect_row
from pilot_eval.privacy.opendata import OpenData, anonymise, compare_results
from pilot_eval.privacy.releases import guard
from pilot_eval.report.render import Lang, render

EXPORT_FORMAT = 1

RISK_COUNTS = (
    "applications_in_classes_with_one_outcome",
    "applications_below_k_if_vacancy_known",
    "applications_unique_on_vacancy_and_scores",
    "applications_sensitive_known_to_committee",
)
"""Counts of applications among the risk figures that fall under the minimum cell rule."""


def export_open_data(
    plan_path: Path,
    data_dir: Path,
    out: Path,
    lang: Lang,
    exploratory: bool = False,
    force: bool = False,
    register: Path | None = None,
) -> dict[str, Any]:
    """Write the open-data export of the bundle into ``out``; return disclosure.json's content.
    With ``register``, the release register refuses an export whose applications differ from
    an earlier release by fewer than ``min_cell`` and records it (``pilot_eval.privacy.releases``).

    Raises
    ------
    PilotEvalError
        On a bad plan, lock or bundle, or an output folder that exists without ``force``.
    """
    check_destination(out, force, inputs=(plan_path, data_dir, *([register] if register else [])))
    inputs = prepare_inputs(plan_path, data_dir, exploratory)
    plan = inputs.loaded.plan
    record = guard(register, "open_data", inputs.loaded, inputs.bundle)
    original = evaluate(inputs).as_mapping()
    opened = anonymise(inputs.bundle, plan)
    command = ["pilot-eval", "export-open-data", relative(plan_path), "--data", relative(data_dir)]
    command += ["--out", relative(out), "--lang", lang]
    if exploratory:
        command.append("--exploratory")
    with staged_folder(out, force) as staging:
        tables = {
            "vacancies.csv": csv_text(opened.vacancies, float_format="%.12g"),
            "applications.csv": csv_text(opened.applications, float_format="%.12g"),
        }
        written = write_files(staging, tables)
        published = evaluate(
            dataclasses.replace(inputs, bundle=load_bundle(staging, plan))
        ).as_mapping()
        summary = export_summary(inputs, opened, original, published)
        texts = {"disclosure.json": dumps(summary)}
        for fmt in ("md", "html"):
            texts[f"export-report.{lang}.{fmt}"] = render(
                summary, lang, fmt, " ".join(command), template="export"
            )
        written.update(write_files(staging, texts))
        write_text(
            staging,
            "manifest.json",
            manifest(
                command=command,
                inputs=input_hashes(inputs, plan_path, data_dir),
                software=output_software_versions(),
                outputs=written,
                exploratory=exploratory,
            ),
        )
    record()
    return summary


def export_summary(
    inputs: RunInputs,
    opened: OpenData,
    original: Mapping[str, Any],
    published: Mapping[str, Any],
) -> dict[str, Any]:
    """The content of disclosure.json."""
    plan = inputs.loaded.plan
    protection = _protect_counts(opened.protection.as_json(), plan.disclosure.min_cell)
    comparison = compare_results(original, published)
    return {
        "export_format": EXPORT_FORMAT,
        "plan": {
            key: original["plan"][key]
            for key in ("id", "title", "version", "file", "sha256", "locked", "exploratory")
        }
        | {"disclosure": plan.disclosure.model_dump(mode="json"), "alpha": plan.alpha},
        "data": {
            "files": original["data"]["files"],
            "n_vacancies": original["data"]["n_vacancies"],
            "n_applications": original["data"]["n_applications"],
        },
        "open_data": {
            "files": published["data"]["files"],
            "n_vacancies": published["data"]["n_vacancies"],
            "n_applications": published["data"]["n_applications"],
            "vacancy_columns": list(opened.vacancies.columns),
            "application_columns": list(opened.applications.columns),
        },
        "protection": protection,
        "comparison": comparison,
        "verdicts_changed": sum(1 for row in comparison if not row["same_verdict"]),
        "software": original["software"],
    }


def _protect_counts(protection: dict[str, Any], min_cell: int) -> dict[str, Any]:
    """Counts of applications below ``min_cell`` become null. The empty cells of a column
    in the published file are the sum of the values left empty and those not reported
    before, so the two are protected as a row whose total is public (complementary
    suppression)."""
    out = dict(protection)
    rows = []
    for row in protection["local_suppression"]:
        pair = {"suppressed": row["suppressed"], "missing_before": row["missing_before"]}
        rows.append({**row, **protect_row(pair, min_cell).cells})
    out["local_suppression"] = rows
    single = {"complementary_suppression": protection["complementary_suppression"]}
    out.update(protect_row(single, min_cell, partition=False).cells)
    risk = dict(protection["risk"])
    risk.update(protect_row({k: risk[k] for k in RISK_COUNTS}, min_cell, partition=False).cells)
    out["risk"] = risk
    return out

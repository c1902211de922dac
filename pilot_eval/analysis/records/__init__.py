"""Typed, frozen records of everything a run publishes, and results.json made from them.

:class:`Results` is the whole of ``results.json``. Its parts, in the order a run makes them:
:mod:`~pilot_eval.analysis.records.provenance` (the plan and the data read),
:mod:`~pilot_eval.analysis.records.counts` (descriptive counts),
:mod:`~pilot_eval.analysis.records.checks` (balance, missing answers, fidelity),
:mod:`~pilot_eval.analysis.records.statistics` (hypotheses, robustness, contradictions)
and :mod:`~pilot_eval.analysis.records.other_evidence`. The JSON Schema of the format,
``pilot_eval/formats/results.schema.json``, is generated from these classes
(``python -m pilot_eval.reference``); ``results_format`` is its version and changes when a
field is removed or changes its meaning.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pilot_eval.analysis.records.base import Record, Whole
from pilot_eval.analysis.records.checks import Diagnostics
from pilot_eval.analysis.records.counts import Descriptives
from pilot_eval.analysis.records.other_evidence import Evidence
from pilot_eval.analysis.records.provenance import DataSummary, PlanSummary
from pilot_eval.analysis.records.statistics import Contradiction, HypothesisResult, RobustnessResult
from pilot_eval.analysis.results import clean_number

RESULTS_FORMAT = 1
"""The version of the results.json format."""


class Results(Record):
    """Everything a run publishes: ``results.json``."""

    results_format: Literal[1]
    plan: PlanSummary
    data: DataSummary
    software: dict[str, str] | None = None
    descriptives: Descriptives
    diagnostics: Diagnostics
    hypotheses: list[HypothesisResult]
    robustness: list[RobustnessResult]
    evidence: Evidence
    contradictions: list[Contradiction]
    contradiction_checks: list[str]
    suppressed_cells: Whole

    def as_mapping(self) -> dict[str, Any]:
        """The record as nested dictionaries, numbers as computed (not rounded): what the
        report is rendered from, so that it does not depend on the rounding of the file."""
        return self.model_dump(by_alias=True, exclude_unset=True)

    def json_form(self) -> dict[str, Any]:
        """The content of results.json: every field by its published name, those a record
        was not given left out, numbers rounded (:func:`clean_number`)."""
        form: dict[str, Any] = clean_number(
            self.model_dump(mode="json", by_alias=True, exclude_unset=True)
        )
        return form

    def dumps(self) -> str:
        """results.json: sorted keys, two-space indent, UTF-8, a final newline."""
        return json.dumps(self.json_form(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def results_json_schema() -> dict[str, Any]:
    """The JSON Schema of results.json, as published."""
    schema = Results.model_json_schema(by_alias=True, mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"pilot-eval/results-format-{RESULTS_FORMAT}"
    schema["title"] = "pilot-eval results.json"
    return schema


__all__ = ["RESULTS_FORMAT", "Results", "results_json_schema"]

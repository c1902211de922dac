"""Snapshots of the rendered report: fragments of the HTML and the whole Markdown report.

Regenerate after an intended change with ``pytest tests/report/test_report_snapshots.py
--force-regen`` and review the diff.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pytest_regressions.file_regression import FileRegressionFixture

from pilot_eval.analysis.records import Results
from pilot_eval.pipeline.run import evaluate, prepare_inputs
from pilot_eval.report.render import render

ROOT = Path(__file__).resolve().parents[2]
COMMAND = "pilot-eval run analysis_plans/breed-werven-2024.yaml --data data/synthetic --out out"


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    inputs = prepare_inputs(
        ROOT / "analysis_plans" / "breed-werven-2024.yaml", ROOT / "data" / "synthetic", False
    )
    data = evaluate(inputs).as_mapping()
    # the installed versions are not what is snapshotted
    data["software"] = {name: "x" for name in data["software"]}
    return data


def _section(html: str, section_id: str) -> str:
    match = re.search(rf'<section id="{section_id}">.*?</section>', html, re.S)
    assert match, section_id
    return match.group(0) + "\n"


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_summary_section(
    results: dict[str, Any], lang: str, file_regression: FileRegressionFixture
) -> None:
    html = render(Results.model_validate(results), lang, "html", COMMAND)  # type: ignore[arg-type]
    file_regression.check(_section(html, "summary"), basename=f"summary.{lang}", extension=".html")


def test_contradictions_section(
    results: dict[str, Any], file_regression: FileRegressionFixture
) -> None:
    html = render(Results.model_validate(results), "nl", "html", COMMAND)  # type: ignore[arg-type]
    file_regression.check(
        _section(html, "contradictions"), basename="contradictions.nl", extension=".html"
    )


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_markdown_report(
    results: dict[str, Any], lang: str, file_regression: FileRegressionFixture
) -> None:
    text = render(Results.model_validate(results), lang, "md", COMMAND)  # type: ignore[arg-type]
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", text)  # no timestamps
    file_regression.check(text, basename=f"report.{lang}", extension=".md")

"""The example plan on the shipped bundle: results pinned, and byte-identical across runs.

The pinned file is ``tests/pipeline/test_example_results/example_results.json``. Its numbers are
compared within a relative tolerance (``tests/numbers.py``), since another CPU changes the
last digits; byte-identity is tested on this machine by running twice. After an intended
change of the numbers, regenerate it with ``pytest tests/pipeline/test_example_results.py
--force-regen`` and review the diff like any other change.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pilot_eval.analysis.records import Results
from pilot_eval.pipeline.run import evaluate, prepare_inputs
from tests.numbers import EXAMPLE_RESULTS, check_pinned

ROOT = Path(__file__).resolve().parents[2]


def _run() -> Results:
    inputs = prepare_inputs(
        ROOT / "analysis_plans" / "breed-werven-2024.yaml", ROOT / "data" / "synthetic", False
    )
    return evaluate(inputs)


@pytest.fixture(scope="module")
def results_text() -> str:
    return _run().dumps()


def test_two_runs_are_byte_identical(results_text: str) -> None:
    assert _run().dumps() == results_text


def test_example_results_are_pinned(results_text: str, request: pytest.FixtureRequest) -> None:
    results = json.loads(results_text)
    # versions of the installed libraries are not part of what is pinned
    results.pop("software")
    check_pinned(
        results,
        EXAMPLE_RESULTS,
        request,
    )


def test_every_hypothesis_of_the_plan_is_in_the_results(results_text: str) -> None:
    results = json.loads(results_text)
    assert [h["id"] for h in results["hypotheses"]] == [f"H{i}" for i in range(1, 13)]
    for h in results["hypotheses"]:
        assert h["verdict"] in ("met", "not_met", "inconclusive", "not_estimable")
        assert h["estimator"] in h["estimates"]


def test_robustness_ledgers_count_every_application(results_text: str) -> None:
    results = json.loads(results_text)
    total = results["data"]["n_applications"]
    for row in results["robustness"]:
        excluded = sum(e["rows"] for e in row["exclusions"])
        assert excluded + row["n_applications"] == total, (row["specification"], row["hypothesis"])

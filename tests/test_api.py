"""The Python interface: the examples of docs/api.md run as written, and the functions are
what the commands call."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

import pilot_eval
from pilot_eval import plan_schema, read_results, run_plan, validate, verify
from pilot_eval.errors import DataValidationError, OutputError

ROOT = Path(__file__).resolve().parent.parent
PLAN = ROOT / "analysis_plans" / "breed-werven-2024.yaml"


@pytest.fixture
def checkout_like(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder laid out as the checkout: the example plan, its lock and the data."""
    (tmp_path / "analysis_plans").mkdir()
    shutil.copy(PLAN, tmp_path / "analysis_plans")
    shutil.copy(PLAN.with_name("breed-werven-2024.lock.json"), tmp_path / "analysis_plans")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "synthetic").symlink_to(ROOT / "data" / "synthetic")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _examples() -> list[str]:
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, re.S)


def test_the_examples_of_docs_api_run(
    checkout_like: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    examples = _examples()
    assert len(examples) == 3
    for code in examples:
        exec(compile(code, "docs/api.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "The data folder data/received does not exist" in printed
    assert re.search(r"^H1 ", printed, re.M)
    assert (checkout_like / "out" / "results.json").exists()


def test_run_plan_returns_what_it_wrote(checkout_like: Path) -> None:
    outcome = run_plan(
        "analysis_plans/breed-werven-2024.yaml", "data/synthetic", "out", lang="en", pdf=False
    )
    on_disk = {
        p.relative_to(checkout_like / "out").as_posix()
        for p in (checkout_like / "out").rglob("*")
        if p.is_file()
    }
    assert set(outcome.files) == on_disk
    assert "report.en.pdf" not in on_disk
    assert outcome.pdf_skipped is None
    assert [h["id"] for h in outcome.results["hypotheses"]] == [f"H{i}" for i in range(1, 13)]
    assert verify("out").exit_code == 0
    # the same results as typed records, from the outcome and from the file
    record = read_results("out/results.json")
    assert record == outcome.record
    assert [h.id for h in record.hypotheses] == [f"H{i}" for i in range(1, 13)]
    assert record.dumps() == (checkout_like / "out" / "results.json").read_text(encoding="utf-8")


def test_read_results_refuses_another_format(checkout_like: Path) -> None:
    import json

    path = checkout_like / "old.json"
    data = json.loads(
        (ROOT / "tests/pipeline/test_example_results/example_results.json").read_text()
    )
    data["results_format"] = 2
    data["hypotheses"][0]["verdikt"] = "met"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(OutputError) as info:
        read_results(path)
    assert "results_format" in info.value.message
    assert "hypotheses.0.verdikt" in info.value.message


def test_validate_raises_with_every_problem(checkout_like: Path) -> None:
    empty = checkout_like / "empty"
    empty.mkdir()
    with pytest.raises(DataValidationError) as info:
        validate("analysis_plans/breed-werven-2024.yaml", empty)
    assert {p.file for p in info.value.problems} >= {
        "vacancies.{csv/parquet/xlsx}",
        "applications.{csv/parquet/xlsx}",
    }
    assert not (checkout_like / "out").exists()


def test_public_names_and_the_packaged_schema() -> None:
    assert set(pilot_eval.__all__) >= {
        "run_plan",
        "validate",
        "verify",
        "plan_schema",
        "results_schema",
        "read_results",
    }
    committed = (ROOT / "analysis_plans" / "plan.schema.json").read_text(encoding="utf-8")
    import json

    assert plan_schema() == json.loads(committed)


def test_run_plan_refuses_an_unknown_language_before_any_work(checkout_like: Path) -> None:
    with pytest.raises(ValueError, match="lang must be 'nl' or 'en'"):
        run_plan("analysis_plans/breed-werven-2024.yaml", "data/synthetic", "out", lang="de")  # type: ignore[arg-type]
    assert not (checkout_like / "out").exists()

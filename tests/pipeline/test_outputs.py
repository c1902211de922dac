"""The output folder: never an input folder or a folder holding an input, and one command
at a time."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pilot_eval import run_plan
from pilot_eval.errors import OutputError
from pilot_eval.pipeline.outputs import check_destination, output_lock

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "analysis_plans" / "breed-werven-2024.yaml"


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "plans").mkdir()
    shutil.copy(PLAN, tmp_path / "plans")
    shutil.copy(PLAN.with_name("breed-werven-2024.lock.json"), tmp_path / "plans")
    shutil.copytree(ROOT / "data" / "synthetic", tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("out", "says"),
    [
        ("data", "is the input folder data or lies inside it"),
        ("data/out", "is the input folder data or lies inside it"),
        (".", "holds the input"),
        ("plans", "holds the input"),
    ],
)
def test_an_output_folder_that_meets_an_input_is_refused_and_nothing_is_lost(
    workspace: Path, out: str, says: str
) -> None:
    before = sorted(p.relative_to(workspace) for p in workspace.rglob("*"))
    with pytest.raises(OutputError, match=says):
        run_plan("plans/breed-werven-2024.yaml", "data", out, force=True, pdf=False)
    assert sorted(p.relative_to(workspace) for p in workspace.rglob("*")) == before


def test_an_output_folder_beside_the_inputs_is_fine(workspace: Path) -> None:
    check_destination(
        Path("out"), False, inputs=(Path("plans/breed-werven-2024.yaml"), Path("data"))
    )
    check_destination(Path("plans/out"), False, inputs=(Path("plans/breed-werven-2024.yaml"),))


def test_a_second_command_into_the_same_folder_is_refused(workspace: Path) -> None:
    with output_lock(Path("out")), pytest.raises(OutputError, match="Another pilot-eval command"):
        run_plan("plans/breed-werven-2024.yaml", "data", "out", pdf=False)
    assert not (workspace / "out").exists()
    # once the first is done, the folder can be written
    run_plan("plans/breed-werven-2024.yaml", "data", "out", pdf=False)
    assert (workspace / "out" / "results.json").is_file()

"""The release register: a publication whose applications differ from an earlier one by
fewer than min_cell is refused (differencing), a re-run is allowed and not recorded again."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from pilot_eval.cli import main
from pilot_eval.privacy.releases import difference, fingerprints

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "analysis_plans" / "breed-werven-2024.yaml"


def test_fingerprints_tell_every_changed_row() -> None:
    frame = pd.DataFrame(
        {"application_id": ["A1", "A2", "A3"], "stage_reached": ["applied", "invited", "hired"]}
    )
    before = fingerprints(frame, "salt")
    assert list(before) == ["A1", "A2", "A3"]
    changed = frame.assign(stage_reached=["applied", "offered", "hired"])
    assert difference(before, fingerprints(changed, "salt")) == 1
    # one left out and one added: two applicants differ
    swapped = pd.concat([frame.iloc[:2], frame.iloc[[2]].assign(application_id="A4")])
    assert difference(before, fingerprints(swapped, "salt")) == 2
    assert difference(before, fingerprints(frame, "salt")) == 0
    assert fingerprints(frame, "other salt") != before


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    _, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 0), err


def _edit_stages(folder: Path, n: int) -> None:
    apps = pd.read_csv(folder / "applications.csv", dtype=str, keep_default_na=False)
    rows = apps.index[apps["stage_reached"] == "applied"][:n]
    apps.loc[rows, "stage_reached"] = "invited"
    apps.to_csv(folder / "applications.csv", index=False)


def test_a_release_that_differs_by_a_few_applicants_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "plans").mkdir()
    shutil.copy(PLAN, tmp_path / "plans")
    shutil.copy(PLAN.with_name("breed-werven-2024.lock.json"), tmp_path / "plans")
    shutil.copytree(ROOT / "data" / "synthetic", tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    register = "plans/breed-werven-2024.releases.json"

    def run(out: str) -> tuple[int, str]:
        args = ["run", "plans/breed-werven-2024.yaml", "--data", "data", "--out", out]
        return _cli([*args, "--no-pdf", "--register", register], capsys)

    assert run("first")[0] == 0
    recorded = (tmp_path / register).read_bytes()
    # the same data again: a re-run, allowed and not recorded twice
    assert run("again")[0] == 0
    assert (tmp_path / register).read_bytes() == recorded
    # three applicants changed: refused, nothing written, register unchanged
    _edit_stages(tmp_path / "data", 3)
    code, err = run("three")
    assert code == 2
    assert "differ from release 1 (report) by 3 application(s)" in err
    assert not (tmp_path / "three").exists()
    assert (tmp_path / register).read_bytes() == recorded
    # min_cell applicants changed in all: a release of its own
    _edit_stages(tmp_path / "data", 7)
    assert run("ten")[0] == 0
    assert '"release": 2' in (tmp_path / register).read_text(encoding="utf-8")

"""The command line: exit codes, messages without tracebacks, nothing written on error."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pilot_eval.cli import main
from tests.conftest import PDF_MISSING, needs_pdf

ROOT = Path(__file__).resolve().parent.parent
PLAN_NAME = "breed-werven-2024.yaml"


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the entry point in-process; return exit code, stdout and stderr."""
    with pytest.raises(SystemExit) as info:
        main(args)
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 0), out, err


def _run_args(plan_dir: Path, bundle_dir: Path, out: Path | str) -> list[str]:
    """``pilot-eval run`` of the example plan on ``bundle_dir`` into ``out``."""
    return ["run", str(plan_dir / PLAN_NAME), "--data", str(bundle_dir), "--out", str(out)]


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _plan_edit(old: str, new: str) -> Callable[[Path, Path], None]:
    return lambda plan_dir, bundle_dir: _replace(plan_dir / PLAN_NAME, old, new)


def _data_edit(table: str, old: str, new: str) -> Callable[[Path, Path], None]:
    return lambda plan_dir, bundle_dir: _replace(bundle_dir / f"{table}.csv", old, new)


def _write(table: str, content: bytes) -> Callable[[Path, Path], None]:
    return lambda plan_dir, bundle_dir: (bundle_dir / f"{table}.csv").write_bytes(content)


# Each bad input of the foundation issue, with text the message must contain.
BAD_INPUTS = {
    "missing required column": (
        _data_edit("vacancies", "vacancy_id,department,", "vacancy_id,dept,"),
        ["vacancies.csv", "department", "required column is missing"],
    ),
    "duplicate application_id": (
        _data_edit("applications", "A2,V1", "A1,V1"),
        ["applications.csv", "row 3", "application_id", "'A1'", "unique"],
    ),
    "unknown vacancy_id": (
        _data_edit("applications", "A5,V3", "A5,V404"),
        ["applications.csv", "row 6", "vacancy_id", "'V404'"],
    ),
    "unknown stage": (
        _data_edit("applications", "offered", "shortlisted"),
        ["stage_reached", "'shortlisted'"],
    ),
    "salary scale 25": (
        _data_edit("vacancies", "FIN,ICT,8", "FIN,ICT,25"),
        ["vacancies.csv", "row 4", "salary_scale", "'25'", "from 1 to 18"],
    ),
    "undeclared arm": (
        _data_edit("vacancies", "10,pilot", "10,treatment"),
        ["vacancies.csv", "arm", "'treatment'"],
    ),
    "binary csv": (
        _write("applications", bytes(range(256)) * 4),
        ["applications.csv", "binary"],
    ),
    "empty applications": (_write("applications", b""), ["applications.csv", "empty"]),
    "mistyped plan key": (
        _plan_edit("    alternative: less", "    alternativ: less"),
        [PLAN_NAME, "hypotheses[3].alternativ", "unknown key", "alternative"],
    ),
    "dangling group": (
        _plan_edit("    group: gender", "    group: geslacht"),
        [PLAN_NAME, "hypotheses[6].group", "'geslacht'", "no such group"],
    ),
    "broken yaml": (
        _plan_edit("  arms: [control, pilot]", "  arms: [control, pilot"),
        [PLAN_NAME, "YAML", "line "],
    ),
    "edited locked plan": (
        _plan_edit("alpha: 0.05", "alpha: 0.10"),
        [PLAN_NAME, "changed since it was last locked", "deviations", "pilot-eval lock"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_exits_2_with_message_and_writes_nothing(
    case: str,
    plan_dir: Path,
    bundle_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    breaker, expected = BAD_INPUTS[case]
    breaker(plan_dir, bundle_dir)
    out_dir = tmp_path / "results" / "out"
    before = sorted(tmp_path.rglob("*"))
    args = _run_args(plan_dir, bundle_dir, out_dir)
    code, _, err = run_cli(args, capsys)
    assert code == 2
    for text in expected:
        assert text in err, f"{text!r} not in message:\n{err}"
    assert "Traceback" not in err
    assert not out_dir.exists()
    assert sorted(tmp_path.rglob("*")) == before


def test_broken_yaml_message_gives_the_line(
    plan_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = plan_dir / PLAN_NAME
    lines = plan.read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("  arms:"))
    lines[at] = "  arms: [control, pilot"
    plan.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, _, err = run_cli(["lock", str(plan)], capsys)
    assert code == 2
    # PyYAML reports an unclosed flow sequence where the next token appears
    assert f"started at line {at + 1}" in err


def test_run_writes_results_report_and_manifest(
    plan_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    bundle = ROOT / "data" / "synthetic"
    args = ["run", str(plan_dir / PLAN_NAME), "--data", str(bundle), "--out", "out"]
    code, _out, err = run_cli(args, capsys)
    assert code == 0, err
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    pdf = [] if PDF_MISSING else ["report.nl.pdf"]
    assert names == sorted(
        ["figures", "manifest.json", "report.nl.html", "report.nl.md", *pdf, "results.json"]
    )
    assert ("PDF report skipped" in err) == bool(PDF_MISSING)
    results_text = (tmp_path / "out" / "results.json").read_text(encoding="utf-8")
    assert str(tmp_path) not in results_text
    assert str(ROOT) not in results_text
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["command"][:2] == ["pilot-eval", "run"]
    assert not any(os.path.isabs(part) for part in manifest["command"])
    assert {"results.json", "report.nl.html", "report.nl.md", *pdf} == {
        name for name in manifest["outputs"] if not name.startswith("figures/")
    }
    from importlib import metadata, util

    installed = util.find_spec("weasyprint") is not None
    weasyprint = metadata.version("weasyprint") if installed else "not installed"
    assert manifest["software"]["weasyprint"] == weasyprint
    assert {"matplotlib", "jinja2", "babel", "numpy"} <= set(manifest["software"])
    assert "figures/forest.svg" in manifest["outputs"]
    assert set(manifest["inputs"]) == {"plan", "lock", "data"}
    results = json.loads(results_text)
    assert results["plan"]["locked"] is True
    assert results["plan"]["exploratory"] is False
    assert [h["id"] for h in results["hypotheses"]] == [f"H{i}" for i in range(1, 13)]

    # a second run into another folder gives byte-identical results
    code, _, err = run_cli([*args[:-1], "out2"], capsys)
    assert code == 0, err
    assert (tmp_path / "out2" / "results.json").read_text(encoding="utf-8") == results_text
    assert (tmp_path / "out2" / "report.nl.md").read_bytes() != b""


def test_run_without_weasyprint_skips_the_pdf_and_succeeds(
    plan_dir: Path,
    bundle_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pilot_eval.report.render

    reason = "WeasyPrint is not installed; install it with: pip install 'pilot-eval[pdf]'"
    monkeypatch.setattr(pilot_eval.report.render, "pdf_unavailable", lambda: reason)
    out_dir = tmp_path / "out"
    args = _run_args(plan_dir, bundle_dir, out_dir)
    code, _out, err = run_cli(args, capsys)
    assert code == 0, err
    assert err.count("PDF report skipped") == 1
    assert err.strip().splitlines()[-1] == f"PDF report skipped: {reason}."
    assert "Traceback" not in err
    assert not (out_dir / "report.nl.pdf").exists()
    assert (out_dir / "report.nl.html").exists()
    assert (out_dir / "report.nl.md").exists()
    manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    assert "report.nl.pdf" not in manifest["outputs"]


def test_no_pdf_writes_no_pdf_and_says_nothing_of_it(
    plan_dir: Path, bundle_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "out"
    args = _run_args(plan_dir, bundle_dir, out_dir)
    code, _, err = run_cli([*args, "--no-pdf"], capsys)
    assert code == 0, err
    assert "PDF" not in err
    assert not (out_dir / "report.nl.pdf").exists()
    manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["command"][-1] == "--no-pdf"


@needs_pdf
def test_pdf_report_is_a_pdf_and_deterministic(
    plan_dir: Path,
    bundle_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pdfs = []
    for name in ("a", "b"):
        # sibling folders: the command line the report prints is the same
        (tmp_path / name).mkdir()
        monkeypatch.chdir(tmp_path / name)
        args = _run_args(plan_dir, bundle_dir, "out")
        code, _, err = run_cli([*args, "--lang", "en"], capsys)
        assert code == 0, err
        pdfs.append((tmp_path / name / "out" / "report.en.pdf").read_bytes())
    assert pdfs[0].startswith(b"%PDF-")
    assert pdfs[0] == pdfs[1]


def test_templates_of_ones_own_that_lack_a_file_exit_2_before_the_work(
    plan_dir: Path,
    bundle_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pilot_eval.pipeline.run

    own = tmp_path / "house-style"
    own.mkdir()
    (own / "report.md.j2").write_text("{{ r }}", encoding="utf-8")
    monkeypatch.setenv("PILOT_EVAL_TEMPLATES", str(own))
    monkeypatch.setattr(pilot_eval.pipeline.run, "evaluate", lambda _: pytest.fail("evaluated"))
    out_dir = tmp_path / "out"
    code, _, err = run_cli(_run_args(plan_dir, bundle_dir, out_dir), capsys)
    assert code == 2, err
    assert "PILOT_EVAL_TEMPLATES=" in err
    assert "the folder lacks" in err
    assert "diagnosis.html.j2" in err
    assert "more." in err
    assert not out_dir.exists()


def test_an_output_folder_that_cannot_be_written_exits_2(
    plan_dir: Path,
    bundle_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pilot_eval.pipeline.outputs

    def full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pilot_eval.pipeline.outputs, "write_files", full)
    out_dir = tmp_path / "out"
    code, _, err = run_cli(_run_args(plan_dir, bundle_dir, out_dir), capsys)
    assert code == 2, err
    assert "Cannot write the output folder" in err
    assert "No space left on device" in err
    assert not out_dir.exists()
    assert not list(tmp_path.glob(".out.partial-*"))


def test_internal_error_exits_3_without_traceback(
    plan_dir: Path,
    bundle_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pilot_eval.pipeline.run

    def broken(*_: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(pilot_eval.pipeline.run, "evaluate", broken)
    monkeypatch.delenv("PILOT_EVAL_DEBUG", raising=False)
    out_dir = tmp_path / "out"
    args = _run_args(plan_dir, bundle_dir, out_dir)
    code, _, err = run_cli(args, capsys)
    assert code == 3
    assert "internal error (ZeroDivisionError: division by zero)" in err
    assert "Traceback" not in err
    assert not out_dir.exists()


def test_existing_output_folder_needs_force(
    plan_dir: Path, bundle_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "keep.txt").write_text("mine", encoding="utf-8")
    args = _run_args(plan_dir, bundle_dir, out_dir)
    code, _, err = run_cli(args, capsys)
    assert code == 2
    assert "--force" in err
    assert (out_dir / "keep.txt").read_text(encoding="utf-8") == "mine"
    code, _, err = run_cli([*args, "--force"], capsys)
    assert code == 0, err
    assert not (out_dir / "keep.txt").exists()
    assert (out_dir / "results.json").exists()


def test_exploratory_run_of_an_edited_plan_is_marked(
    plan_dir: Path, bundle_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _replace(plan_dir / PLAN_NAME, "alpha: 0.05", "alpha: 0.10")
    out_dir = tmp_path / "out"
    args = _run_args(plan_dir, bundle_dir, out_dir)
    code, out, err = run_cli([*args, "--exploratory", "--lang", "en"], capsys)
    assert code == 0, err
    assert "EXPLORATORY" in out
    results = json.loads((out_dir / "results.json").read_text(encoding="utf-8"))
    assert results["plan"]["exploratory"] is True
    assert results["plan"]["locked"] is False
    assert "EXPLORATORY ANALYSIS" in (out_dir / "report.en.html").read_text(encoding="utf-8")
    manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    assert "--exploratory" in manifest["command"]


def test_validate_prints_summary(
    plan_dir: Path, bundle_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(
        ["validate", str(plan_dir / PLAN_NAME), "--data", str(bundle_dir)], capsys
    )
    assert code == 0
    assert "valid" in out
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:] if line.strip()}
    assert lines["vacancies"] == ["2", "2"]
    assert lines["applications"] == ["3", "3"]
    # one origin value missing among the three pilot applications
    assert out.count("33.3%") >= 1


def test_lock_and_amend_from_the_command_line(
    plan_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = plan_dir / PLAN_NAME
    (plan_dir / "breed-werven-2024.lock.json").unlink()
    # the example as registered: before its diagnosis section and the deviation adding it
    text = plan.read_text(encoding="utf-8").split("\n# Design diagnosis")[0]
    plan.write_text(text + "\ndeviations: []\n", encoding="utf-8")
    code, out, _ = run_cli(["lock", str(plan), "--date", "2023-09-01"], capsys)
    assert code == 0
    assert "registered" in out
    code, out, _ = run_cli(["lock", str(plan)], capsys)
    assert (code, "nothing to do" in out) == (0, True)
    _replace(plan, "alpha: 0.05", "alpha: 0.01")
    code, _, err = run_cli(["lock", str(plan)], capsys)
    assert code == 2
    assert "no new deviation" in err
    _replace(
        plan,
        "deviations: []",
        "deviations:\n  - {date: 2024-01-10, what: alpha 0.01, why: stricter, "
        "data_access: no_outcome_data}",
    )
    code, out, _ = run_cli(["lock", str(plan), "--date", "2024-01-10"], capsys)
    assert code == 0
    assert "amended" in out
    assert "entry 2" in out


def test_simulate_is_deterministic_and_refuses_to_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert (
        run_cli(["simulate", "--out", str(a), "--seed", "7", "--vacancies", "30"], capsys)[0] == 0
    )
    assert (
        run_cli(["simulate", "--out", str(b), "--seed", "7", "--vacancies", "30"], capsys)[0] == 0
    )
    for name in ("vacancies.csv", "applications.csv", "truth.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    code, _, err = run_cli(["simulate", "--out", str(a), "--seed", "8"], capsys)
    assert code == 2
    assert "--force" in err


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["run"], capsys)
    assert code == 2
    assert "Missing argument" in err


def test_console_script_has_no_traceback(tmp_path: Path) -> None:
    script = shutil.which("pilot-eval") or str(Path(sys.executable).parent / "pilot-eval")
    broken = tmp_path / "plan.yaml"
    broken.write_text("plan_format: 1\nid: [unclosed\n", encoding="utf-8")
    proc = subprocess.run(
        [script, "validate", str(broken), "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "plan.yaml" in proc.stderr


def test_killed_run_leaves_no_output_folder(plan_dir: Path, tmp_path: Path) -> None:
    import signal
    import time

    script = shutil.which("pilot-eval") or str(Path(sys.executable).parent / "pilot-eval")
    out = tmp_path / "out"
    args = [script, "run", str(plan_dir / PLAN_NAME), "--data", str(ROOT / "data" / "synthetic")]
    proc = subprocess.Popen(
        [*args, "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    # wait until the run is writing (its staging folder exists), then kill it
    while not list(tmp_path.glob(".out.partial-*")) and time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if proc.returncode == 0:  # the run finished before the kill: nothing to check
        pytest.skip("the run completed before it could be killed")
    assert not out.exists()
    # the next run clears the killed run's staging folder and completes
    subprocess.run([*args, "--out", str(out)], check=True, capture_output=True)
    assert (out / "results.json").exists()
    assert not list(tmp_path.glob(".out.partial-*"))

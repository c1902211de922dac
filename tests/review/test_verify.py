"""pilot-eval verify: 0 when the re-run is identical (or differs only in floating-point noise,
with a note), 1 with a diff, 2 when it cannot run, 3 on an internal error."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pilot_eval.cli import main

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "analysis_plans" / "breed-werven-2024.yaml"


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 0), out, err


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a copy of the plan, its lock and the synthetic bundle, and a run."""
    folder = tmp_path_factory.mktemp("review")
    (folder / "plans").mkdir()
    shutil.copy(PLAN, folder / "plans")
    shutil.copy(PLAN.with_name("breed-werven-2024.lock.json"), folder / "plans")
    shutil.copytree(ROOT / "data" / "synthetic", folder / "data")
    return folder


def _run(folder: Path, out: str, capsys: pytest.CaptureFixture[str], pdf: bool = False) -> None:
    args = ["run", "plans/breed-werven-2024.yaml", "--data", "data", "--out", out]
    args += [] if pdf else ["--no-pdf"]
    code, _, err = _cli(args, capsys)
    assert code == 0, err


def _fresh(workspace: Path, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A copy of one run of the workspace, as ``name``: to be edited by a test."""
    base = workspace / "base"
    if not base.exists():
        _run(workspace, "base", capsys)
    shutil.copytree(base, workspace / name)


def test_untouched_output_verifies(
    workspace: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(workspace)
    _run(workspace, "out", capsys)
    code, out, _ = _cli(["verify", "out"], capsys)
    assert code == 0
    assert "byte-identical" in out


def _edit_results(path: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    """Edit results.json and record its new SHA-256 in the manifest: a folder that is
    consistent in itself, as one made on another machine is."""
    results = json.loads(path.read_text(encoding="utf-8"))
    edit(results)
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    _rehash(path.parent, "results.json")


def _rehash(folder: Path, name: str) -> None:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["outputs"][name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def _verify_edited(
    workspace: Path,
    name: str,
    edit: Callable[[dict[str, Any]], None],
    capsys: pytest.CaptureFixture[str],
    *options: str,
) -> tuple[int, str, str]:
    """Verify a copy of the run whose results.json was edited; exit code, stdout, stderr."""
    _fresh(workspace, name, capsys)
    _edit_results(workspace / name / "results.json", edit)
    return _cli(["verify", name, *options], capsys)


def test_floating_point_noise_verifies_with_a_note(
    workspace: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(workspace)

    def noise(results: dict[str, Any]) -> None:
        # as another CPU's last bits might: the twelfth significant digit
        results["hypotheses"][0]["estimate"] *= 1 + 1e-11
        results["hypotheses"][0]["p_value"] *= 1 - 3e-12

    code, out, _ = _verify_edited(workspace, "tol", noise, capsys)
    assert code == 0, out
    assert "within a relative tolerance of 1e-09" in out
    assert "2 number(s) differ in their last digits only" in out
    code, out, _ = _cli(["verify", "tol", "--tolerance", "0"], capsys)
    assert code == 1
    assert "H1: estimate" in out


def test_a_moved_number_or_verdict_fails(
    workspace: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(workspace)
    _fresh(workspace, "moved", capsys)
    path = workspace / "moved" / "results.json"
    original = path.read_text(encoding="utf-8")

    def moved(results: dict[str, Any]) -> None:
        results["hypotheses"][1]["ci_low"] *= 1 + 1e-6

    def verdict(results: dict[str, Any]) -> None:
        h = results["hypotheses"][0]
        h["verdict"] = "not_met" if h["verdict"] == "met" else "met"

    for edit, shown in ((moved, "H2: ci_low"), (verdict, "H1: verdict")):
        path.write_text(original, encoding="utf-8")
        _edit_results(path, edit)
        code, out, _ = _cli(["verify", "moved"], capsys)
        assert code == 1, out
        assert "NOT verified" in out
        assert shown in out


def test_versions_of_libraries_that_compute_nothing_are_only_a_note(
    workspace: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(workspace)
    _fresh(workspace, "versions", capsys)
    results = json.loads((workspace / "versions" / "results.json").read_text(encoding="utf-8"))
    assert "babel" not in results["software"]
    assert "pydantic" not in results["software"]
    assert {"numpy", "pandas", "scipy", "statsmodels"} <= set(results["software"])
    path = workspace / "versions" / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    assert {"babel", "pydantic", "jinja2", "matplotlib", "weasyprint"} <= set(manifest["software"])
    manifest["software"]["babel"] = "0.0.1"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    code, out, _ = _cli(["verify", "versions"], capsys)
    assert code == 0, out
    assert "byte-identical" in out
    assert "babel: 0.0.1 recorded" in out


def test_a_numerical_library_version_alone_verifies_with_a_note(
    workspace: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(workspace)
    code, out, _ = _verify_edited(
        workspace, "numver", lambda r: r["software"].update(numpy="1.0.0"), capsys
    )
    assert code == 0, out
    assert "only the software versions recorded in them differ" in out
    assert "numpy: 1.0.0 recorded" in out


def test_internal_error_of_verify_exits_3(
    workspace: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pilot_eval.pipeline.run

    monkeypatch.chdir(workspace)
    _fresh(workspace, "crash", capsys)

    def broken(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(pilot_eval.pipeline.run, "evaluate", broken)
    code, out, err = _cli(["verify", "crash"], capsys)
    assert code == 3
    assert "internal error" in err
    assert "Verified" not in out
    assert "NOT verified" not in out


def test_one_changed_data_value_is_found(
    workspace: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(workspace)
    _run(workspace, "before", capsys)
    apps = workspace / "data" / "applications.csv"
    original = apps.read_text(encoding="utf-8")
    lines = original.splitlines(keepends=True)
    # one application of origin outside Europe that applied is now invited
    i = next(
        i for i, line in enumerate(lines) if ",outside_europe," in line and ",applied," in line
    )
    lines[i] = lines[i].replace(",applied,", ",invited,", 1)
    apps.write_text("".join(lines), encoding="utf-8")
    try:
        code, out, _ = _cli(["verify", "before"], capsys)
    finally:
        apps.write_text(original, encoding="utf-8")
    assert code == 1
    assert "NOT verified" in out
    assert "data/applications.csv: sha256" in out
    assert "H2:" in out  # the invitation gap moved


def test_missing_data_cannot_run(
    workspace: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(workspace)
    _run(workspace, "gone", capsys)
    shutil.copytree(workspace / "gone", tmp_path / "gone")
    monkeypatch.chdir(tmp_path)  # the data are not where the manifest says
    code, _, err = _cli(["verify", "gone"], capsys)
    assert code == 2
    assert "Cannot re-run" in err or "not found" in err or "does not exist" in err
    assert "Traceback" not in err


def test_folder_without_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(["verify", str(tmp_path)], capsys)
    assert code == 2
    assert "manifest.json" in err


def test_reviewer_bundle_unpacks_and_verifies(
    workspace: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import zipfile

    monkeypatch.chdir(workspace)
    _run(workspace, "shared", capsys)
    zip_a, zip_b = tmp_path / "a.zip", tmp_path / "b.zip"
    assert _cli(["bundle", "shared", "--to", str(zip_a)], capsys)[0] == 0
    assert _cli(["bundle", "shared", "--to", str(zip_b)], capsys)[0] == 0
    assert zip_a.read_bytes() == zip_b.read_bytes()  # deterministic
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(zip_a) as archive:
        names = archive.namelist()
        archive.extractall(unpacked)
    assert "plans/breed-werven-2024.lock.json" in names
    assert "data/applications.csv" in names
    monkeypatch.chdir(unpacked)
    code, out, _ = _cli(["verify", "shared"], capsys)
    assert (code, "byte-identical" in out) == (0, True)


def test_bundle_without_data_lists_hashes(
    workspace: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import zipfile

    monkeypatch.chdir(workspace)
    if not (workspace / "shared").exists():
        _run(workspace, "shared", capsys)
    target = tmp_path / "nodata.zip"
    assert _cli(["bundle", "shared", "--to", str(target), "--without-data"], capsys)[0] == 0
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        listing = archive.read("DATA-SHA256.txt").decode()
    assert not any(name.startswith("data/") for name in names)
    assert "data/applications.csv" in listing


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.update(command=["pilot-eval"]), "'command' is not the command line"),
        (lambda m: m.update(command=["pilot-eval", "run", "p.yaml", "--data"]), "no --data"),
        (lambda m: m.update(inputs={"data": ["a.csv"]}), "'inputs' is not"),
        (lambda m: m.update(command="pilot-eval run"), "'command' is not the command line"),
    ],
)
def test_a_malformed_manifest_cannot_run(
    workspace: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    edit: Callable[[dict[str, Any]], None],
    message: str,
) -> None:
    monkeypatch.chdir(workspace)
    name = f"manifest-{abs(hash(message)) % 10_000}"
    if not (workspace / name).exists():
        _fresh(workspace, name, capsys)
    path = workspace / name / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    edit(manifest)
    path.write_text(json.dumps(manifest), encoding="utf-8")
    code, _, err = _cli(["verify", name], capsys)
    assert code == 2, err
    assert message in err
    assert "internal error" not in err


def test_a_results_file_without_hypotheses_cannot_run(
    workspace: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(workspace)
    code, _, err = _verify_edited(workspace, "nohyp", lambda r: r.update(hypotheses=[{}]), capsys)
    assert code == 2, err
    assert "not the results.json of a run" in err


def test_a_changed_input_fails_even_when_the_numbers_do_not_move(
    workspace: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(workspace)
    _fresh(workspace, "comment", capsys)
    plan = workspace / "plans" / "breed-werven-2024.yaml"
    original = plan.read_text(encoding="utf-8")
    plan.write_text(original + "# a comment changes the file, not the canonical plan\n", "utf-8")
    try:
        code, out, _ = _cli(["verify", "comment"], capsys)
    finally:
        plan.write_text(original, encoding="utf-8")
    assert code == 1, out
    assert "NOT verified" in out
    assert "plans/breed-werven-2024.yaml: sha256" in out
    assert "Hypotheses whose results moved" not in out


def test_a_changed_layout_or_an_older_format_verifies_with_the_right_note(
    workspace: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(workspace)
    _fresh(workspace, "layout", capsys)
    path = workspace / "layout" / "results.json"
    results = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps(results, indent=4, sort_keys=True), encoding="utf-8")
    _rehash(path.parent, "results.json")
    code, out, _ = _cli(["verify", "layout"], capsys)
    assert code == 0, out
    assert "every value is equal: the layout of results.json was changed" in out
    # results.json of an earlier version also recorded libraries that compute nothing
    results["software"]["babel"] = "0.0.1"
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    _rehash(path.parent, "results.json")
    code, out, _ = _cli(["verify", "layout"], capsys)
    assert code == 0, out
    from importlib import metadata

    assert f"babel: 0.0.1 recorded, {metadata.version('babel')} now" in out
    assert "None" not in out


def test_counts_are_exact_whatever_the_tolerance(
    workspace: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(workspace)

    def one_more(results: dict[str, Any]) -> None:
        results["hypotheses"][0]["n_applications"] += 1

    code, out, _ = _verify_edited(workspace, "count", one_more, capsys, "--tolerance", "0.5")
    assert code == 1, out
    assert "H1: n_applications" in out


def _tampered(
    workspace: Path,
    name: str,
    capsys: pytest.CaptureFixture[str],
    tamper: Callable[[Path], None],
    pdf: bool = True,
) -> tuple[int, str, str]:
    """Verify a copy of a run (with a PDF, or without to save time) after ``tamper``
    changed the copy."""
    base = workspace / ("with-pdf" if pdf else "base")
    if not base.exists():
        _run(workspace, base.name, capsys, pdf=pdf)
    shutil.copytree(base, workspace / name)
    tamper(workspace / name)
    return _cli(["verify", name], capsys)


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _zero_hashes(folder: Path) -> None:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["outputs"] = {k: "0" * 64 for k in manifest["outputs"]}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def _edit_and_rehash(folder: Path, name: str, old: str, new: str) -> None:
    _replace(folder / name, old, new)
    _rehash(folder, name)


def _append(path: Path) -> None:
    with path.open("ab") as handle:
        handle.write(b"%% appended")


TAMPERING: list[tuple[str, Callable[[Path], None], str]] = [
    ("md", lambda f: _replace(f / "report.nl.md", "| 0,032 |", "| 0,132 |"), "report.nl.md"),
    (
        "html",
        lambda f: _replace(f / "report.nl.html", "geen uitsluitsel", "criterium gehaald"),
        "report.nl.html",
    ),
    ("pdf", lambda f: _append(f / "report.nl.pdf"), "report.nl.pdf"),
    (
        "figure",
        lambda f: _replace(f / "figures/forest.svg", "<svg", "<svg data-x='1'"),
        "figures/forest.svg",
    ),
    ("hashes", _zero_hashes, "results.json"),
    ("extra", lambda f: (f / "notes.txt").write_text("x", encoding="utf-8"), "notes.txt"),
    ("missing", lambda f: (f / "figures/forest.svg").unlink(), "figures/forest.svg"),
    # a report changed and its new hash written into the manifest: made again, it differs
    (
        "rehashed",
        lambda f: _edit_and_rehash(f, "report.nl.md", "| 0,032 |", "| 0,132 |"),
        "report.nl.md: differs from the one made again",
    ),
]


@pytest.mark.parametrize(("case", "tamper", "named"), TAMPERING, ids=[t[0] for t in TAMPERING])
def test_a_tampered_file_fails_and_is_named(
    workspace: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    tamper: Callable[[Path], None],
    named: str,
) -> None:
    monkeypatch.chdir(workspace)
    pdf = case in ("pdf", "rehashed")
    code, out, err = _tampered(workspace, f"tampered-{case}", capsys, tamper, pdf)
    assert code == 1, out + err
    assert "NOT verified" in out
    assert named in out


def test_an_untouched_folder_with_a_pdf_verifies(
    workspace: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(workspace)
    code, out, _ = _tampered(workspace, "pdf-untouched", capsys, lambda _: None)
    assert code == 0, out
    assert "the reports are the ones made from it" in out


@pytest.mark.parametrize(
    "where",
    ["/etc/passwd", "../outside.yaml", "plans/../../outside.yaml"],
)
def test_a_manifest_cannot_make_verify_read_outside_the_folder(
    workspace: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    monkeypatch.chdir(workspace)
    name = f"escape-{abs(hash(where))}"
    _fresh(workspace, name, capsys)
    path = workspace / name / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["command"][2] = where
    path.write_text(json.dumps(manifest), encoding="utf-8")
    code, _, err = _cli(["verify", name], capsys)
    assert code == 2
    assert "outside the folder" in err
    assert "root:" not in err  # nothing of the file is read, let alone quoted
    manifest["command"][2] = "plans/breed-werven-2024.yaml"
    manifest["inputs"]["data"]["/etc/passwd"] = "0" * 64
    path.write_text(json.dumps(manifest), encoding="utf-8")
    assert _cli(["verify", name], capsys)[0] == 2


def test_a_link_in_the_folder_fails(
    workspace: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(workspace)
    _fresh(workspace, "linked", capsys)
    (workspace / "linked" / "passwd").symlink_to("/etc/passwd")
    code, out, _ = _cli(["verify", "linked"], capsys)
    assert code == 1
    assert "passwd: a link" in out


def test_bundle_refuses_a_link_in_the_output_folder(
    workspace: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(workspace)
    _fresh(workspace, "to-bundle", capsys)
    (workspace / "to-bundle" / "figures" / "secret.svg").symlink_to("/etc/passwd")
    code, _, err = _cli(["bundle", "to-bundle", "--to", str(tmp_path / "x.zip")], capsys)
    assert code == 2
    assert "figures/secret.svg" in err
    assert not (tmp_path / "x.zip").exists()

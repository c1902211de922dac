"""Re-running what produced an output folder and comparing: the reviewer's check.

``pilot-eval verify OUT`` reads ``OUT/manifest.json`` and checks three things:

* every file in OUT is one the manifest lists, with the SHA-256 it lists, and no file the
  manifest lists is missing: a report, figure, PDF or results.json changed after the run,
  or a manifest whose hashes were changed, fails and is named;
* the plan, lock and data the manifest names are re-run (paths relative to where the
  reviewer runs the command, as recorded, and confined to that folder: a received manifest
  cannot make verify read a file elsewhere), and the new results.json is compared with the
  one in OUT, as below;
* every report and figure is made again from the re-run and compared with the folder's
  bytes. When results.json is byte-identical and the libraries that shape the reports have
  the versions the manifest records, a report that differs fails; otherwise (numbers that
  differ in floating-point noise, another version of matplotlib or WeasyPrint) a differing
  report is a note.

The comparison of results.json:

* exit 0: byte-identical; or every float agrees within the relative tolerance
  (:data:`~pilot_eval.review.tolerance.DEFAULT_TOLERANCE`, 1e-9) and every other value is equal
  (:mod:`pilot_eval.review.tolerance`): only floating-point noise differs, as happens on another
  CPU or with another version of a numerical library, which the output notes;
* exit 1: a file of OUT does not match the manifest, a report differs from the one made
  again, an input file's SHA-256, a number beyond the tolerance, a verdict or another
  value differs; the report names the input files that changed, the software versions
  that differ and, per hypothesis, the numbers that moved and by how much;
* exit 2: the re-run is impossible (manifest, plan or data missing or invalid, or a path
  of the manifest outside the folder it may name);
* exit 3 (from the command line): an internal error of pilot-eval.

Versions of the libraries that compute numbers are part of results.json; versions of the
libraries that only read inputs or shape the reports (manifest.json) are compared and
reported as a note, never as a difference.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from pilot_eval.analysis.records import Results
from pilot_eval.data.files import sha256_file
from pilot_eval.errors import OutputError, PilotEvalError
from pilot_eval.pipeline.outputs import sha256_bytes
from pilot_eval.review.tolerance import (
    ABSOLUTE_TOLERANCE,
    DEFAULT_TOLERANCE,
    Difference,
    differences,
)

__all__ = ["DEFAULT_TOLERANCE", "Verification", "confined", "read_manifest", "verify"]

NOT_RECORDED = "not recorded"

COMPARED = ("estimate", "ci_low", "ci_high", "p_value", "p_adjusted", "verdict", "n_applications")
"""Fields of a hypothesis whose changes the diff lists first."""

SHOWN = 6
"""Differences listed per hypothesis before "and N more"."""


@dataclass
class Verification:
    """The outcome of a verification.

    Attributes
    ----------
    identical:
        results.json of the re-run is byte-identical to the one in the folder.
    tolerance:
        The relative tolerance the numbers were compared with.
    input_changes:
        Input files whose SHA-256 differs from the manifest's.
    software_changes:
        Versions in results.json (libraries that compute numbers) that differ.
    output_software_changes:
        Versions of libraries that shape the outputs (manifest.json) that differ: a note.
    hypothesis_changes, other_changes:
        Values beyond the tolerance, per hypothesis and elsewhere in results.json.
    file_changes:
        Files of the folder that do not match the manifest (changed, missing, not listed,
        a link) and reports that differ from the ones made again from the re-run.
    render_notes:
        Reports that differ from the ones made again, where the re-run's numbers or the
        versions of the libraries that shape the reports differ: a note.
    noise:
        Numbers that differ, but within the tolerance.
    largest_noise:
        The largest relative difference among them.
    """

    identical: bool
    tolerance: float
    input_changes: list[str] = field(default_factory=list)
    software_changes: list[str] = field(default_factory=list)
    output_software_changes: list[str] = field(default_factory=list)
    hypothesis_changes: list[str] = field(default_factory=list)
    other_changes: list[str] = field(default_factory=list)
    file_changes: list[str] = field(default_factory=list)
    render_notes: list[str] = field(default_factory=list)
    noise: int = 0
    largest_noise: float = 0.0

    @property
    def passed(self) -> bool:
        """True when no input changed and every value agrees (bytes, or numbers within the
        tolerance)."""
        if self.input_changes or self.file_changes:
            return False
        return self.identical or not (self.hypothesis_changes or self.other_changes)

    @property
    def exit_code(self) -> int:
        """The exit status of ``pilot-eval verify``: 0 verified, 1 differs."""
        return 0 if self.passed else 1

    def report(self) -> str:
        """A readable account of the comparison."""
        if self.passed and self.identical:
            lines = [
                "Verified: every file matches the manifest, results.json is byte-identical to "
                "the re-run and the reports are the ones made from it."
            ]
        elif self.passed:
            lines = [
                "Verified: every file matches the manifest, and every number of the re-run "
                f"agrees with results.json within a relative tolerance of {self.tolerance:g}."
            ]
            if self.noise:
                lines.append(
                    f"Note: the files are not byte-identical; {self.noise} number(s) differ in "
                    "their last digits only (largest relative difference "
                    f"{self.largest_noise:.1e}), as floating-point arithmetic does on another "
                    "CPU or with another version of a numerical library."
                )
            elif self.software_changes:
                lines.append(
                    "Note: the files are not byte-identical; only the software versions "
                    "recorded in them differ."
                )
            else:
                lines.append(
                    "Note: the files are not byte-identical, but every value is equal: the "
                    "layout of results.json was changed."
                )
        elif self.file_changes and not (
            self.input_changes or self.hypothesis_changes or self.other_changes
        ):
            lines = ["NOT verified: files of the folder are not the ones the run wrote."]
        else:
            lines = ["NOT verified: the re-run gives different results or used other inputs."]
        sections = (
            ("Files that do not match", self.file_changes),
            ("Input files that changed", self.input_changes),
            ("Software versions that differ", self.software_changes),
            ("Hypotheses whose results moved", self.hypothesis_changes),
            ("Other differences", self.other_changes),
            (
                "Note: versions of libraries that shape the reports differ (the report files "
                "may differ in their bytes; the numbers do not)",
                self.output_software_changes,
            ),
            (
                "Note: reports that differ from the ones made again from the re-run (its "
                "numbers or the libraries that shape the reports differ; the manifest's "
                "hashes of these files match)",
                self.render_notes,
            ),
        )
        for title, items in sections:
            if items:
                lines.append(f"{title}:")
                lines.extend(f"  - {item}" for item in items)
        return "\n".join(lines)


def read_manifest(out: Path) -> dict[str, Any]:
    """The manifest of an output folder.

    Raises
    ------
    OutputError
        When it is missing or not a manifest.
    """
    path = out / "manifest.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OutputError(
            f"Cannot read {path}: {exc}. Is {out} an output of 'pilot-eval run'?"
        ) from None
    if not isinstance(data, dict) or "command" not in data or "inputs" not in data:
        raise OutputError(f"{path} is not a manifest of 'pilot-eval run'.")
    command, inputs = data["command"], data["inputs"]
    if (
        not isinstance(command, list)
        or not all(isinstance(part, str) for part in command)
        or command[:2] != ["pilot-eval", "run"]
        or len(command) < 3
    ):
        raise OutputError(
            f"{path}: 'command' is not the command line of 'pilot-eval run PLAN --data DIR ...'."
        )
    if _option(command, "--data") is None:
        raise OutputError(f"{path}: the recorded command names no --data folder.")
    if not isinstance(inputs, dict) or not all(
        isinstance(files, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in files.items())
        for files in inputs.values()
    ):
        raise OutputError(f"{path}: 'inputs' is not a list of files with their SHA-256 by role.")
    return data


def _option(command: list[str], name: str) -> str | None:
    """The value after ``name`` in ``command``; None when absent or last."""
    if name not in command:
        return None
    at = command.index(name) + 1
    return command[at] if at < len(command) else None


def _read_results(path: Path) -> tuple[str, dict[str, Any]]:
    """The text and content of a results.json, checked to have the shape verify compares.

    Raises
    ------
    OutputError
        When it cannot be read or is not the results.json of a run.
    """
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, ValueError) as exc:
        raise OutputError(f"Cannot read {path}: {exc}") from None
    hypotheses = data.get("hypotheses") if isinstance(data, dict) else None
    if not isinstance(hypotheses, list) or not all(
        isinstance(h, dict) and isinstance(h.get("id"), str) for h in hypotheses
    ):
        raise OutputError(f"{path} is not the results.json of a run: no list of hypotheses.")
    return text, data


def verify(out: Path, tolerance: float = DEFAULT_TOLERANCE) -> Verification:
    """Re-run the evaluation recorded in ``out``'s manifest and compare (module docstring).

    Raises
    ------
    PilotEvalError
        When the re-run cannot be done (exit 2).
    ValueError
        When ``tolerance`` is negative.
    """
    from pilot_eval.pipeline.run import evaluate, output_software_versions, prepare_inputs

    if not tolerance >= 0:
        raise ValueError(f"the tolerance must be 0 or more, not {tolerance}")
    manifest = read_manifest(out)
    command: list[str] = manifest["command"]
    data = _option(command, "--data")
    assert data is not None  # read_manifest checked it
    plan_path, data_dir = confined(command[2]), confined(data)
    for files in manifest["inputs"].values():
        for name in files:
            confined(name)
    file_changes = _file_changes(out, manifest)
    original_text, original = _read_results(out / "results.json")
    try:
        inputs = prepare_inputs(plan_path, data_dir, "--exploratory" in command)
    except PilotEvalError as exc:
        raise type(exc)(f"Cannot re-run the evaluation: {exc.message}", exc.problems) from None
    record = evaluate(inputs)
    rerun_text = record.dumps()
    current = output_software_versions()
    recorded = original.get("software")
    recorded = recorded if isinstance(recorded, dict) else {}
    result = Verification(
        identical=rerun_text == original_text,
        tolerance=tolerance,
        input_changes=[
            f"{name}: sha256 {old[:12]}... recorded, {new[:12]}... now"
            for name, old, new in _input_hashes(manifest)
            if old != new
        ],
        output_software_changes=_version_changes(
            manifest.get("software"), current, skip=set(recorded)
        ),
        file_changes=file_changes,
    )
    if not result.identical:
        _compare(original, json.loads(rerun_text), result, current)
    strict = result.identical and not result.output_software_changes
    for name in _rendered_changes(out, manifest, record):
        (result.file_changes if strict else result.render_notes).append(name)
    return result


def confined(name: str) -> Path:
    """The path ``name`` of a manifest, checked to lie inside the folder it is relative to
    (the working folder for inputs, the output folder for outputs): relative and without
    "..", so that a received manifest cannot make verify read a file elsewhere. Links inside
    the folder are the reviewer's own and are followed.

    Raises
    ------
    OutputError
        When it lies elsewhere; nothing of it is read.
    """
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or Path(name).is_absolute():
        raise OutputError(
            f"manifest.json names '{name}', which lies outside the folder verify runs in; "
            "verify reads only files inside it. Run 'pilot-eval verify' from the folder the "
            "evaluation was run in (or unpack the reviewer's bundle and run it there)."
        )
    return Path(name)


def _file_changes(out: Path, manifest: Mapping[str, Any]) -> list[str]:
    """Files of ``out`` that are not the ones the manifest lists: changed, missing, not
    listed, or a link; and a manifest whose own fields disagree.

    Raises
    ------
    OutputError
        When the manifest lists an output outside ``out`` or no outputs at all.
    """
    listed = manifest.get("outputs")
    if not isinstance(listed, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in listed.items()
    ):
        raise OutputError(f"{out / 'manifest.json'}: 'outputs' is not a list of files.")
    for name in listed:
        confined(name)
    changes: list[str] = []
    present: set[str] = set()
    for path in sorted(out.rglob("*")):
        name = path.relative_to(out).as_posix()
        if path.is_symlink():
            changes.append(f"{name}: a link, which a run never writes")
            continue
        if not path.is_file() or name == "manifest.json":
            continue
        present.add(name)
        if name not in listed:
            changes.append(f"{name}: not written by the run (the manifest does not list it)")
        elif sha256_file(path) != listed[name]:
            changes.append(f"{name}: changed since the run (SHA-256 differs from the manifest)")
    changes += [
        f"{name}: listed by the manifest but missing" for name in sorted(set(listed) - present)
    ]
    if manifest.get("exploratory") != ("--exploratory" in manifest["command"]):
        changes.append("manifest.json: 'exploratory' disagrees with the recorded command")
    return changes


def _rendered_changes(out: Path, manifest: Mapping[str, Any], rerun: Results) -> list[str]:
    """The reports and figures made again from the re-run (as ``run`` makes them) whose
    bytes differ from the folder's, by name. The PDF is made again when the manifest lists
    one and WeasyPrint is available here."""
    from pilot_eval.report.render import LANGUAGES, Lang, pdf_unavailable, render_outputs

    command: list[str] = manifest["command"]
    recorded = _option(command, "--lang") or "nl"
    if recorded not in LANGUAGES:
        return [f"manifest.json: the recorded language '{recorded}' is not nl or en"]
    lang: Lang = "en" if recorded == "en" else "nl"
    listed: dict[str, str] = manifest["outputs"]
    pdf = f"report.{lang}.pdf" in listed and pdf_unavailable() is None
    made = render_outputs(rerun, lang, " ".join(command), pdf)
    changes = []
    for name, content in sorted(made.items()):
        data = content.encode("utf-8") if isinstance(content, str) else content
        path = out / name
        if not path.is_file() or sha256_file(path) != sha256_bytes(data):
            changes.append(f"{name}: differs from the one made again from the re-run")
    return changes


def _compare(
    original: dict[str, Any], rerun: dict[str, Any], result: Verification, current: dict[str, str]
) -> None:
    """Fill ``result`` with what differs between two results.json contents (``current``: the
    versions of every library here, for names an older results.json records)."""
    recorded, software = original.get("software"), rerun.get("software", {})
    names = set(recorded if isinstance(recorded, dict) else {}) | set(software)
    here = {**current, **software}
    result.software_changes = _version_changes(recorded, {n: here[n] for n in names if n in here})
    atol = ABSOLUTE_TOLERANCE if result.tolerance > 0 else 0.0
    old_h = {h["id"]: h for h in original["hypotheses"]}
    new_h = {h["id"]: h for h in rerun["hypotheses"]}
    for h_id in sorted(set(old_h) | set(new_h)):
        if h_id not in old_h or h_id not in new_h:
            result.hypothesis_changes.append(f"{h_id}: present in only one of the two runs")
            continue
        moved = _beyond(differences(old_h[h_id], new_h[h_id], result.tolerance, atol), result)
        if moved:
            first = sorted(moved, key=lambda d: (d.path not in COMPARED, d.path))
            shown = "; ".join(d.describe() for d in first[:SHOWN])
            more = f"; and {len(first) - SHOWN} more" if len(first) > SHOWN else ""
            result.hypothesis_changes.append(f"{h_id}: {shown}{more}")
    for key in sorted(set(original) | set(rerun)):
        if key in ("hypotheses", "software"):
            continue
        diffs = _beyond(
            differences(original.get(key), rerun.get(key), result.tolerance, atol, key), result
        )
        if diffs:
            result.other_changes.append(
                f"{key}: {len(diffs)} value(s) differ, e.g. {diffs[0].describe()}"
            )


def _beyond(found: Iterator[Difference], result: Verification) -> list[Difference]:
    """The differences beyond the tolerance; those within it are counted as noise."""
    beyond = []
    for d in found:
        if not d.within:
            beyond.append(d)
            continue
        result.noise += 1
        if d.relative is not None:
            result.largest_noise = max(result.largest_noise, d.relative)
    return beyond


def _version_changes(recorded: Any, current: Any, skip: set[str] | None = None) -> list[str]:
    """ "name: a recorded, b now" for each version that differs (``skip``: names compared
    elsewhere)."""
    a = recorded if isinstance(recorded, dict) else {}
    b = current if isinstance(current, dict) else {}
    return [
        f"{name}: {a.get(name, NOT_RECORDED)} recorded, {b.get(name, NOT_RECORDED)} now"
        for name in sorted(set(a) | set(b))
        if a.get(name) != b.get(name) and name not in (skip or set())
    ]


def _input_hashes(manifest: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    for files in manifest["inputs"].values():
        for name, recorded in files.items():
            path = Path(name)
            current = sha256_file(path) if path.is_file() else "missing"
            yield name, recorded, current

"""Re-running what produced an output folder and comparing: the reviewer's check.

``pilot-eval verify OUT`` reads ``OUT/manifest.json``, re-runs the plan on the data it
names (paths relative to where the reviewer runs the command, as recorded), and compares
the new results.json with the one in OUT:

* exit 0: byte-identical; or every number agrees within the relative tolerance
  (:data:`DEFAULT_TOLERANCE`, 1e-9) and only floating-point noise differs, as happens on
  another CPU or with another version of a numerical library, which the output notes;
* exit 1: an input file's SHA-256, a number beyond the tolerance, a verdict or another
  value differs; the report names the input files that changed, the software versions
  that differ and, per hypothesis, the numbers that moved and by how much;
* exit 2: the re-run is impossible (manifest, plan or data missing or invalid);
* exit 3 (from the command line): an internal error of pilot-eval.

Versions of the libraries that compute numbers are part of results.json; versions of the
libraries that only read inputs or shape the reports (manifest.json) are compared and
reported as a note, never as a difference.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pilot_eval.errors import OutputError, PilotEvalError
from pilot_eval.io import sha256_file

DEFAULT_TOLERANCE = 1e-9
"""Relative tolerance within which two numbers of results.json count as the same."""

ZERO_SCALE = 1e-3
"""The absolute tolerance for numbers near zero is this times the relative tolerance (1e-12
by default): a relative one means nothing for the floating-point residue of a quantity that
is zero (1e-17 on one CPU, -3e-17 on another)."""

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
    noise: int = 0
    largest_noise: float = 0.0

    @property
    def passed(self) -> bool:
        """True when no input changed and every value agrees (bytes, or numbers within the
        tolerance)."""
        if self.input_changes:
            return False
        return self.identical or not (self.hypothesis_changes or self.other_changes)

    @property
    def exit_code(self) -> int:
        """The exit status of ``pilot-eval verify``: 0 verified, 1 differs."""
        return 0 if self.passed else 1

    def report(self) -> str:
        """A readable account of the comparison."""
        if self.passed and self.identical:
            lines = ["Verified: results.json is byte-identical to the re-run."]
        elif self.passed:
            lines = [
                "Verified: every number of the re-run agrees with results.json within a "
                f"relative tolerance of {self.tolerance:g}."
            ]
            if self.noise:
                lines.append(
                    f"Note: the files are not byte-identical; {self.noise} number(s) differ in "
                    "their last digits only (largest relative difference "
                    f"{self.largest_noise:.1e}), as floating-point arithmetic does on another "
                    "CPU or with another version of a numerical library."
                )
            else:
                lines.append(
                    "Note: the files are not byte-identical; only the software versions differ."
                )
        else:
            lines = ["NOT verified: the re-run gives different results or used other inputs."]
        sections = (
            ("Input files that changed", self.input_changes),
            ("Software versions that differ", self.software_changes),
            ("Hypotheses whose results moved", self.hypothesis_changes),
            ("Other differences", self.other_changes),
            (
                "Note: versions of libraries that shape the reports differ (the report files "
                "may differ in their bytes; the numbers do not)",
                self.output_software_changes,
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
    return data


def _option(command: list[str], name: str) -> str | None:
    return command[command.index(name) + 1] if name in command else None


def verify(out: Path, tolerance: float = DEFAULT_TOLERANCE) -> Verification:
    """Re-run the evaluation recorded in ``out``'s manifest and compare (module docstring).

    Raises
    ------
    PilotEvalError
        When the re-run cannot be done (exit 2).
    """
    from pilot_eval.results import dumps
    from pilot_eval.runner import evaluate, output_software_versions, prepare_inputs

    manifest = read_manifest(out)
    command = [str(part) for part in manifest["command"]]
    plan = Path(command[2])
    data = _option(command, "--data")
    if data is None:
        raise OutputError("The manifest's command names no --data folder.")
    original_path = out / "results.json"
    try:
        original_text = original_path.read_text(encoding="utf-8")
        original = json.loads(original_text)
    except (OSError, ValueError) as exc:
        raise OutputError(f"Cannot read {original_path}: {exc}") from None
    if not isinstance(original, dict):
        raise OutputError(f"{original_path} is not the results.json of a run.")
    try:
        inputs = prepare_inputs(plan, Path(data), "--exploratory" in command)
    except PilotEvalError as exc:
        raise type(exc)(f"Cannot re-run the evaluation: {exc.message}", exc.problems) from None
    rerun_text = dumps(evaluate(inputs))
    result = Verification(
        identical=rerun_text == original_text,
        tolerance=tolerance,
        input_changes=[
            f"{name}: sha256 {recorded[:12]}... recorded, {current[:12]}... now"
            for name, recorded, current in _input_hashes(manifest)
            if recorded != current
        ],
        output_software_changes=_version_changes(
            manifest.get("software", {}), output_software_versions(), skip=original.get("software")
        ),
    )
    if not result.identical:
        _compare(original, json.loads(rerun_text), result)
    return result


def _compare(original: dict[str, Any], rerun: dict[str, Any], result: Verification) -> None:
    """Fill ``result`` with what differs between two results.json contents."""
    result.software_changes = _version_changes(original.get("software"), rerun.get("software"))
    old_h = {h["id"]: h for h in original.get("hypotheses", [])}
    new_h = {h["id"]: h for h in rerun.get("hypotheses", [])}
    for h_id in sorted(set(old_h) | set(new_h)):
        if h_id not in old_h or h_id not in new_h:
            result.hypothesis_changes.append(f"{h_id}: present in only one of the two runs")
            continue
        moved = [
            _describe(path, a, b) for path, a, b in _differences(old_h[h_id], new_h[h_id], result)
        ]
        if moved:
            first = sorted(moved, key=lambda m: (m.split(":")[0] not in COMPARED, m))
            shown = "; ".join(first[:SHOWN])
            more = f"; and {len(first) - SHOWN} more" if len(first) > SHOWN else ""
            result.hypothesis_changes.append(f"{h_id}: {shown}{more}")
    for key in sorted(set(original) | set(rerun)):
        if key in ("hypotheses", "software"):
            continue
        diffs = list(_differences(original.get(key), rerun.get(key), result))
        if diffs:
            result.other_changes.append(
                f"{key}: {len(diffs)} value(s) differ, e.g. {_describe(*diffs[0])}"
            )


def _version_changes(
    recorded: Any, current: Any, skip: Mapping[str, Any] | None = None
) -> list[str]:
    """ "name: a recorded, b now" for each version that differs (``skip``: names compared
    elsewhere)."""
    a = recorded if isinstance(recorded, dict) else {}
    b = current if isinstance(current, dict) else {}
    return [
        f"{name}: {a.get(name)} recorded, {b.get(name)} now"
        for name in sorted(set(a) | set(b))
        if a.get(name) != b.get(name) and name not in (skip or {})
    ]


def _input_hashes(manifest: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    for files in manifest["inputs"].values():
        for name, recorded in files.items():
            path = Path(name)
            current = sha256_file(path) if path.is_file() else "missing"
            yield name, recorded, current


def _differences(
    a: Any, b: Any, result: Verification, path: str = ""
) -> Iterator[tuple[str, Any, Any]]:
    """Paths where two JSON values differ beyond the tolerance; numbers that differ within
    it are counted in ``result.noise``."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            child = f"{path}.{key}" if path else key
            yield from _differences(a.get(key), b.get(key), result, child)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _differences(x, y, result, f"{path}[{i}]")
    elif _number(a) and _number(b):
        x, y = float(a), float(b)
        if x == y:
            return
        if math.isclose(x, y, rel_tol=result.tolerance, abs_tol=result.tolerance * ZERO_SCALE):
            result.noise += 1
            scale = max(abs(x), abs(y))
            result.largest_noise = max(result.largest_noise, abs(x - y) / scale)
        else:
            yield path, a, b
    elif a != b:
        yield path, a, b


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _describe(path: str, a: Any, b: Any) -> str:
    if _number(a) and _number(b) and float(a) != 0:
        change = (float(b) - float(a)) / abs(float(a))
        return f"{path}: {a} -> {b} ({change:+.2%})"
    return f"{path}: {a} -> {b}"

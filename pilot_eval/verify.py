"""Re-running what produced an output folder and comparing: the reviewer's check.

``pilot-eval verify OUT`` reads ``OUT/manifest.json``, re-runs the plan on the data it
names (paths relative to where the reviewer runs the command, as recorded), and compares
the new results.json with the one in OUT:

* exit 0: byte-identical (or, with ``--tolerance``, every number within the relative
  tolerance, which the output says);
* exit 1: something differs; the report names the input files whose SHA-256 changed, the
  software versions that differ and, per hypothesis, the numbers that moved and by how much;
* exit 2: the re-run is impossible (manifest, plan or data missing or invalid).
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

COMPARED = ("estimate", "ci_low", "ci_high", "p_value", "p_adjusted", "verdict", "n_applications")
"""Fields of a hypothesis whose changes the diff lists first."""


@dataclass
class Verification:
    """The outcome of a verification."""

    identical: bool
    within_tolerance: bool
    tolerance: float | None
    input_changes: list[str] = field(default_factory=list)
    software_changes: list[str] = field(default_factory=list)
    hypothesis_changes: list[str] = field(default_factory=list)
    other_changes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when the results are the same (bytes, or numbers within the tolerance)."""
        return self.identical or (self.tolerance is not None and self.within_tolerance)

    def report(self) -> str:
        """A readable account of the comparison."""
        if self.identical:
            return "Verified: results.json is byte-identical to the re-run."
        lines = []
        if self.passed:
            lines.append(
                f"Verified within a relative tolerance of {self.tolerance:g}: every number of "
                "the re-run is within it (the files are not byte-identical)."
            )
        else:
            lines.append("NOT verified: the re-run gives different results.")
        for title, items in (
            ("Input files that changed", self.input_changes),
            ("Software versions that differ", self.software_changes),
            ("Hypotheses whose results moved", self.hypothesis_changes),
            ("Other differences", self.other_changes),
        ):
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


def verify(out: Path, tolerance: float | None = None) -> Verification:
    """Re-run the evaluation recorded in ``out``'s manifest and compare (module docstring).

    Raises
    ------
    PilotEvalError
        When the re-run cannot be done (exit 2).
    """
    from pilot_eval.results import dumps
    from pilot_eval.runner import evaluate, prepare_inputs

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
    changes = [
        f"{name}: sha256 {recorded[:12]}... recorded, {current[:12]}... now"
        for name, recorded, current in _input_hashes(manifest)
        if recorded != current
    ]
    try:
        inputs = prepare_inputs(plan, Path(data), "--exploratory" in command)
    except PilotEvalError as exc:
        raise type(exc)(f"Cannot re-run the evaluation: {exc.message}", exc.problems) from None
    rerun = evaluate(inputs)
    rerun_text = dumps(rerun)
    result = Verification(
        identical=rerun_text == original_text,
        within_tolerance=True,
        tolerance=tolerance,
        input_changes=changes,
    )
    if result.identical:
        return result
    rerun = json.loads(rerun_text)
    for key in sorted(set(original.get("software", {})) | set(rerun.get("software", {}))):
        a, b = original.get("software", {}).get(key), rerun.get("software", {}).get(key)
        if a != b:
            result.software_changes.append(f"{key}: {a} recorded, {b} now")
    rtol = 0.0 if tolerance is None else tolerance
    old_h = {h["id"]: h for h in original.get("hypotheses", [])}
    new_h = {h["id"]: h for h in rerun.get("hypotheses", [])}
    for h_id in sorted(set(old_h) | set(new_h)):
        if h_id not in old_h or h_id not in new_h:
            result.hypothesis_changes.append(f"{h_id}: present in only one of the two runs")
            result.within_tolerance = False
            continue
        moved = [
            _describe(path, a, b) for path, a, b in _differences(old_h[h_id], new_h[h_id], rtol)
        ]
        if moved:
            result.within_tolerance = False
            first = sorted(moved, key=lambda m: (m.split(":")[0] not in COMPARED, m))
            shown = "; ".join(first[:6]) + (
                f"; and {len(first) - 6} more" if len(first) > 6 else ""
            )
            result.hypothesis_changes.append(f"{h_id}: {shown}")
    for key in sorted(set(original) | set(rerun)):
        if key in ("hypotheses", "software"):
            continue
        diffs = list(_differences(original.get(key), rerun.get(key), rtol))
        if diffs:
            result.within_tolerance = False
            result.other_changes.append(
                f"{key}: {len(diffs)} value(s) differ, e.g. {_describe(*diffs[0])}"
            )
    return result


def _input_hashes(manifest: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    for files in manifest["inputs"].values():
        for name, recorded in files.items():
            path = Path(name)
            current = sha256_file(path) if path.is_file() else "missing"
            yield name, recorded, current


def _differences(a: Any, b: Any, rtol: float, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """Paths where two JSON values differ beyond the relative tolerance."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            yield from _differences(a.get(key), b.get(key), rtol, f"{path}.{key}" if path else key)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _differences(x, y, rtol, f"{path}[{i}]")
    elif _number(a) and _number(b):
        if not math.isclose(float(a), float(b), rel_tol=rtol, abs_tol=0.0):
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

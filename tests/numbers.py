"""Comparing pinned JSON results with a tolerance for numbers, exactly for everything else.

Another CPU, or another build of a numerical library, changes the last digits of a
floating-point result; a pinned file compared byte for byte then fails on a machine where
nothing is wrong. Numbers are compared with a relative tolerance (and an absolute one near
zero); strings, booleans, nulls, keys and list lengths exactly. A failure lists every
value that differs, with both numbers and their relative difference. Byte-identity on one
machine is tested apart (two runs, compared).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

RTOL = 1e-7
"""Relative tolerance of pinned numbers: far above floating-point noise (1e-12 to 1e-10
between CPUs, iterative fits converged to 1e-8 on the parameters), far below any change of
method or data."""

ATOL = 1e-14
"""Absolute tolerance, for numbers that are zero up to floating-point residue (1e-17); small
enough that a p-value of 1e-12 is still compared by its relative difference."""


def differences(
    obtained: Any, expected: Any, rtol: float = RTOL, atol: float = ATOL, path: str = ""
) -> Iterator[str]:
    """Describe each place where ``obtained`` differs from ``expected``."""
    where = path or "(top)"
    if isinstance(obtained, dict) and isinstance(expected, dict):
        for key in sorted(set(obtained) | set(expected), key=str):
            child = f"{path}.{key}" if path else str(key)
            if key not in expected:
                yield f"{child}: not expected (obtained {_short(obtained[key])})"
            elif key not in obtained:
                yield f"{child}: missing (expected {_short(expected[key])})"
            else:
                yield from differences(obtained[key], expected[key], rtol, atol, child)
    elif isinstance(obtained, list) and isinstance(expected, list):
        if len(obtained) != len(expected):
            yield f"{where}: {len(obtained)} items obtained, {len(expected)} expected"
            return
        for i, (a, b) in enumerate(zip(obtained, expected, strict=True)):
            yield from differences(a, b, rtol, atol, f"{path}[{i}]")
    elif _number(obtained) and _number(expected):
        a, b = float(obtained), float(expected)
        if not math.isclose(a, b, rel_tol=rtol, abs_tol=atol):
            relative = abs(a - b) / abs(b) if b else math.inf
            yield f"{where}: obtained {obtained!r}, expected {expected!r} (relative {relative:.2e})"
    elif obtained != expected or type(obtained) is not type(expected):
        yield f"{where}: obtained {_short(obtained)}, expected {_short(expected)}"


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _short(x: Any) -> str:
    text = json.dumps(x, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def check_pinned(obtained: Any, path: Path, request: pytest.FixtureRequest) -> None:
    """Compare ``obtained`` with the JSON file ``path``, numbers within the tolerance.

    With pytest's ``--force-regen`` (the option of pytest-regressions) or when the file is
    missing, the file is (re)written and the test fails once, so that the new numbers are
    reviewed like any other change.
    """
    text = json.dumps(obtained, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if request.config.getoption("force_regen") or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        pytest.fail(f"{path.name} was (re)written; review its diff and run the test again")
    expected = json.loads(path.read_text(encoding="utf-8"))
    found = list(differences(json.loads(text), expected))
    if found:
        shown = "\n  ".join(found[:40])
        more = f"\n  ... and {len(found) - 40} more" if len(found) > 40 else ""
        pytest.fail(
            f"{len(found)} value(s) differ from {path.name} beyond a relative tolerance of "
            f"{RTOL:g}:\n  {shown}{more}\nAfter an intended change, regenerate with "
            "--force-regen and review the diff.",
            pytrace=False,
        )

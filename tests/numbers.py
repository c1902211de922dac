"""Comparing pinned JSON results within a tolerance: numbers may differ in their last
digits across CPUs, nothing else may differ (:mod:`pilot_eval.review.tolerance`).

A failure lists every value that differs, with both values and their relative difference.
Byte-identity on one machine is tested apart (two runs, compared).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pilot_eval.review.tolerance import ABSOLUTE_TOLERANCE, differences

EXAMPLE_RESULTS = (
    Path(__file__).resolve().parent / "pipeline" / "test_example_results" / "example_results.json"
)
"""The pinned results of the example plan on the synthetic bundle (``test_example_results``)."""

RTOL = 1e-7
"""Relative tolerance of pinned numbers: far above floating-point noise (1e-12 to 1e-10
between CPUs, iterative fits converged to 1e-8 on the parameters), far below any change of
method or data."""


def changes(obtained: Any, expected: Any, rtol: float = RTOL) -> Iterator[str]:
    """Describe each place where ``obtained`` differs from ``expected`` beyond the tolerance."""
    for d in differences(expected, obtained, rtol, ABSOLUTE_TOLERANCE):
        if not d.within:
            relative = f" (relative {d.relative:.2e})" if d.relative is not None else ""
            yield f"{d.path}: obtained {d.new!r}, expected {d.old!r}{relative}"


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
    found = list(changes(json.loads(text), expected))
    if found:
        shown = "\n  ".join(found[:40])
        more = f"\n  ... and {len(found) - 40} more" if len(found) > 40 else ""
        pytest.fail(
            f"{len(found)} value(s) differ from {path.name} beyond a relative tolerance of "
            f"{RTOL:g}:\n  {shown}{more}\nAfter an intended change, regenerate with "
            "--force-regen and review the diff.",
            pytrace=False,
        )

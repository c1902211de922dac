"""Comparing two results (JSON values) with a tolerance for floating-point noise.

Another CPU, or another build of a numerical library, changes the last digits of a
floating-point result. Two results agree when every float agrees within a relative
tolerance (or, for floats near zero, within :data:`ABSOLUTE_TOLERANCE`, the residue of a
quantity that is zero), and everything else is equal: integers (counts), strings
(verdicts), booleans, nulls, keys and list lengths. ``verify`` and the test of the pinned
example results both compare this way, with their own relative tolerance.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

DEFAULT_TOLERANCE = 1e-9
"""Relative tolerance within which two floats of results.json count as the same."""

ABSOLUTE_TOLERANCE = 1e-15
"""Absolute tolerance for floats near zero, where a relative one means nothing: a quantity
that is zero comes out as 1e-17 on one CPU and -3e-17 on another. Small enough that a
p-value of 1e-12 is still compared by its relative difference."""


@dataclass(frozen=True)
class Difference:
    """One place where two JSON values differ.

    Attributes
    ----------
    path:
        Where, as ``key.key[index]``; ``(top)`` for the values themselves.
    old, new:
        The two values (``MISSING`` where a key exists on one side only).
    within:
        True when both are floats that agree within the tolerance: noise, not a difference.
    relative:
        ``|new - old| / max(|old|, |new|)`` for two numbers compared by their relative
        difference; None otherwise (and for floats accepted as residue of zero).
    """

    path: str
    old: Any
    new: Any
    within: bool
    relative: float | None = None

    def describe(self) -> str:
        """``path: old -> new (+x.xx%)``."""
        if _number(self.old) and _number(self.new) and float(self.old) != 0:
            change = (float(self.new) - float(self.old)) / abs(float(self.old))
            return f"{self.path}: {self.old} -> {self.new} ({change:+.2%})"
        return f"{self.path}: {_show(self.old)} -> {_show(self.new)}"


class _Missing:
    def __repr__(self) -> str:
        return "(missing)"


MISSING: Any = _Missing()
"""Stands for a key that one of the two values lacks."""


def differences(
    old: Any,
    new: Any,
    rtol: float = DEFAULT_TOLERANCE,
    atol: float = ABSOLUTE_TOLERANCE,
    path: str = "",
) -> Iterator[Difference]:
    """Every place where ``new`` differs from ``old``, floats within the tolerance included
    (marked ``within``); equal values yield nothing.

    Raises
    ------
    ValueError
        When a tolerance is negative.
    """
    if rtol < 0 or atol < 0:
        raise ValueError(f"tolerances must not be negative (rtol {rtol}, atol {atol})")
    yield from _walk(old, new, rtol, atol, path)


def _walk(old: Any, new: Any, rtol: float, atol: float, path: str) -> Iterator[Difference]:
    where = path or "(top)"
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            child = f"{path}.{key}" if path else str(key)
            yield from _walk(old.get(key, MISSING), new.get(key, MISSING), rtol, atol, child)
    elif isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            yield Difference(where, f"{len(old)} items", f"{len(new)} items", within=False)
            return
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            yield from _walk(a, b, rtol, atol, f"{path}[{i}]")
    elif isinstance(old, float) and isinstance(new, float):
        if old == new:
            return
        scale = max(abs(old), abs(new))
        relative = abs(old - new) / scale
        if relative <= rtol:
            yield Difference(where, old, new, within=True, relative=relative)
        elif abs(old - new) <= atol:
            yield Difference(where, old, new, within=True)
        else:
            yield Difference(where, old, new, within=False, relative=relative)
    elif old != new or type(old) is not type(new):
        # integers (counts) are exact, and so are a count and a float that differ in kind
        yield Difference(where, old, new, within=False)


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _show(x: Any) -> str:
    text = repr(x) if x is MISSING else str(x)
    return text if len(text) <= 80 else text[:77] + "..."

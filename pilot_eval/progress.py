"""Progress bars (rich) with an ETA for long computations, shown only on a terminal.

A bar never reaches a result or an output file: it writes to standard error, disappears
when the work is done, and is off when standard error is not a terminal (CI, pipes) or
inside :func:`silenced` (the runs of a design diagnosis, which has its own bar).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_SILENCED = [False]


@contextmanager
def silenced() -> Iterator[None]:
    """No bars inside this block (nested work of a computation that has its own bar)."""
    before = _SILENCED[0]
    _SILENCED[0] = True
    try:
        yield
    finally:
        _SILENCED[0] = before


class progress:
    """``with progress(label, total, unit) as advance: ... advance(n)``.

    ``advance`` is always callable; it does nothing when no bar is shown.
    """

    def __init__(self, label: str, total: int, unit: str) -> None:
        self.label, self.total, self.unit = label, total, unit
        self.bar: Any = None

    def __enter__(self) -> Callable[[int], None]:
        if _SILENCED[0] or not sys.stderr.isatty():
            return lambda n: None
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(
            TextColumn(self.label),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} " + self.unit),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.bar.start()
        task = self.bar.add_task(self.label, total=self.total)
        return lambda n: self.bar.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

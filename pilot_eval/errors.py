"""Exceptions of pilot-eval.

Every error a user can cause derives from :class:`PilotEvalError`; the command line turns
each into a readable message and exit status 2, never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One problem in an input file.

    Attributes
    ----------
    file:
        The file name as the user knows it (relative to the bundle or the plan's folder).
    rule:
        The rule that was broken, in words.
    row:
        Row as the user sees it in the file (1 is the header line of a csv or xlsx), or the
        line of a YAML key, or None.
    column:
        Column name or key path (``hypotheses[2].alternativ``), or None.
    line_word, column_word:
        How the location is named: "row"/"column" for tables, "line"/"key" for plans.
    value:
        The offending value as it stands in the file, or None.
    """

    file: str
    rule: str
    row: int | None = None
    column: str | None = None
    value: str | None = None
    line_word: str = "row"
    column_word: str = "column"

    def format(self) -> str:
        """Return the problem as one line: ``file, row 7, column 'arm': value 'x': rule``."""
        parts = [self.file]
        if self.row is not None:
            parts.append(f"{self.line_word} {self.row}")
        if self.column is not None:
            parts.append(f"{self.column_word} '{self.column}'")
        where = ", ".join(parts)
        if self.value is not None:
            return f"{where}: value '{_shorten(self.value)}': {self.rule}"
        return f"{where}: {self.rule}"


def _shorten(value: str, limit: int = 60) -> str:
    text = value.replace("\n", "\\n").replace("\r", "\\r")
    return text if len(text) <= limit else text[: limit - 3] + "..."


class PilotEvalError(Exception):
    """Base class of every error caused by the user's input; the CLI exits 2 on it."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems: tuple[Problem, ...] = tuple(problems)

    def report(self, limit: int = 200) -> str:
        """Return the message followed by every problem, one per line (at most ``limit``)."""
        lines = [self.message]
        shown = self.problems[:limit]
        lines.extend(f"  - {p.format()}" for p in shown)
        if len(self.problems) > limit:
            lines.append(f"  ... and {len(self.problems) - limit} more problems")
        return "\n".join(lines)


class PlanError(PilotEvalError):
    """The analysis plan cannot be read, breaks the plan format, or refers to unknown names."""


class PlanLockError(PilotEvalError):
    """The plan's lock history is missing, damaged, or does not match the plan."""


class DataValidationError(PilotEvalError):
    """The data bundle cannot be read or breaks a rule of the data contract."""


class EstimationError(PilotEvalError):
    """An estimator was asked for something it cannot compute from the data given."""


class OutputError(PilotEvalError):
    """The output folder cannot be written as asked (it exists, or is not writable)."""


def problems_message(what: str, problems: Iterable[Problem]) -> str:
    """Return a heading that counts the problems: ``3 problems in the data bundle``."""
    n = len(list(problems))
    return f"{n} problem{'s' if n != 1 else ''} in {what}:"

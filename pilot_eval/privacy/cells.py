"""Disclosure control of published tables (Statistics Netherlands practice).

A count from 1 to ``min_cell - 1`` is not published (primary suppression); so is a zero of
a sensitive attribute ("none of the applicants with a disability was invited" discloses
the outcome of each of them), where the caller says so. When a table row publishes its
total, the suppressed cells add up to the total minus the published ones, so while that
sum is itself below ``min_cell`` the smallest other non-zero cell of the row is suppressed
too (secondary, complementary suppression). A cell that other outputs publish anyway (the
applications without a value, which every exclusion ledger counts) is never chosen as the
complement: hiding it would protect nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ProtectedRow:
    """A row of counts after suppression: ``None`` marks a suppressed cell."""

    cells: dict[str, int | None]
    total: int
    suppressed: int


def protect_row(
    counts: Mapping[str, int],
    min_cell: int,
    partition: bool = True,
    sensitive_zero: Collection[str] = (),
    derivable: Collection[str] = (),
) -> ProtectedRow:
    """Suppress small cells of a row whose total is published.

    Parameters
    ----------
    counts:
        Cell label -> count (non-negative).
    min_cell:
        The smallest count that may be published.
    partition:
        True when the cells partition the total (complementary suppression applies);
        False for nested counts such as "reached stage s", where no cell is the total
        minus the others.
    sensitive_zero:
        Cells for which 0 is suppressed like a small count.
    derivable:
        Cells that other outputs publish; never chosen as a complement.
    """
    cells: dict[str, int | None] = dict(counts)
    small = [k for k, v in counts.items() if 0 < v < min_cell or (v == 0 and k in sensitive_zero)]
    for k in small:
        cells[k] = None

    def hidden_sum() -> int:
        return sum(counts[k] for k, v in cells.items() if v is None)

    # the hidden cells add up to the total minus the published ones: while that sum is
    # itself a small count (or a hidden zero, which it would give away), hide the smallest
    # other non-zero cell too
    while partition and small and hidden_sum() < min_cell:
        others = sorted(
            (v, k) for k, v in cells.items() if v is not None and v > 0 and k not in derivable
        )
        if not others:
            break
        cells[others[0][1]] = None
    suppressed = sum(1 for v in cells.values() if v is None)
    return ProtectedRow(cells=cells, total=sum(counts.values()), suppressed=suppressed)

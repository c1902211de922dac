"""Suppression of small counts."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pilot_eval.privacy.cells import protect_row


def test_single_small_cell_gets_a_complementary_suppression() -> None:
    row = protect_row({"a": 120, "b": 4, "c": 35, "d": 0}, min_cell=10)
    # b is small; the smallest other non-zero cell (c) goes too so b cannot be derived
    assert row.cells == {"a": 120, "b": None, "c": None, "d": 0}
    assert (row.total, row.suppressed) == (159, 2)


def test_two_small_cells_protect_each_other() -> None:
    row = protect_row({"a": 120, "b": 6, "c": 5}, min_cell=10)
    # b + c = 11 = total - a: a published sum of at least min_cell
    assert row.cells == {"a": 120, "b": None, "c": None}


def test_small_cells_whose_sum_is_small_hide_one_more() -> None:
    row = protect_row({"a": 120, "b": 4, "c": 3, "d": 40}, min_cell=10)
    # b + c = 7 would follow as total - a - d: the smallest other cell (d) is hidden too
    assert row.cells == {"a": 120, "b": None, "c": None, "d": None}


def test_nested_counts_only_primary() -> None:
    row = protect_row({"applied": 200, "invited": 40, "hired": 6}, min_cell=10, partition=False)
    assert row.cells == {"applied": 200, "invited": 40, "hired": None}


@given(st.dictionaries(st.text(min_size=1, max_size=3), st.integers(0, 60), min_size=1))
def test_no_published_cell_below_min_and_none_derivable(counts: dict[str, int]) -> None:
    row = protect_row(counts, min_cell=10)
    published = [v for v in row.cells.values() if v is not None]
    assert all(v == 0 or v >= 10 for v in published)
    hidden = [k for k, v in row.cells.items() if v is None]
    # a single hidden cell could be derived from the total
    assert len(hidden) != 1 or all(v == 0 for k, v in counts.items() if k not in hidden)
    # what the total minus the published cells gives, the hidden cells' sum, is no small count
    hidden_sum = sum(counts[k] for k in hidden)
    assert hidden_sum == 0 or hidden_sum >= 10 or all(v is None or v == 0 for v in published)

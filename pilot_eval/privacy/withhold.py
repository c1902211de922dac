"""Disclosure control of every count and share that results.json publishes.

The descriptive tables are protected where they are made (``descriptives``, with
complementary suppression). This pass covers the counts that come with the statistics:
the applications a test used, the cells of a 2x2 table, the rows an exclusion removed,
the applicants of a diagnostic, the respondents, rated applications and coded answers of
the other evidence, the committee members of the training monitor. A count from 1 to
``min_cell - 1`` becomes null, and so does a rate or share whose count or base is
suppressed. Estimates, intervals and p-values
are computed on the full data and stay as they are.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

COUNT_KEYS = frozenset(
    {
        "n",
        "count",
        "passed",
        "rows",
        "n_applications",
        "n_total_applications",
        "n_not_reported",
        "n_left_out",
        "n_focal",
        "n_reference",
        "n_arm",
        "invited",
        "responded",
        "respondents",
        "trimmed",
        "answers",
        "members_required",
        "members_trained",
        "applications_off_support",
    }
)
"""Keys whose integer values count persons (applications). Not ``as_extreme``: it counts
re-drawn assignments, and the published p-value determines it."""

SHARE_KEYS = {
    "rate": ("passed", "n"),
    "share_not_reported": ("n_not_reported", "n_applications"),
    "response_rate": ("responded", "n"),
    "share": ("count", "n"),
    "compliance": ("members_trained", "members_required"),
}
"""Shares and the counts they rest on: hidden when one of those is hidden or too small."""

SKIP = frozenset({"descriptives", "plan", "software", "data_files"})
"""Parts protected elsewhere or holding no counts of persons."""


def _is_small(value: Any, min_cell: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < min_cell


def _mappings(node: Any) -> Iterator[MutableMapping[str, Any]]:
    if isinstance(node, MutableMapping):
        yield node
        for key, value in node.items():
            if key not in SKIP:
                yield from _mappings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _mappings(item)


def protect_results(results: MutableMapping[str, Any], min_cell: int) -> int:
    """Suppress small counts (and shares resting on them) in place; return how many."""
    suppressed = 0
    for mapping in _mappings({k: v for k, v in results.items() if k not in SKIP}):
        small_shares = [
            share
            for share, (count, base) in SHARE_KEYS.items()
            if share in mapping
            and (_is_small(mapping.get(count), min_cell) or _is_small(mapping.get(base), min_cell))
        ]
        for key in COUNT_KEYS & mapping.keys():
            if _is_small(mapping[key], min_cell):
                mapping[key] = None
                suppressed += 1
        for share in small_shares:
            if mapping[share] is not None:
                mapping[share] = None
                suppressed += 1
    return suppressed

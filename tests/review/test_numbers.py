"""The tolerant comparison of results (pilot_eval.review.tolerance, used by verify and by the pinned
example results in tests/numbers.py) finds what it must and lets noise pass."""

from __future__ import annotations

from typing import Any

import pytest

from pilot_eval.review.tolerance import differences as walk
from tests.numbers import changes as differences

PINNED: dict[str, Any] = {
    "hypotheses": [{"id": "H1", "estimate": 0.0321, "p_value": 1.234e-12, "verdict": "met"}],
    "data": {"n_applications": 24398, "excluded": [{"reason": "withdrew", "rows": 12}]},
    "zero": 0.0,
}


def _changed(**edits: Any) -> dict[str, Any]:
    import copy

    out = copy.deepcopy(PINNED)
    h = out["hypotheses"][0]
    for key, value in edits.items():
        if key in h:
            h[key] = value
        else:
            out[key] = value
    return out


def test_floating_point_noise_passes() -> None:
    # the twelfth significant digit, as another CPU gives it, and residue of a zero
    noisy = _changed(estimate=0.0321 * (1 + 3e-12), p_value=1.234e-12 * (1 - 1e-11), zero=2e-17)
    assert list(differences(noisy, PINNED)) == []


def test_a_moved_number_is_named_with_both_values() -> None:
    found = list(differences(_changed(estimate=0.0322), PINNED))
    assert found == ["hypotheses[0].estimate: obtained 0.0322, expected 0.0321 (relative 3.11e-03)"]


def test_a_small_p_value_that_changes_is_found() -> None:
    # an absolute tolerance alone would hide this
    assert list(differences(_changed(p_value=5e-12), PINNED))


def test_verdicts_counts_keys_and_lengths_are_exact() -> None:
    assert list(differences(_changed(verdict="not_met"), PINNED))
    counted = _changed()
    counted["data"]["n_applications"] += 1
    assert list(differences(counted, PINNED))
    extra = _changed(new_key=1)
    assert list(differences(extra, PINNED)) == ["new_key: obtained 1, expected (missing)"]
    shorter = _changed()
    shorter["data"]["excluded"] = []
    assert list(differences(shorter, PINNED)) == [
        "data.excluded: obtained '0 items', expected '1 items'"
    ]
    typed = _changed(verdict=None)
    assert list(differences(typed, PINNED))


def test_counts_are_exact_at_any_tolerance() -> None:
    counted = _changed()
    counted["data"]["n_applications"] += 1
    assert list(differences(counted, PINNED, rtol=0.5))


def test_noise_is_marked_within_and_residue_of_zero_has_no_relative_difference() -> None:
    noisy = _changed(estimate=0.0321 * (1 + 3e-12), zero=2e-17)
    found = {d.path: d for d in walk(PINNED, noisy)}
    assert set(found) == {"hypotheses[0].estimate", "zero"}
    assert all(d.within for d in found.values())
    assert found["hypotheses[0].estimate"].relative == pytest.approx(3e-12, rel=1e-3)
    assert found["zero"].relative is None


def test_negative_tolerance_is_refused() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        list(walk(PINNED, PINNED, rtol=-1.0))

"""The tolerant comparison of pinned results (tests/numbers.py) finds what it must."""

from __future__ import annotations

from typing import Any

from tests.numbers import differences

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
    assert found == ["hypotheses[0].estimate: obtained 0.0322, expected 0.0321 (relative 3.12e-03)"]


def test_a_small_p_value_that_changes_is_found() -> None:
    # an absolute tolerance alone would hide this
    assert list(differences(_changed(p_value=5e-12), PINNED))


def test_verdicts_counts_keys_and_lengths_are_exact() -> None:
    assert list(differences(_changed(verdict="not_met"), PINNED))
    counted = _changed()
    counted["data"]["n_applications"] += 1
    assert list(differences(counted, PINNED))
    extra = _changed(new_key=1)
    assert list(differences(extra, PINNED)) == ["new_key: not expected (obtained 1)"]
    shorter = _changed()
    shorter["data"]["excluded"] = []
    assert list(differences(shorter, PINNED)) == ["data.excluded: 0 items obtained, 1 expected"]
    typed = _changed(verdict=None)
    assert list(differences(typed, PINNED))

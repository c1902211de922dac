"""Tests of the plan's lock: registration, amendments, the hash chain and check_locked."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from pilot_eval.errors import PlanLockError
from pilot_eval.plan.lock import (
    DEVIATION_HOWTO,
    LockEntry,
    check_locked,
    lock_path,
    lock_plan,
    read_lock,
)
from pilot_eval.plan.model import LoadedPlan, deviations_sha256, load_plan

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "analysis_plans" / "breed-werven-2024.yaml"
EXAMPLE_LOCK = ROOT / "analysis_plans" / "breed-werven-2024.lock.json"
# the example plan without its amendment: a plan that can be registered afresh
EXAMPLE_TEXT = (
    EXAMPLE.read_text(encoding="utf-8").split("\ndeviations:\n")[0] + "\ndeviations: []\n"
)

REGISTERED = dt.date(2023, 9, 1)  # registered_on in the example plan
LOCKED_ON = dt.date(2023, 9, 4)
AMENDED_ON = dt.date(2024, 1, 15)

DEVIATION_1 = """\
  - date: 2024-01-10
    what: alpha lowered from 0.05 to 0.01
    why: the steering group asked for a stricter level
    data_access: outcome_data_seen
"""
DEVIATION_2 = """\
  - date: 2024-02-01
    what: H3 made two-sided
    why: a reviewer asked for it
    data_access: outcome_data_seen
"""


# --------------------------------------------------------------------------------------
# helpers


def edit(text: str, old: str, new: str) -> str:
    """Replace `old`, which must occur exactly once, so that every edit is unambiguous."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def with_deviations(text: str, *deviations: str) -> str:
    return edit(text, "deviations: []\n", "deviations:\n" + "".join(deviations))


ALPHA_001 = edit(EXAMPLE_TEXT, "alpha: 0.05", "alpha: 0.01")
AMENDED_TEXT = with_deviations(ALPHA_001, DEVIATION_1)
H3_TWO_SIDED = edit(
    AMENDED_TEXT,
    "    alternative: greater\n    description: Het verschil in aanbod",
    "    alternative: two-sided\n    description: Het verschil in aanbod",
)
TWICE_AMENDED_TEXT = edit(H3_TWO_SIDED, DEVIATION_1, DEVIATION_1 + DEVIATION_2)


@pytest.fixture
def plan_path(tmp_path: Path) -> Path:
    """A copy of the example plan, not yet locked."""
    path = tmp_path / EXAMPLE.name
    path.write_text(EXAMPLE_TEXT, encoding="utf-8")
    return path


def rewrite(path: Path, text: str) -> LoadedPlan:
    path.write_text(text, encoding="utf-8")
    return load_plan(path)


@pytest.fixture
def registered(plan_path: Path) -> Path:
    """A copy of the example plan, registered in its own lock."""
    lock_plan(load_plan(plan_path), LOCKED_ON)
    return plan_path


@pytest.fixture
def amended(registered: Path) -> Path:
    """A copy of the example plan, registered and amended once (alpha 0.01)."""
    lock_plan(rewrite(registered, AMENDED_TEXT), AMENDED_ON)
    return registered


@pytest.fixture
def amended_twice(amended: Path) -> Path:
    """A copy of the example plan with three lock entries."""
    lock_plan(rewrite(amended, TWICE_AMENDED_TEXT), AMENDED_ON + dt.timedelta(days=30))
    return amended


def lock_json(plan: Path) -> dict[str, Any]:
    data = json.loads(lock_path(plan).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def write_lock_json(plan: Path, data: dict[str, Any]) -> None:
    lock_path(plan).write_text(json.dumps(data, indent=2), encoding="utf-8")


# --------------------------------------------------------------------------------------
# registration


def test_lock_path_is_stem_dot_lock_json_next_to_the_plan() -> None:
    assert lock_path(Path("plans/x.yaml")) == Path("plans/x.lock.json")
    assert lock_path(Path("/a/b/plan.v2.yml")) == Path("/a/b/plan.v2.lock.json")


def test_lock_registers_the_plan(plan_path: Path) -> None:
    loaded = load_plan(plan_path)
    history, status = lock_plan(loaded, LOCKED_ON)
    assert status == "registered"
    path = plan_path.with_name("breed-werven-2024.lock.json")
    assert history.path == path
    assert path.is_file()
    assert sorted(p.name for p in plan_path.parent.iterdir()) == [
        "breed-werven-2024.lock.json",
        "breed-werven-2024.yaml",
    ]
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["lock_format"] == 1
    assert data["plan_id"] == "breed-werven-2024"
    assert len(data["entries"]) == 1
    entry = data["entries"][0]
    assert entry["sequence"] == 1
    assert entry["kind"] == "registration"
    assert entry["sha256"] == loaded.sha256
    assert entry["date"] == "2023-09-04"  # LOCKED_ON, not the plan's registered_on
    assert entry["data_access"] == "no_outcome_data"  # data_access_at_registration
    assert entry["n_deviations"] == 0
    assert entry["deviations_sha256"] == deviations_sha256(())
    assert entry["previous_entry_sha256"] is None


def test_registration_can_be_read_back(plan_path: Path) -> None:
    history, _ = lock_plan(load_plan(plan_path), LOCKED_ON)
    assert read_lock(lock_path(plan_path)) == history


def test_lock_file_is_sorted_indented_json_ending_in_a_newline(registered: Path) -> None:
    text = lock_path(registered).read_text(encoding="utf-8")
    assert text.endswith("}\n")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
    assert not lock_path(registered).with_name(lock_path(registered).name + ".tmp").exists()


def test_registering_the_example_again_reproduces_its_committed_lock(plan_path: Path) -> None:
    committed = EXAMPLE_LOCK.read_bytes()
    entries = json.loads(committed)["entries"]
    full = EXAMPLE.read_text(encoding="utf-8")
    # Deviation 7 corrected two earlier reasons and changed nothing else
    corrected = full[: full.index("  - date: 2026-12-07\n    what: >-\n      Herstel van twee")]
    # Deviation 6 added R8 (response weights)
    before_r8 = corrected[
        : corrected.index("  - date: 2026-12-07\n    what: >-\n      Robuustheidsanalyse R8")
    ]
    before_r8 = (
        before_r8[: before_r8.index("  - id: R8\n")]
        + before_r8[before_r8.index("\n# The evaluation's other evidence") :]
    )
    # Deviation 5 renamed R3 and R4 (fill-ins, not bounds)
    renamed = before_r8.index("  - date: 2026-12-07\n    what: >-\n      De omschrijving van R3")
    with_disadvantage = (
        before_r8[:renamed]
        .replace(
            "Invulling, geen grens: onbekende herkomst in beide armen geteld als Nederlandse",
            "Grens voor ontbrekende gegevens: onbekende herkomst geteld als Nederlandse",
        )
        .replace(
            "Invulling, geen grens: onbekende herkomst in beide armen geteld als buiten",
            "Grens voor ontbrekende gegevens: onbekende herkomst geteld als buiten",
        )
    )
    # Deviation 4 added the family 'disadvantage' (H9-H12): the plan before it is the base
    # of the earlier entries. Their decided_by lines name the default deciding tests and
    # leave the hash as it was.
    base = with_disadvantage[
        : with_disadvantage.index("  - date: 2026-12-07\n    what: >-\n      Familie disadvantage")
    ]
    base = base.replace("  disadvantage: { correction: holm }\n", "")
    base = (
        base[: base.index("  # Does the pilot disadvantage")]
        + base[base.index("\n# Robustness specifications") + 1 :]
    )
    # Register the plan as it was, before its diagnosis section and the deviation that
    # added it, on the date the committed lock records; amend it with the diagnosis
    # (deviation 1); then with the other evidence (deviation 2); then with decided_by
    # (deviation 3); then with H9-H12 (deviation 4); then with R3 and R4 renamed (5);
    # then with R8 (6); then with the correction (7).
    evidence_start = base.index("  - id: R6\n")
    evidence_end = base.index("randomisation_inference:")
    second_deviation = base.index("  - date: 2026-12-03\n    what: >-\n      Overig bewijs")
    third_deviation = base.index("  - date: 2026-12-04\n    what: >-\n      Bij elke")
    with_diagnosis = base[:evidence_start] + base[evidence_end:second_deviation]
    steps = [
        with_diagnosis.split("\n# Design diagnosis")[0] + "\ndeviations: []\n",
        with_diagnosis,
        re.sub(r"    decided_by: \w+\n", "", base[:third_deviation]),
        base,
        with_disadvantage,
        before_r8,
        corrected,
        full,
    ]
    for text, entry in zip(steps, entries, strict=True):
        plan_path.write_text(text, encoding="utf-8")
        lock_plan(load_plan(plan_path), dt.date.fromisoformat(entry["date"]))
    assert lock_path(plan_path).read_bytes() == committed


def test_registering_a_plan_that_already_lists_deviations_is_refused(plan_path: Path) -> None:
    loaded = rewrite(plan_path, AMENDED_TEXT)
    with pytest.raises(PlanLockError, match="not locked yet but already lists deviations"):
        lock_plan(loaded, LOCKED_ON)
    assert not lock_path(plan_path).exists()


# --------------------------------------------------------------------------------------
# locking again


def test_lock_again_unchanged_leaves_the_file_alone(registered: Path) -> None:
    before = lock_path(registered).read_bytes()
    history, status = lock_plan(load_plan(registered), AMENDED_ON)
    assert status == "unchanged"
    assert len(history.entries) == 1
    assert lock_path(registered).read_bytes() == before


def test_reformatting_the_plan_is_not_a_change(registered: Path) -> None:
    before = lock_path(registered).read_bytes()
    text = edit(EXAMPLE_TEXT, "alpha: 0.05\n", "alpha: 0.05   # the usual level\n\n")
    _, status = lock_plan(rewrite(registered, text), AMENDED_ON)
    assert status == "unchanged"
    assert lock_path(registered).read_bytes() == before


def test_editing_the_plan_without_a_deviation_is_refused(registered: Path) -> None:
    before = lock_path(registered).read_bytes()
    loaded = rewrite(registered, ALPHA_001)
    with pytest.raises(PlanLockError, match="no new deviation is recorded") as info:
        lock_plan(loaded, AMENDED_ON)
    assert "add an entry to 'deviations'" in info.value.message
    assert lock_path(registered).read_bytes() == before


def test_editing_the_plan_with_a_new_deviation_appends_an_amendment(registered: Path) -> None:
    first = read_lock(lock_path(registered)).entries[0]
    loaded = rewrite(registered, AMENDED_TEXT)
    history, status = lock_plan(loaded, AMENDED_ON)
    assert status == "amended"
    assert history.entries[0] == first
    second = history.entries[1]
    assert second.sequence == 2
    assert second.kind == "amendment"
    assert second.sha256 == loaded.sha256
    assert second.date == AMENDED_ON.isoformat()
    assert second.previous_entry_sha256 == first.digest()
    assert second.data_access == "outcome_data_seen"  # from DEVIATION_1
    assert second.n_deviations == 1
    assert second.deviations_sha256 == deviations_sha256(loaded.plan.deviations)
    assert read_lock(lock_path(registered)) == history


def test_entry_digest_is_sha256_of_its_sorted_compact_json(registered: Path) -> None:
    entry = read_lock(lock_path(registered)).entries[0]
    text = json.dumps(lock_json(registered)["entries"][0], sort_keys=True, separators=(",", ":"))
    assert entry.digest() == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_a_second_amendment_chains_to_the_first(amended_twice: Path) -> None:
    entries = read_lock(lock_path(amended_twice)).entries
    assert [e.sequence for e in entries] == [1, 2, 3]
    assert [e.kind for e in entries] == ["registration", "amendment", "amendment"]
    assert entries[2].previous_entry_sha256 == entries[1].digest()
    assert entries[2].n_deviations == 2
    assert entries[2].sha256 == load_plan(amended_twice).sha256


def test_amended_plan_locked_again_is_unchanged(amended: Path) -> None:
    before = lock_path(amended).read_bytes()
    _, status = lock_plan(load_plan(amended), AMENDED_ON)
    assert status == "unchanged"
    assert lock_path(amended).read_bytes() == before


def test_changing_an_earlier_deviation_is_refused(amended: Path) -> None:
    before = lock_path(amended).read_bytes()
    changed = edit(
        TWICE_AMENDED_TEXT,
        "why: the steering group asked for a stricter level",
        "why: we wanted to",
    )
    with pytest.raises(PlanLockError, match="differ from those recorded") as info:
        lock_plan(rewrite(amended, changed), AMENDED_ON)
    assert "append-only" in info.value.message
    assert lock_path(amended).read_bytes() == before


def test_changing_an_earlier_deviation_without_adding_one_is_refused(amended: Path) -> None:
    before = lock_path(amended).read_bytes()
    changed = edit(AMENDED_TEXT, "what: alpha lowered", "what: alpha changed")
    with pytest.raises(PlanLockError, match="deviation"):
        lock_plan(rewrite(amended, changed), AMENDED_ON)
    assert lock_path(amended).read_bytes() == before


def test_removing_a_deviation_is_refused(amended: Path) -> None:
    before = lock_path(amended).read_bytes()
    with pytest.raises(PlanLockError, match="deviation"):
        lock_plan(rewrite(amended, ALPHA_001), AMENDED_ON)
    assert lock_path(amended).read_bytes() == before


def test_replacing_a_deviation_by_another_is_refused(amended: Path) -> None:
    replaced = edit(TWICE_AMENDED_TEXT, DEVIATION_1, "")
    with pytest.raises(PlanLockError, match="deviation"):
        lock_plan(rewrite(amended, replaced), AMENDED_ON)


def test_changing_the_plan_id_is_refused(registered: Path) -> None:
    before = lock_path(registered).read_bytes()
    renamed = edit(EXAMPLE_TEXT, "id: breed-werven-2024\n", "id: breed-werven-2025\n")
    with pytest.raises(PlanLockError, match="now has id 'breed-werven-2025'") as info:
        lock_plan(rewrite(registered, with_deviations(renamed, DEVIATION_1)), AMENDED_ON)
    assert "locked as 'breed-werven-2024'" in info.value.message
    assert lock_path(registered).read_bytes() == before


# --------------------------------------------------------------------------------------
# check_locked


def test_check_locked_passes_for_the_locked_plan(registered: Path) -> None:
    status = check_locked(load_plan(registered), exploratory=False)
    assert status.locked is True
    assert status.lock_file == "breed-werven-2024.lock.json"
    assert status.lock_sha256 == hashlib.sha256(lock_path(registered).read_bytes()).hexdigest()
    assert status.history == read_lock(lock_path(registered))


def test_check_locked_passes_for_an_amended_plan(amended: Path) -> None:
    status = check_locked(load_plan(amended), exploratory=False)
    assert status.locked is True
    assert status.history is not None
    assert len(status.history.entries) == 2


def test_check_locked_refuses_an_edited_plan(registered: Path) -> None:
    loaded = rewrite(registered, ALPHA_001)
    with pytest.raises(PlanLockError) as info:
        check_locked(loaded, exploratory=False)
    message = info.value.message
    assert "breed-werven-2024.yaml has changed since it was last locked" in message
    assert "in breed-werven-2024.lock.json" in message
    assert "entry 1, 2023-09-04" in message  # LOCKED_ON
    assert "add an entry to 'deviations'" in message
    assert "pilot-eval lock PLAN" in message
    assert "--exploratory" in message
    assert message.endswith(DEVIATION_HOWTO)


def test_check_locked_refuses_the_pre_amendment_plan(amended: Path) -> None:
    with pytest.raises(PlanLockError, match="changed since it was last locked"):
        check_locked(rewrite(amended, EXAMPLE_TEXT), exploratory=False)


def test_check_locked_exploratory_reports_an_edited_plan(registered: Path) -> None:
    status = check_locked(rewrite(registered, ALPHA_001), exploratory=True)
    assert status.locked is False
    assert status.lock_file == "breed-werven-2024.lock.json"
    assert status.history is not None


def test_check_locked_refuses_an_unlocked_plan(plan_path: Path) -> None:
    with pytest.raises(PlanLockError, match="is not locked") as info:
        check_locked(load_plan(plan_path), exploratory=False)
    assert "breed-werven-2024.lock.json" in info.value.message
    assert "--exploratory" in info.value.message


def test_check_locked_exploratory_reports_an_unlocked_plan(plan_path: Path) -> None:
    status = check_locked(load_plan(plan_path), exploratory=True)
    assert (status.locked, status.lock_file, status.lock_sha256, status.history) == (
        False,
        None,
        None,
        None,
    )
    assert not lock_path(plan_path).exists()


# --------------------------------------------------------------------------------------
# a damaged history


def test_entry_removed_from_the_middle_is_detected(amended_twice: Path) -> None:
    data = lock_json(amended_twice)
    del data["entries"][1]
    write_lock_json(amended_twice, data)
    with pytest.raises(PlanLockError, match="damaged at entry 2"):
        read_lock(lock_path(amended_twice))


def test_renumbered_history_with_an_entry_removed_is_detected(amended_twice: Path) -> None:
    data = lock_json(amended_twice)
    del data["entries"][1]
    data["entries"][1]["sequence"] = 2
    write_lock_json(amended_twice, data)
    with pytest.raises(PlanLockError, match="damaged at entry 2"):
        read_lock(lock_path(amended_twice))


def test_edited_entry_sha256_is_detected(amended: Path) -> None:
    data = lock_json(amended)
    data["entries"][0]["sha256"] = "0" * 64
    write_lock_json(amended, data)
    with pytest.raises(PlanLockError, match="damaged"):
        check_locked(load_plan(amended), exploratory=False)


def test_edited_entry_is_detected_even_when_exploratory(amended: Path) -> None:
    data = lock_json(amended)
    data["entries"][0]["data_access"] = "no_data"
    write_lock_json(amended, data)
    with pytest.raises(PlanLockError, match="damaged"):
        check_locked(load_plan(amended), exploratory=True)


def test_reordered_entries_are_detected(amended: Path) -> None:
    data = lock_json(amended)
    data["entries"].reverse()
    write_lock_json(amended, data)
    with pytest.raises(PlanLockError, match="damaged at entry 1"):
        read_lock(lock_path(amended))


def test_damaged_history_refuses_a_new_amendment(amended: Path) -> None:
    data = lock_json(amended)
    data["entries"][0]["sha256"] = "0" * 64
    write_lock_json(amended, data)
    with pytest.raises(PlanLockError, match="damaged"):
        lock_plan(rewrite(amended, TWICE_AMENDED_TEXT), AMENDED_ON)


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "",
        "[]",
        '{"lock_format": 2, "plan_id": "breed-werven-2024", "entries": []}',
        '{"lock_format": 1, "plan_id": "breed-werven-2024"}',
        '{"lock_format": 1, "plan_id": "breed-werven-2024", "entries": [{"sequence": 1}]}',
        '{"lock_format": 1, "plan_id": "breed-werven-2024", "entries": [1]}',
    ],
    ids=[
        "invalid-json",
        "empty",
        "list",
        "unknown-format",
        "no-entries-key",
        "incomplete-entry",
        "entry-not-object",
    ],
)
def test_unreadable_lock_file_is_refused(registered: Path, content: str) -> None:
    lock_path(registered).write_text(content, encoding="utf-8")
    with pytest.raises(PlanLockError, match=r"breed-werven-2024\.lock\.json cannot be read"):
        check_locked(load_plan(registered), exploratory=False)


def test_lock_file_that_is_not_utf8_is_refused(registered: Path) -> None:
    lock_path(registered).write_bytes(b"\xff\xfe{}")
    with pytest.raises(PlanLockError, match="cannot be read"):
        read_lock(lock_path(registered))


def test_lock_file_without_entries_is_refused(registered: Path) -> None:
    data = lock_json(registered)
    data["entries"] = []
    write_lock_json(registered, data)
    with pytest.raises(PlanLockError, match="has no entries"):
        read_lock(lock_path(registered))


def test_edited_sha256_of_the_last_entry_is_detected(registered: Path) -> None:
    edited = rewrite(registered, ALPHA_001)
    data = lock_json(registered)
    data["entries"][-1]["sha256"] = edited.sha256
    write_lock_json(registered, data)
    with pytest.raises(PlanLockError, match="damaged"):
        check_locked(edited, exploratory=False)


# --------------------------------------------------------------------------------------
# the committed example


def test_example_plan_is_locked_and_matches_its_lock() -> None:
    loaded = load_plan(EXAMPLE)
    status = check_locked(loaded, exploratory=False)
    assert status.locked is True
    assert status.lock_file == EXAMPLE_LOCK.name
    assert status.lock_sha256 == hashlib.sha256(EXAMPLE_LOCK.read_bytes()).hexdigest()
    assert status.history is not None
    assert status.history.plan_id == loaded.plan.id
    assert status.history.last.sha256 == loaded.sha256
    assert status.history.last.n_deviations == len(loaded.plan.deviations)


def test_example_lock_starts_with_a_registration() -> None:
    history = read_lock(EXAMPLE_LOCK)
    first = history.entries[0]
    assert isinstance(first, LockEntry)
    assert first.kind == "registration"
    assert first.previous_entry_sha256 is None
    assert all(e.kind == "amendment" for e in history.entries[1:])


def test_amendment_cannot_predate_the_last_entry(registered: Path) -> None:
    amended = rewrite(registered, AMENDED_TEXT)
    with pytest.raises(PlanLockError, match="cannot come before the last lock entry"):
        lock_plan(amended, dt.date(2020, 1, 1))

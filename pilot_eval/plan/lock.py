"""The plan's lock: an append-only, hash-chained history of registrations and amendments.

The lock of ``plans/x.yaml`` is ``plans/x.lock.json``. Its first entry registers the plan:
the SHA-256 of its canonical form, the date and what data the authors had seen. Each later
``lock`` appends an amendment and is refused unless the plan gained a new ``deviations``
entry (what changed, why, data access at that moment) while keeping the earlier ones.
Every entry carries the SHA-256 of the entry before it, and the file carries the SHA-256
of its last entry (``head_sha256``), so removing or editing an entry by hand breaks the
chain and is detected. A chain kept in the same file cannot stop someone who recomputes
every digest: the external anchor is the SHA-256 of the lock file itself, which every
results.json, manifest and report shows, and which an evaluator publishes at registration.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pilot_eval.errors import PlanLockError
from pilot_eval.plan.model import LoadedPlan, deviations_sha256

LOCK_FORMAT = 1


def lock_path(plan_path: Path) -> Path:
    """The lock file that belongs to a plan file."""
    return plan_path.with_name(f"{plan_path.stem}.lock.json")


@dataclass(frozen=True)
class LockEntry:
    """One entry of the lock history."""

    sequence: int
    kind: Literal["registration", "amendment"]
    sha256: str
    date: str
    data_access: str
    n_deviations: int
    deviations_sha256: str
    previous_entry_sha256: str | None

    def as_json(self) -> dict[str, Any]:
        """The entry as it is stored."""
        return {
            "sequence": self.sequence,
            "kind": self.kind,
            "sha256": self.sha256,
            "date": self.date,
            "data_access": self.data_access,
            "n_deviations": self.n_deviations,
            "deviations_sha256": self.deviations_sha256,
            "previous_entry_sha256": self.previous_entry_sha256,
        }

    def digest(self) -> str:
        """SHA-256 of the entry's canonical JSON; the next entry points to it."""
        text = json.dumps(self.as_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class LockHistory:
    """The parsed lock file of a plan."""

    path: Path
    plan_id: str
    entries: tuple[LockEntry, ...]

    @property
    def last(self) -> LockEntry:
        """The entry in force."""
        return self.entries[-1]

    def as_json(self) -> dict[str, Any]:
        """The lock file's content."""
        return {
            "lock_format": LOCK_FORMAT,
            "plan_id": self.plan_id,
            "entries": [e.as_json() for e in self.entries],
            "head_sha256": self.last.digest(),
        }

    def file_sha256(self) -> str:
        """SHA-256 of the lock file's bytes."""
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def read_lock(path: Path) -> LockHistory:
    """Read and check a lock file (format and hash chain).

    Raises
    ------
    PlanLockError
        When the file cannot be read or its history is damaged.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("lock_format") != LOCK_FORMAT:
            raise ValueError(f"unknown lock_format {data.get('lock_format')!r}")
        entries = tuple(LockEntry(**e) for e in data["entries"])
        plan_id = str(data["plan_id"])
        head = data["head_sha256"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PlanLockError(f"The lock file {path.name} cannot be read: {exc}") from None
    if not entries:
        raise PlanLockError(f"The lock file {path.name} has no entries.")
    previous: str | None = None
    for i, entry in enumerate(entries, start=1):
        if entry.sequence != i or entry.previous_entry_sha256 != previous:
            raise PlanLockError(
                f"The lock history in {path.name} is damaged at entry {i}: an entry was "
                "removed, reordered or edited. Restore the file from version control."
            )
        previous = entry.digest()
    if head != previous:
        raise PlanLockError(
            f"The lock history in {path.name} is damaged: its last entry was edited or "
            "removed (head_sha256 does not match). Restore the file from version control."
        )
    return LockHistory(path=path, plan_id=plan_id, entries=entries)


def write_lock(history: LockHistory) -> None:
    """Write the lock file (atomically: a partial file never replaces a good one)."""
    text = json.dumps(history.as_json(), indent=2, sort_keys=True) + "\n"
    tmp = history.path.with_name(history.path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(history.path)


def lock_plan(loaded: LoadedPlan, on: dt.date) -> tuple[LockHistory, str]:
    """Register or amend the lock of a plan.

    Parameters
    ----------
    loaded:
        The plan as loaded and checked.
    on:
        The date recorded in the new entry.

    Returns
    -------
    The new history and what happened: ``registered``, ``amended`` or ``unchanged``.

    Raises
    ------
    PlanLockError
        When the change is not recorded as a new deviation, or earlier deviations changed.
    """
    plan = loaded.plan
    path = lock_path(loaded.path)
    devs = plan.deviations
    if not path.exists():
        history = _register(loaded, path, on)
        write_lock(history)
        return history, "registered"
    history = read_lock(path)
    last = history.last
    if last.sha256 == loaded.sha256:
        return history, "unchanged"
    _check_amendment(loaded, history, on)
    newest = devs[-1]
    entry = LockEntry(
        sequence=last.sequence + 1,
        kind="amendment",
        sha256=loaded.sha256,
        date=on.isoformat(),
        data_access=newest.data_access,
        n_deviations=len(devs),
        deviations_sha256=deviations_sha256(devs),
        previous_entry_sha256=last.digest(),
    )
    history = LockHistory(path=path, plan_id=history.plan_id, entries=(*history.entries, entry))
    write_lock(history)
    return history, "amended"


def _register(loaded: LoadedPlan, path: Path, on: dt.date) -> LockHistory:
    """The first entry of a plan's lock: its registration, before any deviation."""
    plan, devs = loaded.plan, loaded.plan.deviations
    if devs:
        raise PlanLockError(
            f"{loaded.path.name} is not locked yet but already lists deviations. A plan "
            "is registered first and amended afterwards: remove the deviations, lock, "
            "then add them back and lock again."
        )
    entry = LockEntry(
        sequence=1,
        kind="registration",
        sha256=loaded.sha256,
        date=on.isoformat(),
        data_access=plan.data_access_at_registration,
        n_deviations=0,
        deviations_sha256=deviations_sha256(devs),
        previous_entry_sha256=None,
    )
    return LockHistory(path=path, plan_id=plan.id, entries=(entry,))


def _check_amendment(loaded: LoadedPlan, history: LockHistory, on: dt.date) -> None:
    """Refuse a changed plan unless the change is a new deviation appended to unchanged
    earlier ones, on the same plan id, dated no earlier than the last entry."""
    plan, devs, last = loaded.plan, loaded.plan.deviations, history.last
    if history.plan_id != plan.id:
        raise PlanLockError(
            f"{loaded.path.name} now has id '{plan.id}' but was locked as '{history.plan_id}'. "
            "A plan keeps its id; a different evaluation needs a new plan file."
        )
    if len(devs) < last.n_deviations:
        raise PlanLockError(
            f"{loaded.path.name} lists {len(devs)} deviation(s) but {last.n_deviations} were "
            "recorded in the lock. Deviations are append-only: restore the removed ones."
        )
    if len(devs) == last.n_deviations:
        raise PlanLockError(
            f"{loaded.path.name} changed since it was locked "
            f"({_changed(last.sha256, loaded.sha256)}), but no new deviation is recorded. "
            + DEVIATION_HOWTO
        )
    if deviations_sha256(devs[: last.n_deviations]) != last.deviations_sha256:
        raise PlanLockError(
            f"{loaded.path.name}: the first {last.n_deviations} deviation(s) differ from those "
            "recorded in the lock. Deviations are append-only: restore them and add a new one."
        )
    if on.isoformat() < last.date:
        raise PlanLockError(
            f"An amendment dated {on.isoformat()} cannot come before the last lock entry "
            f"({last.date}). Give the date of the amendment with --date."
        )


DEVIATION_HOWTO = (
    "To record an intended change, add an entry to 'deviations' in the plan "
    "(date, what, why, data_access) and run 'pilot-eval lock PLAN'; to look at the data "
    "without a locked plan, run with --exploratory (every output is then marked exploratory)."
)


def _changed(old: str, new: str) -> str:
    return f"locked sha256 {old[:12]}..., now {new[:12]}..."


@dataclass(frozen=True)
class LockStatus:
    """How a plan stands against its lock, as recorded in the results."""

    locked: bool
    lock_file: str | None
    lock_sha256: str | None
    history: LockHistory | None


def check_locked(loaded: LoadedPlan, exploratory: bool) -> LockStatus:
    """Check that the plan is the last locked version; with ``exploratory`` only report.

    Raises
    ------
    PlanLockError
        When not exploratory and the plan is not locked, or changed since its last lock.
    """
    path = lock_path(loaded.path)
    if not path.exists():
        if exploratory:
            return LockStatus(False, None, None, None)
        raise PlanLockError(
            f"{loaded.path.name} is not locked: there is no {path.name} next to it. Lock it "
            "with 'pilot-eval lock PLAN' before outcome data are analysed, or run with "
            "--exploratory."
        )
    history = read_lock(path)
    matches = history.last.sha256 == loaded.sha256
    if not matches and not exploratory:
        raise PlanLockError(
            f"{loaded.path.name} has changed since it was last locked in {path.name} "
            f"(entry {history.last.sequence}, {history.last.date}; "
            f"{_changed(history.last.sha256, loaded.sha256)}). " + DEVIATION_HOWTO
        )
    return LockStatus(matches, path.name, history.file_sha256(), history)

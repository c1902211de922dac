"""The release register: what each publication of a plan's outputs rested on.

Two publications of the same plan whose data differ by a handful of applicants let a
reader subtract one from the other: every table, share and statistic then describes just
those applicants (a differencing attack). The register records, per release, which
applications it used (their identifier and a fingerprint of their row); a new release
whose applications differ from any earlier one by at least one and fewer than the plan's
``disclosure.min_cell`` is refused. A release on the same data as an earlier one (a re-run)
is allowed and not recorded again.

The register is the evaluator's own file (``--register FILE`` of ``run`` and
``export-open-data``), kept beside the plan and its lock; it is never published: its
fingerprints are salted with the plan's hash but identify rows to whoever holds the data.
Its entries carry no time, so that a release is reproducible.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from pilot_eval.errors import OutputError, PlanError, Problem

if TYPE_CHECKING:
    from pilot_eval.data.bundle import Bundle
    from pilot_eval.plan.model import LoadedPlan

REGISTER_FORMAT = 1

FINGERPRINT_CHARS = 16
"""Hex characters kept of each row's SHA-256: 64 bits, ample to tell rows apart."""


@dataclass(frozen=True)
class Release:
    """What one publication rested on."""

    number: int
    kind: str
    plan_sha256: str
    data_sha256: dict[str, str]
    applications: dict[str, str]


def fingerprints(applications: pd.DataFrame, salt: str) -> dict[str, str]:
    """Application id -> a fingerprint of its whole row (every column as text)."""
    text = applications.astype("string").fillna("\x00")
    columns = sorted(c for c in text.columns if c != "application_id")
    rows = text[columns].agg("\x1f".join, axis=1)
    out = {}
    for app_id, row in zip(text["application_id"], rows, strict=True):
        digest = hashlib.sha256(f"{salt}\x1e{app_id}\x1e{row}".encode()).hexdigest()
        out[str(app_id)] = digest[:FINGERPRINT_CHARS]
    return dict(sorted(out.items()))


def difference(a: dict[str, str], b: dict[str, str]) -> int:
    """How many applicants two releases differ by: in one only, or changed."""
    only = set(a).symmetric_difference(b)
    changed = sum(1 for k in set(a) & set(b) if a[k] != b[k])
    return len(only) + changed


def read_register(path: Path, plan_id: str) -> list[Release]:
    """The releases recorded in ``path`` (none when it does not exist yet).

    Raises
    ------
    PlanError
        When it is not a register, or the register of another plan.
    """
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("register_format") != REGISTER_FORMAT:
            raise ValueError("not a release register of this format")
        if data["plan_id"] != plan_id:
            raise ValueError(f"it is the register of plan '{data['plan_id']}', not '{plan_id}'")
        return [
            Release(
                number=int(r["release"]),
                kind=str(r["kind"]),
                plan_sha256=str(r["plan_sha256"]),
                data_sha256=dict(r["data_sha256"]),
                applications=dict(r["applications"]),
            )
            for r in data["releases"]
        ]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PlanError(
            f"Cannot use the release register {path.name}:",
            [Problem(path.name, f"not a usable release register ({exc})")],
        ) from None


def check_release(
    path: Path, plan_id: str, plan_sha256: str, current: dict[str, str], min_cell: int
) -> Release | None:
    """The earlier release on the same applications, if any (a re-run).

    Raises
    ------
    PlanError
        When the applications differ from an earlier release by 1 to ``min_cell - 1``
        (exit 2): publishing both would describe those few applicants.
    """
    same = None
    problems = []
    for r in read_register(path, plan_id):
        d = difference(r.applications, current)
        if d == 0 and r.plan_sha256 == plan_sha256:
            same = same or r
        elif 0 < d < min_cell:
            problems.append(
                Problem(
                    path.name,
                    f"the data differ from release {r.number} ({r.kind}) by {d} "
                    f"application(s), fewer than disclosure.min_cell ({min_cell}): comparing "
                    "the two publications would describe just those applicants. Publish "
                    "on data that differ by at least min_cell applications, or not at all",
                    row=r.number,
                    column="release",
                )
            )
    if problems:
        raise PlanError("This release is refused by the release register:", problems)
    return same


def record_release(
    path: Path,
    plan_id: str,
    kind: str,
    plan_sha256: str,
    data_sha256: dict[str, str],
    applications: dict[str, str],
) -> int:
    """Append a release to the register (written whole, then renamed into place); return
    its number."""
    releases = read_register(path, plan_id)
    number = max((r.number for r in releases), default=0) + 1
    entries: list[dict[str, Any]] = [
        {
            "release": r.number,
            "kind": r.kind,
            "plan_sha256": r.plan_sha256,
            "data_sha256": r.data_sha256,
            "applications": r.applications,
        }
        for r in releases
    ]
    entries.append(
        {
            "release": number,
            "kind": kind,
            "plan_sha256": plan_sha256,
            "data_sha256": dict(sorted(data_sha256.items())),
            "applications": applications,
        }
    )
    text = json.dumps(
        {"register_format": REGISTER_FORMAT, "plan_id": plan_id, "releases": entries},
        indent=1,
        sort_keys=True,
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            out.write(text + "\n")
        os.replace(temporary, path)
    except OSError as exc:
        raise OutputError(f"Cannot write the release register {path}: {exc}") from None
    return number


def guard(
    register: Path | None, kind: str, loaded: LoadedPlan, bundle: Bundle
) -> Callable[[], int | None]:
    """Check a release of ``bundle`` under the plan ``loaded`` against the register before
    anything is written; return the step that records it once the outputs are in place (a
    re-run on the same applications, or no register, records nothing and returns None).

    Raises
    ------
    PlanError
        When the register refuses the release (``check_release``).
    """
    if register is None:
        return lambda: None
    plan, plan_sha256 = loaded.plan, loaded.sha256
    current = fingerprints(bundle.applications, plan_sha256)
    earlier = check_release(register, plan.id, plan_sha256, current, plan.disclosure.min_cell)
    if earlier is not None:  # a re-run on the same applications
        return lambda: None
    files = bundle.files
    return lambda: record_release(register, plan.id, kind, plan_sha256, files, current)

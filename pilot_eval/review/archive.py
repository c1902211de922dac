"""The reviewer's bundle: one zip file with everything needed to re-run and verify.

``pilot-eval bundle OUT --to FILE.zip`` packs the plan, its lock, the data files (or, with
``--without-data``, only their SHA-256 in ``DATA-SHA256.txt``), and the output folder with
its results, reports and manifest, each under the relative path the manifest records. A
reviewer unpacks it and runs ``pilot-eval verify OUT`` in the unpacked folder. The zip is
deterministic: sorted entries, fixed timestamps and permissions.
"""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath

from pilot_eval.errors import OutputError
from pilot_eval.review.verify import read_manifest

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
"""Timestamp of every zip entry, so that the same inputs give the same zip."""


def _safe(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise OutputError(
            f"{name} lies outside the folder the evaluation was run in; run 'pilot-eval run' "
            "from a folder that holds the plan, the data and the output to make a bundle."
        )
    return path


def bundle(out: Path, to: Path, with_data: bool = True) -> list[str]:
    """Write the reviewer's zip ``to``; return the names it holds.

    Raises
    ------
    OutputError
        When the manifest is missing, a recorded file is missing or lies outside the
        folder, the output folder holds a link, or ``to`` cannot be written.
    """
    manifest = read_manifest(out)
    entries: dict[str, Path] = {}
    listing: list[str] = []
    for role, files in manifest["inputs"].items():
        for name, digest in files.items():
            rel = _safe(name)
            if role == "data" and not with_data:
                listing.append(f"{digest}  {rel}")
                continue
            entries[str(rel)] = Path(name)
    out_rel = _safe(Path(out).as_posix())
    links = [p.relative_to(out).as_posix() for p in sorted(out.rglob("*")) if p.is_symlink()]
    if links:
        raise OutputError(
            f"Cannot bundle: the output folder {out} holds links, which a run never writes and "
            "which would pack whatever they point to: " + ", ".join(links) + ". Remove them."
        )
    for path in sorted(out.rglob("*")):
        if path.is_file():
            entries[str(out_rel / path.relative_to(out).as_posix())] = path
    missing = [name for name, path in entries.items() if not path.is_file()]
    if missing:
        raise OutputError(
            "Cannot bundle: these files named by the manifest are missing here: "
            + ", ".join(missing)
            + ". Run 'pilot-eval bundle' from the folder the evaluation was run in."
        )
    try:
        with zipfile.ZipFile(to, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name in sorted(entries):
                _add(archive, name, entries[name].read_bytes())
            if listing:
                _add(archive, "DATA-SHA256.txt", ("\n".join(sorted(listing)) + "\n").encode())
    except OSError as exc:
        raise OutputError(f"Cannot write {to}: {exc.strerror or exc}") from None
    return sorted(entries) + (["DATA-SHA256.txt"] if listing else [])


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)

"""Writing an output folder completely or not at all, and its manifest.

Files are written into a hidden temporary folder next to the destination and moved into
place in one rename when everything is written; an interrupted run leaves no half-written
output folder (a killed run leaves only its hidden staging folder, which the next run into
the same destination removes). An existing destination is replaced only when asked
(``--force``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pilot_eval.errors import OutputError


def relative(path: Path, start: Path | None = None) -> str:
    """``path`` relative to ``start`` (default: the working folder), with forward slashes.
    Links are kept as they are named: a data folder linked into the working folder is
    recorded inside it, where ``verify`` may read it."""
    return Path(
        os.path.relpath(os.path.abspath(path), os.path.abspath(start or Path.cwd()))
    ).as_posix()


def check_destination(out: Path, force: bool, inputs: Sequence[Path] = ()) -> None:
    """Refuse an existing output folder unless ``force``; refuse a file in its place; refuse
    an output folder that is, or lies inside, an input folder, or that holds an input (with
    ``force`` it would be deleted).

    Raises
    ------
    OutputError
        When ``out`` exists and ``force`` is false, ``out`` is not a folder, or it meets an
        input as above.
    """
    target = out.resolve()
    for path in inputs:
        source = path.resolve()
        if source.is_dir() and (target == source or source in target.parents):
            raise OutputError(
                f"The output folder {out} is the input folder {path} or lies inside it: "
                "writing there could mix outputs with the data or replace them. Choose an "
                "--out outside the input folders."
            )
        if target == source or target in source.parents:
            raise OutputError(
                f"The output folder {out} holds the input {path}: replacing the folder would "
                "delete it. Choose an --out that holds no input."
            )
    if out.exists() and not force:
        raise OutputError(
            f"The output folder {out} already exists. Choose another --out or add --force to "
            "replace it."
        )
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out} exists and is not a folder.")


@contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """Hold the lock of the output folder ``out`` (a hidden file beside it, locked with
    ``flock``, which the system releases when the process ends however it ends).

    Raises
    ------
    OutputError
        When another pilot-eval process holds it: a concurrent run into the same folder.
    """
    parent = out.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        handle = (parent / f".{out.name}.lock").open("a")
    except OSError as exc:
        raise OutputError(f"Cannot write the output folder {out}: {exc.strerror or exc}") from None
    try:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows has no flock; no lock there
            yield
            return
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise OutputError(
                f"Another pilot-eval command is writing the output folder {out} right now. "
                "Wait for it to finish, or choose another --out."
            ) from None
        yield
    finally:
        handle.close()


@contextmanager
def staged_folder(out: Path, force: bool) -> Iterator[Path]:
    """Yield a temporary folder; on success it replaces ``out``, on failure it is removed.
    The folder's lock (``output_lock``) is held throughout, and whether ``out`` may be
    written is checked again under it.

    Raises
    ------
    OutputError
        When ``out`` exists and ``force`` is false, its parent cannot be written, or another
        command is writing it.
    """
    with output_lock(out):
        yield from _staged(out, force)


def _staged(out: Path, force: bool) -> Iterator[Path]:
    check_destination(out, force)
    parent = out.resolve().parent
    # a run that was killed leaves its hidden staging folder; the next run clears it
    for stale in parent.glob(f".{out.name}.partial-*"):
        shutil.rmtree(stale, ignore_errors=True)
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=parent))
        # mkdtemp makes a private folder; the result should have ordinary permissions
        umask = os.umask(0)
        os.umask(umask)
        staging.chmod(0o777 & ~umask)
    except OSError as exc:
        raise OutputError(f"Cannot write the output folder {out}: {exc.strerror or exc}") from None
    try:
        yield staging
    except OSError as exc:
        # the disk is full, a file cannot be written: the destination's fault, not ours
        shutil.rmtree(staging, ignore_errors=True)
        raise OutputError(f"Cannot write the output folder {out}: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old: Path | None = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=parent))
        old.rmdir()
        out.rename(old)
    staging.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_text(folder: Path, name: str, text: str) -> Path:
    """Write UTF-8 text with "\\n" line endings."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    return path


def write_files(folder: Path, files: Mapping[str, str | bytes]) -> dict[str, str]:
    """Write each file into ``folder`` (text as UTF-8 with "\\n" line endings, bytes as they
    are); return file name -> SHA-256 of what was written, as the manifest lists outputs."""
    written: dict[str, str] = {}
    for name, content in files.items():
        if isinstance(content, str):
            write_text(folder, name, content)
            content = content.encode("utf-8")
        else:
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        written[name] = sha256_bytes(content)
    return written


def sha256_bytes(data: bytes) -> str:
    """SHA-256 (hex) of bytes."""
    return hashlib.sha256(data).hexdigest()


def manifest(
    *,
    command: list[str],
    inputs: Mapping[str, Mapping[str, str]],
    software: Mapping[str, str],
    outputs: Mapping[str, str],
    exploratory: bool,
) -> str:
    """The content of manifest.json.

    Parameters
    ----------
    command:
        The command line with paths relative to where it was run.
    inputs:
        Role (``plan``, ``lock``, ``data``) -> relative path -> SHA-256 of the file's bytes.
    software:
        Package -> version.
    outputs:
        Output file name -> SHA-256.
    """
    data: dict[str, Any] = {
        "manifest_format": 1,
        "command": command,
        "exploratory": exploratory,
        "inputs": {k: dict(sorted(v.items())) for k, v in inputs.items()},
        "outputs": dict(sorted(outputs.items())),
        "software": dict(software),
    }
    return json.dumps(data, indent=2, sort_keys=True) + "\n"

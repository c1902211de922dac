"""Reading the tables of a data bundle, hashing files, and writing tables as CSV.

Every table is read as text, exactly as the user typed it, so that a validation message
can show the offending value as it stands in the file. Converting to numbers, booleans and
categories happens only after validation (``pilot_eval.data.tables``). Cells are stripped of
surrounding white space; an empty cell is missing.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pilot_eval.errors import DataValidationError, Problem

FORMATS = (".csv", ".parquet", ".xlsx")
"""File formats of a table, in the order they are looked for."""

MAX_FILE_BYTES = 2 * 1024**3
"""The largest table file read (2 GiB): every application of the Rijk over years fits in a
fraction of it; a larger file is refused before it is read."""

MAX_COLUMNS = 500
"""The most columns a table may have: the data contract has a few dozen; a header of a
million columns is refused before the rows are parsed."""

_DECIMAL_COMMA = re.compile(r"^\s*-?\d+,\d+\s*$")

_HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class RawTable:
    """A table read as text.

    Attributes
    ----------
    name:
        Table name (``vacancies``).
    path:
        The file it came from.
    frame:
        One column per header, string values, missing where the cell was empty.
    first_row:
        Row number, as the user sees it, of the first data row (2 below a header line,
        1 for parquet, which has no header row).
    """

    name: str
    path: Path
    frame: pd.DataFrame
    first_row: int

    @property
    def file(self) -> str:
        """The file name shown in messages."""
        return self.path.name

    def row_of(self, index: int) -> int:
        """Row number in the file of the frame's positional index."""
        return self.first_row + index


def sha256_file(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def find_table(folder: Path, name: str) -> Path | None:
    """Return the file of table ``name`` in ``folder``, or None when there is none.

    Raises
    ------
    DataValidationError
        When the table exists in more than one format.
    """
    found = [folder / f"{name}{ext}" for ext in FORMATS if (folder / f"{name}{ext}").is_file()]
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise DataValidationError(
            f"Table '{name}' is given twice in {folder}: {names}. Keep exactly one file.",
            [Problem(p.name, "same table in more than one file") for p in found],
        )
    return found[0] if found else None


def read_table(path: Path, name: str) -> RawTable:
    """Read one table as text.

    Raises
    ------
    DataValidationError
        When the file cannot be read, is not UTF-8 text, is not a table, has duplicate or
        empty column names, or has no data rows.
    """
    suffix = path.suffix.lower()
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise _fail(path, f"the file cannot be read ({exc.strerror or exc})") from None
    if size > MAX_FILE_BYTES:
        raise _fail(
            path,
            f"the file has {size:,} bytes; at most {MAX_FILE_BYTES:,} are read "
            "(split it by year or department)",
        )
    if suffix == ".csv":
        frame, first_row = _read_csv(path), 2
    elif suffix == ".xlsx":
        frame, first_row = _read_xlsx(path), 2
    elif suffix == ".parquet":
        frame, first_row = _read_parquet(path), 1
    else:  # pragma: no cover - find_table only returns known formats
        raise DataValidationError(f"{path.name}: unknown table format '{suffix}'")
    if len(frame) == 0:
        raise DataValidationError(
            f"The table {path.name} has no data rows.",
            [Problem(path.name, "the table has no data rows; it needs at least one")],
        )
    return RawTable(name=name, path=path, frame=frame, first_row=first_row)


def _fail(path: Path, rule: str, row: int | None = None) -> DataValidationError:
    return DataValidationError(f"Cannot read {path.name}:", [Problem(path.name, rule, row=row)])


def _decode(path: Path, raw: bytes) -> str:
    """The text of a csv file: UTF-8 (with or without a byte-order mark) or UTF-16 with a
    byte-order mark, as Excel's 'Unicode text' writes it. Anything else is refused with the
    likely cause: Dutch Excel's plain 'CSV' is Windows-1252."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise _fail(path, "the file starts as UTF-16 text but cannot be decoded") from None
    if b"\x00" in raw[:65536]:
        raise _fail(path, "the file is binary, not a csv text file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        cause = f"byte 0x{raw[exc.start]:02x} cannot be decoded"
        try:
            raw.decode("cp1252")
            cause += (
                "; it looks like Windows-1252, which Excel writes for 'CSV (gescheiden door "
                "lijstscheidingsteken)'"
            )
        except UnicodeDecodeError:
            pass
        raise _fail(
            path,
            f"the file is not UTF-8 text ({cause}); save it as 'CSV UTF-8 (door komma's "
            "gescheiden)', or better as an xlsx workbook",
            row=line,
        ) from None


def _separator(first_line: str) -> str:
    """',' or, for a header that has semicolons and no comma (Dutch Excel's list
    separator), ';'."""
    return ";" if ";" in first_line and "," not in first_line else ","


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _fail(path, f"the file cannot be read ({exc.strerror or exc})") from None
    text = _decode(path, raw)
    if not text.strip():
        raise _fail(path, "the file is empty: it needs a header line and data rows")
    sep = _separator(text.split("\n", 1)[0])  # the decoding dropped a byte-order mark
    # newline="" lets the csv module see a stray carriage return inside a field
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    try:
        header = next(reader)
        _check_width(path, len(header))
        _check_header(path, header)
        ragged: list[Problem] = []
        if set(map(len, reader)) - {0, len(header)}:  # rare: read again to name the rows
            reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
            next(reader)
            ragged = [
                Problem(
                    path.name,
                    f"the row has {len(row)} fields but the header has {len(header)} columns",
                    row=reader.line_num,
                )
                for row in reader
                if row and len(row) != len(header)
            ]
    except csv.Error as exc:
        raise _fail(
            path, f"the file is not a well-formed csv table ({exc})", row=reader.line_num
        ) from None
    if ragged:
        raise DataValidationError(f"{path.name} is not a well-formed csv table:", ragged)
    utf16 = raw.startswith((b"\xff\xfe", b"\xfe\xff"))
    # UTF-8 with commas, the usual case, is parsed from the bytes, which is faster
    source = io.BytesIO(raw) if sep == "," and not utf16 else io.StringIO(text, newline="")
    try:
        frame = pd.read_csv(
            source,
            encoding="utf-8-sig",
            sep=sep,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            skipinitialspace=True,
            index_col=False,
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise _fail(path, f"the file is not a well-formed csv table ({exc})") from None
    frame = _strip(frame)
    if sep == ";":
        # Dutch Excel writes decimal numbers with a comma: "7,5" is 7.5
        for col in frame.columns:
            values = frame[col]
            comma = values.str.match(_DECIMAL_COMMA, na=False)
            if comma.any():
                frame[col] = values.mask(comma, values.str.replace(",", ".", regex=False))
    return frame


def _check_width(path: Path, columns: int) -> None:
    if columns > MAX_COLUMNS:
        raise _fail(
            path,
            f"the table has {columns:,} columns; at most {MAX_COLUMNS} are read "
            "(the data contract needs a few dozen)",
            row=1,
        )


def _check_header(path: Path, header: Iterable[Any]) -> None:
    names = [str(h).strip() for h in header]
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, col in enumerate(names, start=1):
        if not col or col.startswith("Unnamed:"):
            problems.append(Problem(path.name, f"column {i} has no name", row=1))
        elif col in seen:
            problems.append(Problem(path.name, "column name appears twice", row=1, column=col))
        seen.add(col)
    if problems:
        raise DataValidationError(f"The header of {path.name} is not usable:", problems)


def _read_xlsx(path: Path) -> pd.DataFrame:
    try:
        import openpyxl

        book = openpyxl.load_workbook(path, read_only=True)
        width = book.worksheets[0].max_column if book.worksheets else 0
        book.close()
    except Exception as exc:  # openpyxl raises many kinds on a damaged file
        raise _fail(
            path, f"the file is not a readable xlsx workbook ({type(exc).__name__})"
        ) from None
    _check_width(path, width or 0)
    try:
        frame = pd.read_excel(path, dtype=object, engine="openpyxl", header=None)
    except Exception as exc:  # openpyxl raises many kinds on a damaged file
        raise _fail(
            path, f"the file is not a readable xlsx workbook ({type(exc).__name__})"
        ) from None
    if frame.empty:
        raise _fail(path, "the workbook's first sheet is empty")
    header = [_cell_text(v) or "" for v in frame.iloc[0].tolist()]
    _check_header(path, header)
    body = frame.iloc[1:].reset_index(drop=True)
    body.columns = pd.Index(header)
    return _as_text(body)


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        import pyarrow.parquet as pq

        _check_width(path, len(pq.read_schema(path).names))
        frame = pd.read_parquet(path)
    except DataValidationError:
        raise
    except Exception as exc:  # pyarrow raises many kinds on a damaged file
        raise _fail(
            path, f"the file is not a readable parquet file ({type(exc).__name__})"
        ) from None
    _check_header(path, [str(c) for c in frame.columns])
    frame.columns = pd.Index([str(c) for c in frame.columns])
    return _as_text(frame.reset_index(drop=True))


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Render typed cells (from xlsx or parquet) as the text a csv would hold."""
    out = pd.DataFrame(
        {col: pd.array([_cell_text(v) for v in frame[col].tolist()], dtype="str") for col in frame},
        index=frame.index,
    )
    return _strip(out)


def _cell_text(value: Any) -> str | None:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, pd.Timestamp | dt.datetime):
        if value.hour == value.minute == value.second == 0:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def _strip(frame: pd.DataFrame) -> pd.DataFrame:
    frame.columns = pd.Index([str(c).strip() for c in frame.columns])
    for col in frame.columns:
        values = frame[col].astype("str").str.strip()
        frame[col] = values.mask(values == "")
    return frame


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""First characters with which a spreadsheet reads a cell as a formula (CSV injection)."""


def neutralise_formulas(column: pd.Series) -> pd.Series:
    """Text cells that a spreadsheet would run as a formula (starting with ``= + - @``, a
    tab or a carriage return, and not a number) with a leading apostrophe, which makes
    spreadsheets show them as text (OWASP, 'CSV Injection')."""
    text = column.astype("string")
    risky = text.str.startswith(FORMULA_START).fillna(False)
    if not risky.any():
        return column
    numeric = pd.to_numeric(text.where(risky), errors="coerce").notna()
    flagged = risky & ~numeric
    return text.mask(flagged, "'" + text)


def csv_text(frame: pd.DataFrame, float_format: str = "%.1f") -> str:
    """Return ``frame`` as deterministic CSV text with booleans as ``true``/``false`` and
    text that a spreadsheet would run as a formula neutralised (``neutralise_formulas``)."""
    columns: dict[str, Any] = {}
    for name in frame.columns:
        column = frame[name]
        if not (
            pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype)
        ):
            column = neutralise_formulas(column)
        if pd.api.types.is_bool_dtype(column.dtype):
            # Categorical codes avoid building millions of Python strings.
            values = column.to_numpy(dtype=np.bool_, na_value=False)
            codes = np.where(column.isna().to_numpy(), -1, values.astype(np.int8))
            columns[str(name)] = pd.Categorical.from_codes(
                codes.astype(np.int64), dtype=pd.CategoricalDtype(["false", "true"])
            )
        else:
            columns[str(name)] = column
    text: str = pd.DataFrame(columns).to_csv(
        index=False, lineterminator="\n", float_format=float_format, na_rep=""
    )
    return text

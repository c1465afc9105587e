"""Read the columns a model uses from a CSV file, typed and with incomplete rows dropped.

Only the used columns are loaded (pandas ``usecols``). pandas then accepts rows with too many or
too few fields without a word, so the file is first streamed once, in fixed-size chunks, to check
that every row has as many fields as the header and that the bytes are UTF-8.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mixfit.errors import InputError


@dataclass(frozen=True)
class Table:
    frame: pd.DataFrame  # only the model's columns, complete rows, categorical columns as Categorical
    path: Path
    rows_read: int

    @property
    def rows_dropped(self) -> int:
        return self.rows_read - len(self.frame)


def read_header(path: Path) -> list[str]:
    """The column names, checked: the file exists, is UTF-8 text, has a header, no duplicates."""
    if not path.exists():
        raise InputError(f"data file {str(path)!r} does not exist")
    if not path.is_file():
        raise InputError(f"data file {str(path)!r} is not a file")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh), None)
    except UnicodeDecodeError as exc:  # in the first block read, so its offsets are the file's
        with path.open("rb") as fh:
            line = fh.read(exc.start).count(b"\n") + 1
        raise InputError(
            f"data file {str(path)!r} is not UTF-8 text (line {line}: {exc.reason})"
        ) from None
    except (OSError, csv.Error) as exc:
        raise InputError(f"cannot read data file {str(path)!r}: {exc}") from None
    if not header or all(not h.strip() for h in header):
        raise InputError(f"data file {str(path)!r} is empty (no header row)")
    if len(header) == 1:
        for separator, name in ((";", "';'"), ("\t", "tabs"), ("|", "'|'")):
            if separator in header[0]:
                raise InputError(
                    f"data file {str(path)!r} looks separated by {name}, not commas: mixfit reads "
                    "comma-separated files"
                )
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise InputError(f"data file {str(path)!r} has the column {name!r} twice")
        seen.add(name)
    return header


def read_table(path: Path, columns: list[str], factors: list[str]) -> Table:
    """Read ``columns`` from ``path``; ``factors`` are numeric columns to treat as categorical."""
    header = read_header(path)
    missing = [c for c in columns if c not in header]
    if missing:
        raise InputError(
            f"column {missing[0]!r} is not in {path.name} (columns: {', '.join(header)})"
        )
    unknown_factors = [c for c in factors if c not in header]
    if unknown_factors:
        raise InputError(
            f"--factor {unknown_factors[0]!r} is not a column of {path.name} "
            f"(columns: {', '.join(header)})"
        )
    rows = check_rows(path, len(header))
    if rows == 0:
        raise InputError(f"data file {str(path)!r} has a header but no rows")
    try:
        frame = pd.read_csv(
            path, usecols=columns, encoding="utf-8-sig", skipinitialspace=True, engine="c"
        )
    except pd.errors.EmptyDataError:
        raise InputError(f"data file {str(path)!r} has no rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise InputError(f"cannot parse data file {str(path)!r}: {first_line}") from None
    if frame.empty:
        raise InputError(f"data file {str(path)!r} has a header but no rows")
    rows_read = len(frame)
    for name in columns:
        if frame[name].isna().all():
            raise InputError(f"column {name!r} of {path.name} has no values (all missing)")
    frame = frame.dropna().reset_index(drop=True)
    if frame.empty:
        raise InputError(
            f"no complete rows: every row of {path.name} misses a value in "
            f"{', '.join(columns)}"
        )
    if len(frame) < 2:
        raise InputError(
            f"{path.name} has only 1 complete row (in {', '.join(columns)}): a model needs at "
            "least 2"
        )
    for name in factors:
        if name in frame:
            frame[name] = as_categorical(frame[name])
    for name in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[name]) and not isinstance(
            frame[name].dtype, pd.CategoricalDtype
        ):
            frame[name] = as_categorical(frame[name])
    return Table(frame, path, rows_read)


CHUNK_BYTES = 1 << 22


def check_rows(path: Path, width: int) -> int:
    """Stream ``path`` in chunks: each row must have ``width`` fields and be UTF-8 text.

    Returns the number of data rows (blank lines and the header not counted). Fields are counted
    outside double quotes, so quoted commas and newlines are fine (``""`` escapes toggle twice).
    """
    carry, lines_before, rows, header_seen = b"", 0, 0, False
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(CHUNK_BYTES)
            buf = carry + chunk
            if not chunk and buf and not buf.endswith(b"\n"):
                buf += b"\n"
            ends, fields = _records(buf)
            carry = buf
            if len(ends):
                done = int(ends[-1]) + 1
                _check_utf8(path, buf[:done], lines_before)
                starts = np.concatenate(([0], ends[:-1] + 1))
                blank = np.array([not buf[a:b].strip() for a, b in zip(starts, ends)])
                if not header_seen and not blank.all():
                    blank[np.flatnonzero(~blank)[0]] = True  # the header, read by read_header
                    header_seen = True
                bad = np.flatnonzero((fields != width) & ~blank)
                if len(bad):
                    line = lines_before + buf[: starts[bad[0]]].count(b"\n") + 1
                    raise InputError(
                        f"data file {str(path)!r}: line {line} has {fields[bad[0]]} field(s), "
                        f"the header has {width}"
                    )
                rows += int((~blank).sum())
                lines_before += buf[:done].count(b"\n")
                carry = buf[done:]
            if not chunk:
                if carry.strip():  # only an open quote keeps the final newline from ending a row
                    raise InputError(
                        f"data file {str(path)!r}: line {lines_before + 1} opens a quote that is "
                        "never closed"
                    )
                return rows


def _check_utf8(path: Path, data: bytes, lines_before: int) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = lines_before + data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"data file {str(path)!r} is not UTF-8 text (line {line}: {exc.reason})"
        ) from None


def _records(buf: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Where each complete record of ``buf`` ends (its newline), and how many fields it has."""
    a = np.frombuffer(buf, np.uint8)
    newline, comma = a == ord("\n"), a == ord(",")
    if b'"' in buf:
        outside = (np.cumsum(a == ord('"'), dtype=np.int64) & 1) == 0
        newline &= outside
        comma &= outside
    ends = np.flatnonzero(newline)
    bounds = np.concatenate(([-1], ends))
    fields = np.diff(np.searchsorted(np.flatnonzero(comma), bounds)) + 1
    return ends, fields


def as_categorical(column: pd.Series) -> pd.Series:
    """Categories in sorted order (numerically for numbers), so the first level is the reference."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column
    if pd.api.types.is_bool_dtype(column):
        column = column.astype(int)
    return pd.Series(
        pd.Categorical(column, categories=sorted(column.unique())), name=column.name
    )

"""Read the columns a model uses from a CSV file, typed and with incomplete rows dropped.

Only the used columns are loaded (pandas ``usecols``). pandas then accepts rows with too many or
too few fields without a word, so the file is first streamed once, in fixed-size chunks, to check
that every row has as many fields as the header and that the bytes are UTF-8.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mixfit.errors import InputError


@dataclass(frozen=True)
class Table:
    frame: (
        pd.DataFrame
    )  # only the model's columns, complete rows, categorical columns as Categorical
    path: Path
    rows_read: int

    @property
    def rows_dropped(self) -> int:
        return self.rows_read - len(self.frame)


# Bounds that keep a hostile file from making mixfit read gigabytes to find one line.
HEADER_BYTES = 4 << 20
LINE_BYTES = 16 << 20
MAX_COLUMNS = 100_000
# the first bytes of compressed files (bzip2's: its block size 1-9, then its block magic)
COMPRESSED = {b"\x1f\x8b": "gzip", b"\xfd7zXZ\x00": "xz", b"PK\x03\x04": "zip"}
BZIP2 = re.compile(rb"BZh[1-9]1AY&SY")


def read_header(path: Path) -> list[str]:
    """The column names, checked: the file exists, is UTF-8 text, has a header, no duplicates."""
    try:
        if not path.exists():
            raise InputError(f"data file {str(path)!r} does not exist")
        if not path.is_file():
            raise InputError(f"data file {str(path)!r} is not a file")
        with path.open("rb") as fh:
            head = fh.read(HEADER_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read data file {str(path)!r}: {exc.strerror}") from None
    for magic, kind in [*COMPRESSED.items(), (BZIP2, "bzip2")]:  # its bytes hold no lines
        if magic.match(head) if isinstance(magic, re.Pattern) else head.startswith(magic):
            raise InputError(
                f"data file {str(path)!r} is {kind}-compressed: decompress it first (mixfit reads "
                "plain CSV text)"
            )
    ends, _ = _records(head)
    line = head[: int(ends[0]) if len(ends) else len(head)]
    if b"\r" in line.rstrip(b"\r"):
        raise InputError(
            f"data file {str(path)!r} ends its lines with CR alone (an old Mac format): save it "
            "with LF or CRLF line ends"
        )
    if not len(ends) and len(head) > HEADER_BYTES:
        raise InputError(
            f"data file {str(path)!r}: the first line is longer than {HEADER_BYTES >> 20} MB "
            "(not a CSV file, or one without line ends)"
        )
    try:  # the first block, not only the header: a binary file is named as such at once
        block = head[: 1 << 16]
        codecs.getincrementaldecoder("utf-8")().decode(block, final=len(block) == len(head))
        text = line.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line_number = head[: exc.start].count(b"\n") + 1
        raise InputError(
            f"data file {str(path)!r} is not UTF-8 text (line {line_number}: {exc.reason})"
        ) from None
    try:
        header = next(csv.reader([text.rstrip("\r")]), None)
    except csv.Error as exc:
        raise InputError(f"cannot read data file {str(path)!r}: {exc}") from None
    if not header or all(not h.strip() for h in header):
        raise InputError(f"data file {str(path)!r} is empty (no header row)")
    if len(header) > MAX_COLUMNS:
        raise InputError(
            f"data file {str(path)!r} has {len(header):,} columns; mixfit reads at most "
            f"{MAX_COLUMNS:,}"
        )
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


def listed(names: list[str], limit: int = 8) -> str:
    """Names for a message: the first few, and how many more, so one line stays short."""
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit:,} more" if len(names) > limit else "")


def read_table(
    path: Path,
    columns: list[str],
    factors: list[str],
    predictors: Collection[str] = (),
    complete: Collection[str] = (),
) -> Table:
    """Read ``columns`` from ``path``; ``factors`` are numeric columns to treat as categorical.

    A text column among ``predictors`` is categorical unless most of its values are numbers:
    then the others are mistakes to fix (or ``factors`` says it is categorical after all).
    A row missing a value of ``complete`` (weights, standard errors) is an error, not dropped.
    """
    header = read_header(path)
    missing = [c for c in columns if c not in header]
    if missing:
        raise InputError(f"column {missing[0]!r} is not in {path.name} (columns: {listed(header)})")
    unknown_factors = [c for c in factors if c not in header]
    if unknown_factors:
        raise InputError(
            f"--factor {unknown_factors[0]!r} is not a column of {path.name} "
            f"(columns: {listed(header)})"
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
    for name in predictors:
        if name not in factors and not pd.api.types.is_numeric_dtype(frame[name]):
            _check_not_mostly_numbers(frame[name], name, path)
    for name in complete:
        gaps = int(frame[name].isna().sum())
        if gaps:
            raise InputError(
                f"column {name!r} of {path.name} is missing in {gaps:,} rows: an addition term's "
                "value is needed in every row"
            )
    frame = frame.dropna().reset_index(drop=True)
    if frame.empty:
        raise InputError(
            f"no complete rows: every row of {path.name} misses a value in {', '.join(columns)}"
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


# A number as people write it: thousands separators, a decimal comma, a unit or a % after it.
NUMBER_LIKE = re.compile(r"\s*[+-]?(\d[\d,.]*|[.,]\d+)([eE][+-]?\d+)?\s*[^\d\s,]{0,5}\s*")
WITH_UNIT = re.compile(r"\s*[+-]?(\d[\d.]*|\.\d+)([eE][+-]?\d+)?\s*[^\d\s,.]{1,5}\s*")
THOUSANDS = re.compile(r"\s*[+-]?\d{1,3}(,\d{3})+(\.\d*)?\s*")
DECIMAL_COMMA = re.compile(r"\s*[+-]?\d*,\d+\s*")


def _check_not_mostly_numbers(column: pd.Series, name: str, path: Path) -> None:
    """Refuse a column of numbers spoilt by a few cells (``abc``, ``1,052.0``, ``3,5``), which
    would otherwise become a factor with a coefficient per distinct value."""
    values = column.dropna().astype(str)
    if values.str.fullmatch(NUMBER_LIKE).mean() <= 0.5:
        return
    bad = values[pd.to_numeric(values, errors="coerce").isna()]
    shown = ", ".join(f"{v!r} (row {i + 1})" for i, v in list(bad.items())[:3])
    if bad.str.fullmatch(THOUSANDS).any():
        advice = "write numbers without thousands separators"
    elif bad.str.fullmatch(DECIMAL_COMMA).any():
        advice = "write decimals with a point"
    elif bad.str.fullmatch(WITH_UNIT).any():
        advice = "write the numbers alone, without units"
    else:
        advice = "fix them, or leave missing values empty (or NA)"
    raise InputError(
        f"column {name!r} of {path.name} looks numeric, but {len(bad):,} of its {len(values):,} "
        f"values are not plain numbers: {shown}: {advice}, or add --factor {name} to treat it "
        "as categorical"
    )


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
                nul = buf.find(b"\x00", 0, done)
                if nul != -1:  # pandas's C parser would end the value there, silently
                    line = lines_before + buf[:nul].count(b"\n") + 1
                    raise InputError(
                        f"data file {str(path)!r}: line {line} holds a NUL character (byte 0), "
                        "which is no text: remove it"
                    )
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
            if len(carry) > LINE_BYTES:
                raise InputError(
                    f"data file {str(path)!r}: line {lines_before + 1} is longer than "
                    f"{LINE_BYTES >> 20} MB (a quote never closed, or no line ends)"
                )
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
    return pd.Series(pd.Categorical(column, categories=sorted(column.unique())), name=column.name)

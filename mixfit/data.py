"""Read the columns a model uses from a CSV file, typed and with incomplete rows dropped."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

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
    except UnicodeDecodeError as exc:
        raise InputError(f"data file {str(path)!r} is not UTF-8 text ({exc.reason})") from None
    except (OSError, csv.Error) as exc:
        raise InputError(f"cannot read data file {str(path)!r}: {exc}") from None
    if not header or all(not h.strip() for h in header):
        raise InputError(f"data file {str(path)!r} is empty (no header row)")
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
    frame = frame.dropna().reset_index(drop=True)
    if frame.empty:
        raise InputError(
            f"no complete rows: every row of {path.name} misses a value in "
            f"{', '.join(columns)}"
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


def as_categorical(column: pd.Series) -> pd.Series:
    """Categories in sorted order (numerically for numbers), so the first level is the reference."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column
    if pd.api.types.is_bool_dtype(column):
        column = column.astype(int)
    return pd.Series(
        pd.Categorical(column, categories=sorted(column.unique())), name=column.name
    )

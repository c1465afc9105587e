"""The CSV tables and JSON records of a results folder that ``summary`` and ``r2`` print, read
back with their columns checked: a table that is empty, cut short or of other columns is one
clear error, not a pandas traceback."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mixfit.errors import InputError
from mixfit.readback.json_file import read_json
from mixfit.readback.schema import Boolean, Json, Record, Text

MAX_BYTES = 512 << 20

# Columns each table starts with (an interval's names follow --prob: Q2.5, Q5, ...).
COLUMNS = {
    "fixef.csv": ["term", "Estimate", "Est.Error"],
    "varcorr.csv": ["group", "param", "Estimate", "Est.Error"],
    "r2.csv": ["Estimate", "Est.Error"],
    "comparison.csv": ["group", "param", "Estimate"],
    "smooths.csv": ["param", "Estimate", "Est.Error"],  # with s() or t2() terms
    "simplexes.csv": ["param", "Estimate", "Est.Error"],  # with mo() terms
}
NUMERIC = {"Estimate", "Est.Error"}

DIAGNOSTICS = Record({"ok": Boolean()}, extra=Json(max_depth=8))
VERDICT = Record({"headline": Text(max_len=10_000)}, extra=Json(max_depth=8))


def read_table(path: Path, rows: int | None = None) -> pd.DataFrame:
    """``path``, a table mixfit wrote under that name; ``rows``: how many it must have."""
    shown = repr(str(path))
    try:
        if path.stat().st_size > MAX_BYTES:
            raise InputError(f"{shown} is larger than any table mixfit writes")
        table = pd.read_csv(path)
    except InputError:
        raise
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{shown} is not a table mixfit wrote: {detail[:200]}") from None
    expected = COLUMNS[path.name]
    if list(table.columns[: len(expected)]) != expected:
        raise InputError(
            f"{shown} is not a table mixfit wrote: its columns are not {', '.join(expected)}"
        )
    for column in NUMERIC & set(table.columns):
        if not pd.api.types.is_numeric_dtype(table[column]):
            raise InputError(f"{shown} is not a table mixfit wrote: {column} is not numbers")
    if rows is not None and len(table) != rows:
        raise InputError(f"{shown} is not a table mixfit wrote: {len(table)} rows, not {rows}")
    return table


def read_diagnostics(path: Path) -> dict:
    return read_json(path, "a mixfit diagnostics file", DIAGNOSTICS)


def read_verdict(path: Path) -> dict:
    return read_json(path, "a mixfit classical verdict", VERDICT)

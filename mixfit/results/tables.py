"""Tables as CSV files, for people and pipelines alike: one format for every table mixfit writes."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

import pandas as pd

SIGNIFICANT_DIGITS = 6
ESS_COLUMNS = {"Bulk_ESS", "Tail_ESS"}


def write_table(frame: pd.DataFrame, path: Path | TextIO) -> None:
    """6 significant digits (a posterior summary's Monte Carlo error is far larger; the draws
    themselves are in draws.nc), ESS in whole draws; to a file or an open stream."""
    frame.pipe(_rounded).to_csv(path, index=False, float_format=f"%.{SIGNIFICANT_DIGITS}g")


def table_csv(frame: pd.DataFrame) -> str:
    """The same CSV as text, for files written through a staging step of their own."""
    return frame.pipe(_rounded).to_csv(index=False, float_format=f"%.{SIGNIFICANT_DIGITS}g")


def _rounded(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    for column in ESS_COLUMNS & set(frame.columns):
        # Int64: a missing ESS stays empty; to_numeric: an empty table's columns are objects
        frame[column] = pd.to_numeric(frame[column]).round().astype("Int64")
    return frame

"""Read a finished results folder back, for ``mixfit summary``: no refitting, no Stan."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from mixfit.errors import InputError

REQUIRED = ("summary.txt", "fixef.csv", "varcorr.csv", "diagnostics.json")


def check_folder(outdir: Path) -> None:
    if not outdir.is_dir():
        raise InputError(f"results folder {str(outdir)!r} does not exist")
    missing = [name for name in REQUIRED if not (outdir / name).is_file()]
    if missing:
        raise InputError(
            f"{str(outdir)!r} is not a mixfit results folder (no {', '.join(missing)})"
        )


def summary_text(outdir: Path) -> str:
    check_folder(outdir)
    return (outdir / "summary.txt").read_text()


def summary_json(outdir: Path) -> dict:
    """fixef, varcorr and diagnostics as one object, the numbers exactly as in the files."""
    check_folder(outdir)
    return {
        "fixef": _records(pd.read_csv(outdir / "fixef.csv")),
        "varcorr": _records(pd.read_csv(outdir / "varcorr.csv")),
        "diagnostics": json.loads((outdir / "diagnostics.json").read_text()),
    }


def _records(frame: pd.DataFrame) -> list[dict]:
    return [
        {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]

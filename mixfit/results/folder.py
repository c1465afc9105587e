"""Read a finished results folder back, for ``mixfit summary``: no refitting, no Stan."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from mixfit.errors import InputError
from mixfit.results.diagnostics import json_records

REQUIRED = ("summary.txt", "fixef.csv", "varcorr.csv", "diagnostics.json")


def check_folder(outdir: Path) -> None:
    try:
        _check_folder(outdir)
    except OSError as exc:  # a name too long, say
        raise InputError(f"results folder {str(outdir)!r} can't be read: {exc.strerror}") from None


def _check_folder(outdir: Path) -> None:
    if outdir.exists() and not outdir.is_dir():
        raise InputError(f"{str(outdir)!r} is a file: give the results folder a fit wrote (-o)")
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
    summary = {
        "fixef": json_records(pd.read_csv(outdir / "fixef.csv")),
        "varcorr": json_records(pd.read_csv(outdir / "varcorr.csv")),
        "diagnostics": json.loads((outdir / "diagnostics.json").read_text()),
    }
    if (outdir / "classical" / "verdict.json").is_file():
        summary["classical"] = classical_json(outdir)
    return summary


def classical_json(outdir: Path) -> dict:
    """The classical fit's verdict, and the comparison with the posterior when there is one."""
    verdict = json.loads((outdir / "classical" / "verdict.json").read_text())
    path = outdir / "comparison.csv"
    if not path.is_file():  # the classical fit failed: a verdict and nothing to compare
        return {"verdict": verdict, "comparison": None}
    comparison = pd.read_csv(path)
    text = ["group", "flag"]  # empty in the file: no group (population effects), no flag
    comparison[text] = comparison[text].fillna("")
    return {"verdict": verdict, "comparison": json_records(comparison)}

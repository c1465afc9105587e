"""Read a finished results folder back, for ``mixfit summary``: no refitting, no Stan."""

from __future__ import annotations

from pathlib import Path

from mixfit.errors import InputError
from mixfit.readback.tables import read_diagnostics, read_table, read_verdict
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
    path = outdir / "summary.txt"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise InputError(f"{str(path)!r} can't be read: {reason}") from None
    # a terminal runs escape sequences: a folder someone sent must not drive it
    return "".join(c if c.isprintable() or c in "\n\t" else repr(c)[1:-1] for c in text)


def summary_json(outdir: Path) -> dict:
    """fixef, varcorr and diagnostics as one object, the numbers exactly as in the files."""
    check_folder(outdir)
    summary = {
        "fixef": json_records(read_table(outdir / "fixef.csv")),
        "varcorr": json_records(read_table(outdir / "varcorr.csv")),
        "diagnostics": read_diagnostics(outdir / "diagnostics.json"),
    }
    if (outdir / "smooths.csv").is_file():  # a model with s() or t2() terms
        summary["smooths"] = json_records(read_table(outdir / "smooths.csv"))
    if (outdir / "gps.csv").is_file():  # a model with gp() terms
        summary["gps"] = json_records(read_table(outdir / "gps.csv"))
    if (outdir / "simplexes.csv").is_file():  # a model with mo() terms
        summary["simplexes"] = json_records(read_table(outdir / "simplexes.csv"))
    if (outdir / "classical" / "verdict.json").is_file():
        summary["classical"] = classical_json(outdir)
    return summary


def classical_json(outdir: Path) -> dict:
    """The classical fit's verdict, and the comparison with the posterior when there is one."""
    verdict = read_verdict(outdir / "classical" / "verdict.json")
    path = outdir / "comparison.csv"
    if not path.is_file():  # the classical fit failed: a verdict and nothing to compare
        return {"verdict": verdict, "comparison": None}
    comparison = read_table(path)
    text = ["group", "flag"]  # empty in the file: no group (population effects), no flag
    comparison[text] = comparison[text].fillna("")
    return {"verdict": verdict, "comparison": json_records(comparison)}

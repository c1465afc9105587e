"""Bad input to the commands after the fit (predict, loo, r2, hypothesis, effects), through the
real command line: exit code 2, one line on stderr starting ``mixfit: error:``, nothing written.

Each case runs in a fresh folder holding its inputs; afterwards that folder and the results
folder it reads must hold exactly what they held before.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import xarray as xr

FILES = {
    "new.csv": "Subject,Days\n308,1\n",
    "no_days.csv": "Subject\n308\n",
    "new_level.csv": "Subject,Days\n999,1\n",
    "text_days.csv": "Subject,Days\n308,four\n",
    "header.csv": "Subject,Days\n",
    "ragged.csv": "Subject,Days\n308,1\n309,2,3\n",
}

CASES = {
    # predict
    "predict: no results folder": (["predict", "nowhere", "new.csv"], "does not exist"),
    "predict: not a results folder": (["predict", "empty", "new.csv"], "not a mixfit results"),
    "predict: an older results folder": (["predict", "older", "new.csv"], "has no design.json"),
    "predict: no data file": (["predict", "FIT", "nope.csv"], "'nope.csv' does not exist"),
    "predict: a column missing": (["predict", "FIT", "no_days.csv"], "lacks the column 'Days'"),
    "predict: a new level": (
        ["predict", "FIT", "new_level.csv", "-o", "p.csv"],
        "use --allow-new-levels",
    ),
    "predict: text for a number": (["predict", "FIT", "text_days.csv"], "must be numeric"),
    "predict: no rows": (["predict", "FIT", "header.csv"], "has a header but no rows"),
    "predict: ragged rows": (["predict", "FIT", "ragged.csv"], "line 3 has 3 field(s)"),
    "predict: unknown type": (
        ["predict", "FIT", "new.csv", "--type", "mean"],
        "Invalid value for '--type'",
    ),
    "predict: unknown way to draw new levels": (
        ["predict", "FIT", "new.csv", "--sample-new-levels", "random"],
        "Invalid value for '--sample-new-levels'",
    ),
    "predict: a re_formula other than NA": (
        ["predict", "FIT", "new.csv", "--re-formula", "~ (1 | Subject)"],
        "only NA",
    ),
    "predict: prob outside (0, 1)": (
        ["predict", "FIT", "new.csv", "--prob", "1.5"],
        "Invalid value for '--prob'",
    ),
    "predict: output is a folder": (["predict", "FIT", "new.csv", "-o", "empty"], "is a folder"),
    "predict: output folder missing": (
        ["predict", "FIT", "new.csv", "-o", "no/p.csv"],
        "does not exist",
    ),
    "predict: one file for both outputs": (
        ["predict", "FIT", "new.csv", "-o", "p.nc", "--draws", "p.nc"],
        "name the same file",
    ),
    # loo
    "loo: no results folder": (["loo", "nowhere"], "does not exist"),
    "loo: not a results folder": (["loo", "empty"], "not a mixfit results folder"),
    "loo: no log-likelihood": (["loo", "no_log_lik"], "no pointwise log-likelihood"),
    "loo: fits of different data": (["loo", "FIT", "other_data"], "can't be compared"),
    "loo: no folder at all": (["loo"], "Missing argument"),
    # r2
    "r2: no results folder": (["r2", "nowhere"], "does not exist"),
    "r2: no r2.csv": (["r2", "older"], "has no r2.csv"),
    # hypothesis
    "hypothesis: unknown effect": (
        ["hypothesis", "FIT", "Dayz > 5"],
        "'Dayz' is not a population-level effect",
    ),
    "hypothesis: Python code": (
        ["hypothesis", "FIT", "__import__('os').system('touch X') > 0"],
        "can't read",
    ),
    "hypothesis: no comparison": (["hypothesis", "FIT", "Days"], "must be of the form"),
    "hypothesis: unbalanced": (["hypothesis", "FIT", "(Days > 5"], "unbalanced parentheses"),
    "hypothesis: none given": (["hypothesis", "FIT"], "Missing argument"),
    "hypothesis: alpha outside (0, 0.5)": (
        ["hypothesis", "FIT", "Days > 5", "--alpha", "0.7"],
        "Invalid value for '--alpha'",
    ),
    # effects
    "effects: unknown predictor": (
        ["effects", "FIT", "--effect", "Dayz", "-o", "e.png"],
        "'Dayz' is not a population-level predictor",
    ),
    "effects: by itself": (
        ["effects", "FIT", "--effect", "Days", "--by", "Days", "-o", "e.png"],
        "is the effect itself",
    ),
    "effects: unknown by": (
        ["effects", "FIT", "--effect", "Days", "--by", "Subject", "-o", "e.png"],
        "'Subject' is not a population-level predictor",
    ),
    "effects: unknown format": (
        ["effects", "FIT", "--effect", "Days", "-o", "e.docx"],
        "give a file ending in",
    ),
}


def snapshot(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def folders(sleepstudy_fit, run_mixfit, tmp_path_factory) -> dict[str, Path]:
    """The fitted folder, and folders that are not quite results folders."""
    out, _ = sleepstudy_fit
    root = tmp_path_factory.mktemp("analysis-errors")
    older = root / "older"  # a folder from before design.json and r2.csv
    shutil.copytree(out, older)
    (older / "design.json").unlink()
    (older / "r2.csv").unlink()
    no_log_lik = root / "no_log_lik"
    shutil.copytree(out, no_log_lik)
    (no_log_lik / "draws.nc").unlink()
    with xr.open_dataset(out / "draws.nc", group="posterior", engine="h5netcdf") as posterior:
        posterior.load().to_netcdf(no_log_lik / "draws.nc", group="posterior", engine="h5netcdf")
    other = root / "other_data"
    rows = (Path(__file__).parent.parent / "sample_data" / "sleepstudy.csv").read_text()
    (root / "fewer.csv").write_text("\n".join(rows.splitlines()[:171]) + "\n")
    done = run_mixfit(
        "fit",
        root / "fewer.csv",
        "-f",
        "Reaction ~ Days + (Days | Subject)",
        "-o",
        other,
        "--chains",
        "1",
        "--iter",
        "200",
        "--no-plots",
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    return {"FIT": out, "older": older, "no_log_lik": no_log_lik, "other_data": other}


@pytest.fixture(scope="module")
def catalogue(folders, cache_dir, tmp_path_factory) -> dict:
    before = {name: snapshot(path) for name, path in folders.items()}

    def run(name):
        cwd = tmp_path_factory.mktemp("case")
        for file, text in FILES.items():
            (cwd / file).write_text(text)
        (cwd / "empty").mkdir()
        args = [str(folders[a]) if a in folders else a for a in CASES[name][0]]
        start = snapshot(cwd)
        done = subprocess.run(
            [sys.executable, "-m", "mixfit", *args],
            check=False,
            capture_output=True,
            text=True,
            cwd=cwd,
            env={**os.environ, "MIXFIT_CACHE_DIR": str(cache_dir)},
            timeout=300,
        )
        return name, (done, start == snapshot(cwd))

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = dict(pool.map(run, CASES))
    assert before == {name: snapshot(path) for name, path in folders.items()}
    return results


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_exits_2_with_one_line_and_writes_nothing(catalogue, name):
    done, untouched = catalogue[name]
    lines = done.stderr.splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and lines[0].startswith("mixfit: error:"), done.stderr
    assert CASES[name][1] in lines[0]
    assert "Traceback" not in done.stderr + done.stdout
    assert untouched

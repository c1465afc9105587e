"""K-fold cross-validation: the folds (balanced, or whole levels of a group), the estimates as the
loo package computes them, and mixfit kfold end to end, resumed without refitting."""

from __future__ import annotations

import importlib.util
import json
import re

import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE_DATA, mixfit

from mixfit.errors import InputError
from mixfit.hpc.kfold import assign_folds, estimates

HAS_LOG_LIK = importlib.util.find_spec("mixfit.analysis.predict") is not None
needs_log_lik = pytest.mark.skipif(
    not HAS_LOG_LIK, reason="mixfit.analysis.predict (held-out log-likelihood) is not in this build"
)
FORMULA = "Reaction ~ Days + (Days | Subject)"


def test_random_folds_are_balanced_and_reproducible():
    frame = pd.DataFrame({"y": np.arange(23)})
    folds = assign_folds(frame, 5, None, seed=1)
    assert sorted(np.bincount(folds)[1:]) == [4, 4, 5, 5, 5]
    assert np.array_equal(folds, assign_folds(frame, 5, None, seed=1))
    assert not np.array_equal(folds, assign_folds(frame, 5, None, seed=2))


def test_grouped_folds_keep_each_level_in_one_fold():
    frame = pd.read_csv(SAMPLE_DATA / "sleepstudy.csv")
    folds = assign_folds(frame, 4, "Subject", seed=1)
    per_level = frame.assign(fold=folds).groupby("Subject")["fold"].nunique()
    assert (per_level == 1).all()
    levels_per_fold = frame.assign(fold=folds).groupby("fold")["Subject"].nunique()
    assert sorted(levels_per_fold) == [4, 4, 5, 5]  # 18 subjects in 4 folds
    with pytest.raises(InputError, match="more than the 18 levels of Subject"):
        assign_folds(frame, 19, "Subject", seed=1)
    with pytest.raises(InputError, match="'Nope' is not a column"):
        assign_folds(frame, 4, "Nope", seed=1)


def test_estimates_are_the_loo_package_s():
    elpd_i = np.array([-1.0, -2.0, -4.0, -3.0])
    table = estimates(elpd_i)
    se = np.sqrt(4 * np.var(elpd_i, ddof=1))
    assert table.loc["elpd_kfold"].tolist() == pytest.approx([-10.0, se])
    assert table.loc["kfoldic"].tolist() == pytest.approx([20.0, 2 * se])


@needs_log_lik
def test_kfold_writes_its_estimates_and_a_rerun_refits_nothing(tmp_path):
    args = [
        "kfold",
        SAMPLE_DATA / "sleepstudy.csv",
        "-f",
        FORMULA,
        "--folds",
        "3",
        "--iter",
        "400",
        "--seed",
        "4",
        "--group",
        "Subject",
        "-o",
        "cv",
        "--quiet",
    ]
    done = mixfit(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Based on 3-fold cross-validation, leaving out whole levels of Subject" in done.stdout
    record = json.loads((tmp_path / "cv" / "kfold.json").read_text())
    pointwise = pd.read_csv(tmp_path / "cv" / "kfold_pointwise.csv")
    assert len(pointwise) == 180 and sorted(pointwise["row"]) == list(range(1, 181))
    assert record["estimates"]["elpd_kfold"]["Estimate"] == pytest.approx(
        pointwise["elpd_kfold"].sum()
    )
    fold_fit = tmp_path / "cv.jobs" / "folds" / "fold-2" / "fit"
    stamp = (fold_fit / "draws.nc").stat().st_mtime_ns
    again = mixfit(*args[:-1], cwd=tmp_path)  # not --quiet: it says what it reuses
    assert again.returncode == 0 and again.stdout == done.stdout
    assert (fold_fit / "draws.nc").stat().st_mtime_ns == stamp  # not refitted
    assert "Every fold has its result from an earlier run (" in again.stderr
    # CSV files as every other table: a named first column, 6 significant digits
    estimates = (tmp_path / "cv" / "kfold.csv").read_text().splitlines()
    assert estimates[0] == "quantity,Estimate,SE" and estimates[1].startswith("elpd_kfold,")
    for name in ("kfold.csv", "kfold_pointwise.csv"):
        assert most_digits((tmp_path / "cv" / name).read_text()) <= 6, name

    (tmp_path / "cv.jobs" / "folds" / "fold-3" / "elpd.csv").unlink()
    missing = mixfit("kfold-collect", "cv", cwd=tmp_path)
    assert missing.returncode == 2 and "fold 3 has no held-out elpd" in missing.stderr
    other = mixfit(*[a if a != "4" else "5" for a in args], cwd=tmp_path)
    assert other.returncode == 2 and "holds the folds of another K-fold run" in other.stderr


def most_digits(csv: str) -> int:
    """The most significant digits of any number in a CSV file's text."""
    numbers = re.findall(r"(?<![\w.])-?(\d+\.?\d*)(?:e[-+]?\d+)?(?![\w.])", csv)
    return max(len(n.replace(".", "").lstrip("0").rstrip("0") or "0") for n in numbers)

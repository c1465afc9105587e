"""What an lme4/brms user meets in the first hour (issue 27), end to end on real fits: one chain
checked by split R-hat, brms's sampler options, every stage named after sampling, no line on the
terminal that is not mixfit's, a prior-only run without a Bayesian R2, brms's prior syntax, and
the CSV tables at 6 significant digits.

Runtime: two small fits (one chain of 300 iterations; a prior-only chain of 200), about 10 s on 2
cores, plus the session's sleepstudy fit that other tests share.
"""

from __future__ import annotations

import os
import re

import pandas as pd
import pytest
from conftest import SAMPLE_DATA, read_json

from mixfit.console import AFTER_SAMPLING
from mixfit.results.arviz_api import split_rhat

SLEEP = [SAMPLE_DATA / "sleepstudy.csv", "-f", "Reaction ~ Days + (Days | Subject)"]
# what a line that is not mixfit's looks like: Python's warnings and tracebacks, a library's logs
FOREIGN = re.compile(r"\.py:\d+|Warning:|WARNING|Traceback|^\s+warnings\.warn|^\s*arviz")


@pytest.fixture(scope="module")
def one_chain(run_mixfit, tmp_path_factory):
    out = tmp_path_factory.mktemp("first-hour") / "one-chain"
    done = run_mixfit(
        "fit", *SLEEP, "-o", out, "--chains", "1", "--iter", "300", "--thin", "2",
        "--init", "0", "--cores", "1", "--refresh", "0", "--seed", "3", "--no-plots",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out, done


def test_one_chain_gets_split_rhat(one_chain):
    """R-hat was NaN and "the parameter never moved" for every parameter of a one-chain fit."""
    import xarray as xr

    out, done = one_chain
    diagnostics = read_json(out / "diagnostics.json")
    assert not any("can't be computed" in f["message"] for f in diagnostics["failed_checks"])
    table = pd.read_csv(out / "diagnostics.csv").set_index("parameter")
    summarised = ["b_Intercept", "b_Days", "sd_Subject__Intercept", "sd_Subject__Days", "sigma"]
    assert table.loc[summarised, "Rhat"].notna().all()
    with xr.open_dataset(out / "draws.nc", group="posterior", engine="h5netcdf") as posterior:
        intercept = posterior["b_Intercept"].values
    assert table.loc["b_Intercept", "Rhat"] == pytest.approx(split_rhat(intercept), abs=1e-5)
    assert "Rhat" in done.stdout and " nan " not in done.stdout


def test_brms_sampler_options_reach_the_sampler(one_chain):
    out, done = one_chain
    sampler = read_json(out / "run.json")["sampler"]
    assert (sampler["thin"], sampler["init"], sampler["parallel_chains"]) == (2, 0.0, 1)
    summary = (out / "summary.txt").read_text()
    assert "  Draws: 1 chain, each with iter = 300; warmup = 150; thin = 2;" in summary
    assert "total post-warmup draws = 75" in summary
    import xarray as xr

    with xr.open_dataset(out / "draws.nc", group="posterior", engine="h5netcdf") as posterior:
        assert posterior.sizes["draw"] == 75
    assert "%" not in done.stderr  # --refresh 0: no progress of the sampling


def test_every_stage_after_sampling_is_named(sleepstudy_fit):
    """The README's first command: after its last draw, each stage says what it is doing."""
    _, done = sleepstudy_fit
    lines = done.stderr.splitlines()
    stages = [
        AFTER_SAMPLING,
        "Summarising the draws",
        "Writing the results into",
        "Drawing the plots and report.html",
        "Results written to",
    ]
    found = [next(i for i, line in enumerate(lines) if line.startswith(s)) for s in stages]
    assert found == sorted(found), lines


def test_a_newcomers_first_fit_shows_only_mixfits_lines(sleepstudy_fit, one_chain):
    for _, done in (sleepstudy_fit, one_chain):
        foreign = [line for line in done.stderr.splitlines() if FOREIGN.search(line)]
        assert foreign == []


def test_a_prior_only_run_has_no_bayesian_r2_and_takes_a_brms_prior(run_mixfit, tmp_path):
    out = tmp_path / "prior-only"
    done = run_mixfit(
        "fit", *SLEEP, "-o", out, "--sample-prior", "only", "--chains", "1", "--iter", "200",
        "--prior", "prior(normal(0, 10), class = b)", "--no-plots", "--seed", "1",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = (out / "summary.txt").read_text()
    assert summary.startswith("PRIOR PREDICTIVE CHECK") and "Bayesian R2" not in summary
    priors = pd.read_csv(out / "prior.csv").fillna("")
    row = priors[(priors["class"] == "b") & (priors["coef"] == "")].iloc[0]
    assert (row["prior"], row["source"]) == ("normal(0, 10)", "user")


def test_tables_at_6_significant_digits_and_effects_without_o(one_chain, run_mixfit):
    out, _ = one_chain
    assert most_digits((out / "r2.csv").read_text()) <= 6
    shown = run_mixfit("effects", out, "--effect", "Days")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == "Days,estimate__,se__,lower__,upper__" and len(lines) == 101
    assert most_digits(shown.stdout) <= 6


def test_the_options_a_brms_user_types_are_there(run_mixfit):
    fit = run_mixfit("fit", "--help").stdout
    assert all(option in fit for option in ("--cores", "--thin", "--init", "--refresh"))
    assert "--class" in run_mixfit("hypothesis", "--help").stdout


def most_digits(csv: str) -> int:
    """The most significant digits of any number in a CSV file's text."""
    numbers = re.findall(r"(?<![\w.])-?(\d+\.?\d*)(?:e[-+]?\d+)?(?![\w.])", csv)
    return max(len(n.replace(".", "").lstrip("0").rstrip("0") or "0") for n in numbers)


def test_arvizs_daily_notice_is_not_shown(tmp_path):
    """ArviZ 0.x warns once a day, on import, of its coming 1.x: the day's first fit showed it."""
    import subprocess
    import sys

    from conftest import ROOT

    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}  # a day ArviZ has not warned yet
    done = subprocess.run(
        [sys.executable, "-c", "import mixfit.results.arviz_api"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0 and done.stderr == ""

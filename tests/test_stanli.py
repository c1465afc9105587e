"""The stanli engine: every family, link, group structure and prior distribution mixfit writes loads
with a compiled path; same seed, same draws, however many chains run at once; prior-only runs;
SIGINT and SIGTERM stop its threads and lose nothing; progress lines while it samples."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, SAMPLE_DATA, read_json

from mixfit.engines.stanli import NoCompiledPath, StanliBackend
from mixfit.model.families import FAMILIES
from mixfit.pipeline import for_stanli, prepare
from mixfit.spec import build_spec

SLEEP = [SAMPLE_DATA / "sleepstudy.csv", "-f", "Reaction ~ Days + (Days | Subject)"]
RESPONSES = {  # a response column of the simulated table for each kind of family
    "real": "y_real",
    "positive": "y_pos",
    "unit": "y_unit",
    "binary": "y_bin",
    "count": "y_count",
    "ordinal": "y_ord",
    "binomial": "k | trials(n)",
    "nonnegative": "y_nonneg",
    "unit_zero": "y_unit0",
    "unit_closed": "y_unit01",
}


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> Path:
    rng = np.random.default_rng(5)
    n = 120
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "z": rng.normal(size=n),
            "g": [f"g{i % 6}" for i in range(n)],
            "h": [f"h{i % 4}" for i in range(n)],
            "y_real": rng.normal(size=n),
            "y_pos": rng.gamma(2.0, size=n),
            "y_unit": rng.uniform(0.05, 0.95, size=n),
            "y_bin": rng.integers(0, 2, size=n),
            "y_count": rng.poisson(2.0, size=n),
            "y_ord": rng.integers(1, 5, size=n),
            "k": rng.integers(0, 6, size=n),
            "n": np.full(n, 6),
            "exposure": rng.uniform(1, 3, n),
        }
    )
    # a point mass at 0 (hurdle_gamma, zero_inflated_beta), and at 0 and 1 (zero_one_inflated_beta)
    frame["y_nonneg"] = np.where(np.arange(n) % 5 == 0, 0.0, frame["y_pos"])
    frame["y_unit0"] = np.where(np.arange(n) % 5 == 0, 0.0, frame["y_unit"])
    frame["y_unit01"] = np.where(np.arange(n) % 7 == 1, 1.0, frame["y_unit0"])
    path = tmp_path_factory.mktemp("stanli") / "table.csv"
    frame.to_csv(path, index=False)
    return path


def load(table: Path, formula: str, family: str = "gaussian", **extra) -> None:
    """Prepare the model as a fit on stanli would, and load it; NoCompiledPath if stanli would
    run any part of it through its interpreter."""
    spec = build_spec(
        {}, {"data": table, "formula": formula, "family": family, "sampler": {"seed": 1}, **extra}
    )
    prepared = for_stanli(prepare(spec))
    StanliBackend().compile(prepared.code, prepared.data, 1, lambda *_: None)


@pytest.mark.parametrize(
    "family, link",
    [(name, link) for name, family in FAMILIES.items() for link in family.links],
)
@pytest.mark.parametrize("marginal", [True, False], ids=["default", "no-marginal"])
def test_every_family_and_link_has_a_compiled_path(table, family, link, marginal):
    response = RESPONSES[FAMILIES[family].response]
    load(
        table,
        f"{response} ~ x + (1 + x | g) + (1 | h)",
        f"{family}(link={link})",
        marginal=marginal,
    )


@pytest.mark.parametrize(
    "formula",
    [
        "y_real ~ 1 + (1 | g)",  # intercept only: b is empty
        "y_real ~ 0 + x + (0 + x | g)",  # no intercept anywhere
        "y_real ~ x + (1 + x || g)",  # uncorrelated terms
        "y_real ~ x + (1 | g/h)",  # nested
        "y_real ~ x * z + (x + z | g) + (1 | h)",  # three correlated terms, crossed
        "y_count ~ x + offset(log(exposure)) + (1 | g) + (1 | h)",  # offset, poisson
    ],
)
def test_every_group_structure_has_a_compiled_path(table, formula):
    family = "poisson" if formula.startswith("y_count") else "gaussian"
    load(table, formula, family, marginal=False)
    load(table, formula, family)


def test_every_prior_distribution_has_a_compiled_path(table):
    priors = (
        "normal(0, 5) : b : x",
        "student_t(3, 0, 2) : b : z",
        "cauchy(0, 2) : Intercept",
        "exponential(1) : sd : g",
        "gamma(2, 1) : sd : h",
        "lognormal(0, 1) : shape",
        "inv_gamma(2, 1) : sd : g : x",
        "beta(2, 8) : zi",
        "lkj(2) : cor",
    )
    load(
        table, "y_count ~ x + z + (1 + x | g) + (1 | h)", "zero_inflated_negbinomial", priors=priors
    )
    load(table, "y_count ~ x + (1 | g)", "zero_inflated_poisson", priors=("uniform(0, 1) : zi",))


def test_a_part_without_a_compiled_path_is_named_or_interpreted(table):
    """The PyStan program of an ordinal model calls ordered_logistic_rng, which stanli lacks."""
    spec = build_spec(
        {},
        {
            "data": table,
            "formula": "y_ord ~ x + (1 | g)",
            "family": "cumulative",
            "sampler": {"seed": 1},
        },
    )
    prepared = prepare(spec)
    with pytest.raises(NoCompiledPath, match="ordered_logistic_rng"):
        StanliBackend().compile(prepared.code, prepared.data, 1, lambda *_: None)
    # where stanli's interpreter can run the part, asked for by name it does, and says so
    spec = build_spec(
        {},
        {
            "data": table,
            "formula": "y_count ~ x + (1 | g)",
            "family": "zero_inflated_poisson",
            "sampler": {"seed": 1},
        },
    )
    prepared = prepare(spec)
    with pytest.raises(NoCompiledPath, match="generated quantities"):
        StanliBackend().compile(prepared.code, prepared.data, 1, lambda *_: None)
    backend = StanliBackend(allow_interpreter=True)
    backend.compile(prepared.code, prepared.data, 1, lambda *_: None)
    assert "interpreter" in backend.notes[0] and "generated quantities" in backend.notes[0]


def test_same_seed_same_draws_whatever_the_parallel_chains(run_mixfit, tmp_path):
    posteriors = []
    for name, parallel in (("a", "1"), ("b", "3"), ("c", "3")):
        done = run_mixfit(
            "fit",
            *SLEEP,
            "--no-marginal",
            "-o",
            tmp_path / name,
            "--seed",
            "9",
            "--chains",
            "3",
            "--iter",
            "400",
            "--parallel-chains",
            parallel,
            "--no-plots",
            "--quiet",
        )
        assert done.returncode == 0, done.stderr
        run = read_json(tmp_path / name / "run.json")
        assert run["backend"] == "stanli" and run["sampler"]["parallel_chains"] == int(parallel)
        assert run["backend_reason"].startswith("auto: stanli")
        posteriors.append(az.from_netcdf(tmp_path / name / "draws.nc").posterior)
    for other in posteriors[1:]:
        for var in (
            "b_Days",
            "sd_Subject__Days",
            "sigma",
            "r_Subject",
            "cor_Subject__Intercept__Days",
        ):
            np.testing.assert_array_equal(posteriors[0][var].values, other[var].values)
    assert posteriors[0]["b_Days"].shape[:2] == (3, 200)
    chains = posteriors[0]["sigma"].values
    assert not np.array_equal(chains[0], chains[1])  # each chain its own stream


def test_prior_only_on_stanli_gives_the_prior_predictive(run_mixfit, tmp_path):
    """The ordinal family's y_rep comes from Python on stanli: from the prior, it spreads over
    every category, where the data's fit would follow the data."""
    args = [
        SAMPLE_DATA / "family_cumulative_logit.csv",
        "-f",
        "y ~ x + (1 | g)",
        "--family",
        "cumulative",
        "--levels",
        "none,mild,moderate,severe",
        "--prior",
        "normal(0, 1) : b",
        "--sample-prior",
        "only",
        "--seed",
        "2",
        "--iter",
        "1000",
        "--no-plots",
        "--quiet",
    ]
    done = run_mixfit("fit", *args, "-o", tmp_path / "prior")
    assert done.returncode == 0, done.stderr
    run = read_json(tmp_path / "prior" / "run.json")
    assert run["backend"] == "stanli" and run["sample_prior"] == "only"
    draws = az.from_netcdf(tmp_path / "prior" / "draws.nc")
    x = draws.posterior["b_x"].values.ravel()
    assert abs(np.mean(x)) < 0.1 and abs(np.std(x) - 1) < 0.1  # normal(0, 1), data left out
    y_rep = draws.posterior_predictive["y"].values
    assert set(np.unique(y_rep)) == {1.0, 2.0, 3.0, 4.0}
    assert draws.log_likelihood["y"].shape == y_rep.shape


def start(args: list, cache: Path) -> subprocess.Popen:
    env = {**os.environ, "MIXFIT_CACHE_DIR": str(cache)}
    return subprocess.Popen(
        [sys.executable, "-m", "mixfit", *map(str, args)],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_stanli_and_loses_nothing(cache_dir, tmp_path, signum):
    out = tmp_path / "out"
    out.mkdir()
    (out / "fixef.csv").write_text("earlier results\n")
    marker = {"format": "mixfit results", "version": 1, "files": ["fixef.csv"]}
    (out / ".mixfit-results").write_text(json.dumps(marker))  # an earlier fit's folder
    proc = start(
        [
            "fit",
            *SLEEP,
            "--no-marginal",
            "--chains",
            "2",
            "--iter",
            "1000000",
            "--seed",
            "3",
            "-o",
            out,
            "--no-plots",
        ],
        cache_dir,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    deadline = time.monotonic() + 120
    while not any("Sampling" in line for line in lines):
        assert time.monotonic() < deadline and proc.poll() is None, "".join(lines)
        time.sleep(0.05)
    time.sleep(1)  # the chains under way in their threads
    sent = time.monotonic()
    proc.send_signal(signum)
    proc.wait(timeout=60)
    reader.join(timeout=10)
    stderr = "".join(lines)
    assert time.monotonic() - sent < 15, "the chains should stop within a few seconds"
    assert proc.returncode == 128 + signum, stderr
    assert stderr.splitlines()[-1].startswith("mixfit: interrupted"), stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr
    assert (out / "fixef.csv").read_text() == "earlier results\n"
    assert sorted(p.name for p in out.iterdir()) == [".mixfit-results", "fixef.csv"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_progress_is_plain_lines_with_chains_and_time_left_off_a_terminal(run_mixfit, tmp_path):
    done = run_mixfit(
        "fit",
        *SLEEP,
        "--no-marginal",
        "-o",
        tmp_path / "out",
        "--seed",
        "4",
        "--iter",
        "40000",
        "--warmup",
        "36000",  # most of the run: lines every few seconds fall in warmup however busy the machine
        "--no-plots",
    )
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stderr and "\r" not in done.stderr
    progress = [ln for ln in done.stderr.splitlines() if ln.startswith("Sampling 4 chains: ")]
    assert progress, done.stderr
    assert progress[-1].startswith("Sampling 4 chains: 100% (chain 1: sampling 40000/40000")
    assert any("warmup" in ln and " left" in ln for ln in progress[:-1]), progress

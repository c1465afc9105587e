"""The CmdStan backend on a real CmdStan: the core the other engines' tests cover (gaussian against
brms, a GLMM, intercept-only, ordinal, prior-only, interruption) and issue 18's eight bugs.

Select with ``pytest -m cmdstan``. CmdStan is found as mixfit finds it: ``CMDSTAN``, else
cmdstanpy's default folder; ``.ci/run`` builds one from ``../shared/cmdstan`` and sets CMDSTAN.
Where none is usable, the tests that need one skip and say why.

Runtime: four model structures compiled two at a time, seven short fits, three signal tests of a
few seconds. Measured on 2 cores shared with other sessions (load 10-17): 19 min 46 s, of which
6 min 49 s of CPU with the compilers; on an idle 2-core machine about 4 minutes. Without CmdStan,
two tests run (20 s) and ten skip.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, SAMPLE_DATA, read_json
from scipy import stats

from mixfit.engines import cmdstan
from mixfit.errors import ToolchainError
from mixfit.interrupt import descendants

problem = cmdstan.unavailable()
needs_cmdstan = pytest.mark.skipif(problem is not None, reason=f"CmdStan backend: {problem}")
pytestmark = pytest.mark.cmdstan

CMDSTAN = ["--backend", "cmdstan"]
SLEEP = [SAMPLE_DATA / "sleepstudy.csv", "-f", "Reaction ~ Days + (Days | Subject)"]
DYESTUFF = [SAMPLE_DATA / "Dyestuff.csv", "-f", "Yield ~ 1 + (1 | Batch)"]
CROSSED = [
    SAMPLE_DATA / "bernoulli_crossed.csv",
    "-f",
    "y ~ x + trt + (1 | subject) + (1 | item)",
    "--family",
    "bernoulli",
    "--prior",
    "normal(0, 5) : b",
]  # proper: prior-only runs too
ORDINAL = [
    SAMPLE_DATA / "family_cumulative_logit.csv",
    "-f",
    "y ~ x + (1 | g)",
    "--family",
    "cumulative",
    "--levels",
    "none,mild,moderate,severe",
]
QUIET = ["--no-plots", "--quiet"]

# Every CLI fit of the module; runs sharing a program are kept apart in the order, so that two
# processes don't wait on one compilation.
FITS = {
    "sleepstudy": [*SLEEP, "--seed", "1", "--no-plots"],
    "dyestuff": [*DYESTUFF, "--seed", "1", *QUIET],
    "crossed": [*CROSSED, "--seed", "3", "--iter", "1000", *QUIET],
    "ordinal": [*ORDINAL, "--seed", "7", "--iter", "1000", *QUIET],
    "sleepstudy_again": [*SLEEP, "--seed", "1", *QUIET],
    "no_warmup": [*SLEEP, "--warmup", "0", "--iter", "200", "--seed", "2", *QUIET],
    "prior_only": [*CROSSED, "--sample-prior", "only", "--seed", "5", *QUIET],
}


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory) -> Path:
    """A CmdStan folder of links to the install's contents, which a test can move: a program built
    through it links to the TBB library under its path, as one built in a copy would."""
    import cmdstanpy

    install = Path(cmdstanpy.cmdstan_path())
    mirror = tmp_path_factory.mktemp("cmdstan-mirror") / "cmdstan"
    mirror.mkdir()
    for entry in install.iterdir():
        (mirror / entry.name).symlink_to(entry)
    return mirror


@pytest.fixture(scope="module")
def fits(run_mixfit, tmp_path_factory, mirrored):
    root = tmp_path_factory.mktemp("cmdstan-fits")

    def run(item):
        name, args = item
        env = {"CMDSTAN": str(mirrored)} if name == "dyestuff" else None
        done = run_mixfit("fit", *args, *CMDSTAN, "-o", root / name, timeout=1800, env=env)
        return name, (root / name, done)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(run, FITS.items()))


def _done(fits, name: str) -> tuple[Path, subprocess.CompletedProcess]:
    out, done = fits[name]
    assert done.returncode == 0, done.stderr
    assert read_json(out / "run.json")["backend"] == "cmdstan"
    return out, done


@needs_cmdstan
def test_sleepstudy_matches_brms_and_reuses_its_program(fits):
    from test_fit import check_against_brms

    out, _ = _done(fits, "sleepstudy")
    check_against_brms(out, "sleepstudy.json", "Subject")
    again, _ = _done(fits, "sleepstudy_again")
    assert read_json(again / "run.json")["model_from_cache"] is True
    draws = [az.from_netcdf(folder / "draws.nc").posterior for folder in (out, again)]
    np.testing.assert_array_equal(draws[0]["b_Days"].values, draws[1]["b_Days"].values)


@needs_cmdstan
def test_intercept_only_dyestuff_matches_brms(fits):
    """Issue 18, bug 1: CmdStan writes no column for the empty b; bug 5: --quiet is quiet."""
    from test_fit import check_against_brms

    out, done = _done(fits, "dyestuff")
    assert list(pd.read_csv(out / "fixef.csv")["term"]) == ["Intercept"]
    check_against_brms(out, "dyestuff.json", "Batch")
    posterior = az.from_netcdf(out / "draws.nc").posterior
    assert [v for v in posterior.data_vars if str(v).startswith("b_")] == ["b_Intercept"]
    assert done.stderr == ""


@needs_cmdstan
def test_no_warmup_samples_without_adaptation(fits):
    """Bug 2: cmdstanpy refuses adaptation settings without warmup; Stan's default step size 1
    and unit metric stay as they are (as in PyStan)."""
    out, done = _done(fits, "no_warmup")
    step_size = az.from_netcdf(out / "draws.nc").sample_stats["step_size"].values
    assert step_size.shape == (4, 200)
    assert np.all(step_size == 1.0)
    assert done.stderr == ""


@needs_cmdstan
def test_bernoulli_crossed_covers_the_truth(fits):
    from test_fit import check_covers_truth, truth

    out, done = _done(fits, "crossed")
    check_covers_truth(out, truth("bernoulli_crossed"))
    assert done.stderr == ""


@needs_cmdstan
def test_cumulative_covers_the_truth(fits):
    out, _ = _done(fits, "ordinal")
    true = read_json(SAMPLE_DATA / "families_truth.json")["cumulative_logit"]
    fixef = pd.read_csv(out / "fixef.csv").set_index("term")
    assert list(fixef.index) == list(true["b"])
    for term, value in true["b"].items():
        assert fixef.loc[term, "Q2.5"] <= value <= fixef.loc[term, "Q97.5"], term
    varcorr = pd.read_csv(out / "varcorr.csv").set_index(["group", "param"])
    sd = varcorr.loc[("g", "sd(Intercept)")]
    assert sd["Q2.5"] <= true["sd"]["g"]["Intercept"] <= sd["Q97.5"]
    assert max(fixef["Rhat"].max(), varcorr["Rhat"].max()) <= 1.02


@needs_cmdstan
def test_prior_only_draws_match_the_priors(fits):
    """Bug 5 too: a prior-only run printed hundreds of cmdstanpy "Exception" lines."""
    out, done = _done(fits, "prior_only")
    assert done.stderr == ""
    assert read_json(out / "run.json")["model_from_cache"] is True  # prior_only is data
    posterior = az.from_netcdf(out / "draws.nc").posterior
    t = stats.t(3, 0, 2.5)  # brms's default for a bernoulli model's intercept and SDs
    data = pd.read_csv(CROSSED[0])
    # the prior is on the intercept of the centred predictors: b_Intercept + mean(x) * b_x + ...
    centred = (
        posterior["b_Intercept"].values
        + data["x"].mean() * posterior["b_x"].values
        + (data["trt"] == "treated").mean() * posterior["b_trttreated"].values
    )
    expected = {
        "b_x": (posterior["b_x"].values, stats.norm(0, 5).cdf),
        "Intercept(centred)": (centred, t.cdf),
        "sd_subject": (  # half t
            posterior["sd_subject__Intercept"].values,
            lambda x: 2 * t.cdf(x) - 1,
        ),
    }
    for name, (draws, cdf) in expected.items():
        for p in (0.1, 0.25, 0.5, 0.75, 0.9):
            # the prior's CDF at the draws' p-quantile is p, up to Monte Carlo error
            assert cdf(np.quantile(draws.ravel(), p)) == pytest.approx(p, abs=0.04), (name, p)


@needs_cmdstan
def test_a_moved_cmdstan_fails_with_its_cause_and_rebuilds(fits, mirrored, cache_dir, monkeypatch):
    """Bug 3: the loader's error reaches the message; bug 4: the cache key names the install,
    so a moved CmdStan builds its own program instead of reusing one linked to the old path."""
    from mixfit.engines.cache import CacheEntry
    from mixfit.pipeline import prepare
    from mixfit.spec import build_spec

    _done(fits, "dyestuff")  # built through the mirror, into the session's cache
    spec = build_spec({}, {"data": DYESTUFF[0], "formula": DYESTUFF[2], "sampler": {"seed": 1}})
    prepared = prepare(spec)
    monkeypatch.setenv("MIXFIT_CACHE_DIR", str(cache_dir))
    monkeypatch.setenv("CMDSTAN", str(mirrored))
    backend = cmdstan.CmdStanBackend()
    moved = mirrored.with_name("cmdstan-moved")
    try:
        compiled = backend.compile(prepared.code, prepared.data, 1, lambda *_: None)
        assert compiled.from_cache
        built_for = cmdstan.cache_key(prepared.code)
        mirrored.rename(moved)
        monkeypatch.setenv("CMDSTAN", str(moved))
        assert cmdstan.cache_key(prepared.code) != built_for
        assert CacheEntry(cmdstan.cache_key(prepared.code)).files() is None
        # the program built for the old path, as the cache used to hand it out
        with pytest.raises(ToolchainError) as failure:
            backend.sample(compiled, prepared.data, spec.sampler, lambda *_: None)
    finally:
        backend.close()
        if moved.exists():
            moved.rename(mirrored)
    message = str(failure.value)
    assert "libtbb.so.2: cannot open shared object file" in message, message
    assert "\n" not in message


def test_an_unbuilt_cmdstan_is_not_usable(run_mixfit, tmp_path):
    """Bug 7: cmdstanpy takes any folder with a makefile for an install; compiling needs the
    built stanc and CmdStan's main object file, so the backend is not usable without them."""
    unbuilt = tmp_path / "cmdstan-2.35.0"
    (unbuilt / "bin").mkdir(parents=True)
    (unbuilt / "makefile").write_text("CMDSTAN_VERSION := 2.35.0\n")
    (unbuilt / "bin" / "linux-stanc").write_text("")  # as the release ships, before make build
    done = run_mixfit(
        "fit", *DYESTUFF, *CMDSTAN, "-o", tmp_path / "out", env={"CMDSTAN": str(unbuilt)}
    )
    assert done.returncode == 3, done.stderr
    assert done.stderr == (
        f"mixfit: error: backend cmdstan is not usable here: CmdStan at "
        f"{unbuilt} is not built (run 'make build' in that folder)\n"
    )
    assert not (tmp_path / "out").exists()


def test_the_marker_selects_these_tests():
    """Bug 8: ``pytest -m cmdstan`` selected nothing."""
    listed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-m",
            "cmdstan",
            "-p",
            "no:cacheprovider",
            str(Path(__file__)),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    selected = [line for line in listed.stdout.splitlines() if "::" in line]
    assert any(line.endswith("test_the_marker_selects_these_tests") for line in selected)
    assert len(selected) >= 10, listed.stdout


# ---- signals: nothing started after the signal, nothing left behind ----------------------------


def _chains(pid: int) -> set[int]:
    """The CmdStan programs (the cached executable "model") running below ``pid``."""
    found = set()
    for child in descendants(pid):
        try:
            if Path(f"/proc/{child}/comm").read_text().strip() == "model":
                found.add(child)
        except OSError:
            pass
    return found


@needs_cmdstan
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads processes from /proc")
@pytest.mark.parametrize("stage", ["sampling", "compiling"])
def test_sigint_stops_the_fit_and_starts_nothing_more(fits, cache_dir, tmp_path, stage):
    """Bug 6 as a user sees it: nothing printed after "mixfit: interrupted", nothing left."""
    from test_robustness import Watcher, counts_data, snapshot, start

    if stage == "sampling":  # sleepstudy's program, cached by the module's fits
        _done(fits, "sleepstudy")
        cache, phrase = tmp_path / "cache", "Sampling"
        shutil.copytree(cache_dir, cache)
        args = [*SLEEP, "--chains", "4", "--parallel-chains", "2", "--iter", "500000"]
    else:  # a structure not compiled yet
        cache, phrase = tmp_path / "empty-cache", "Compiling"
        args = [
            counts_data(tmp_path / "counts.csv"),
            "-f",
            "c ~ x + (1 | g)",
            "--family",
            "poisson",
        ]
    out = tmp_path / "out"
    out.mkdir()
    (out / "fixef.csv").write_text("earlier results\n")
    (out / ".mixfit-results").write_text('{"files": ["fixef.csv"]}\n')  # an earlier fit's folder
    before = snapshot(out)
    proc = start(
        ["fit", *map(str, args), *CMDSTAN, "-o", str(out), "--seed", "3", "--no-plots"],
        cache,
        tmp_path,
    )
    watcher = Watcher(proc)
    watcher.wait_for(phrase, timeout=300)
    time.sleep(2)  # chains, or the C++ compiler, under way
    children = descendants(proc.pid)
    assert children, "the fit should have started chains or the compiler"
    running = _chains(proc.pid)
    if stage == "sampling":
        assert len(running) == 2, running
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    stderr = watcher.text()
    assert proc.returncode == 130, stderr
    assert stderr.splitlines()[-1] == "mixfit: interrupted", stderr
    assert "Traceback" not in stderr and "cmdstanpy" not in stderr, stderr
    time.sleep(0.2)
    assert not [pid for pid in children if _alive(pid)]
    assert not list(Path(tempfile.gettempdir()).glob(f"mixfit-cmdstan-{proc.pid}-*"))
    assert snapshot(out) == before
    if stage == "compiling":  # no entry, complete or half-written, was left for this model
        models = cache / "models"
        assert not models.exists() or not any(models.iterdir())


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in {"Z", "X"}


# Sampling 4 chains 2 at a time, interrupted by a real SIGINT once chains 1 and 2 run; the run's
# folder is kept for a second after the interruption, as a slower caller would keep it.
QUEUED = """
import os, signal, sys, tempfile, threading, time
from pathlib import Path
from mixfit import interrupt
from mixfit.engines import cmdstan
from mixfit.pipeline import prepare
from mixfit.spec import build_spec

sampler = {"seed": 1, "chains": 4, "parallel_chains": 2, "iter": 500000}
spec = build_spec({}, {"data": Path(sys.argv[1]), "formula": sys.argv[2], "sampler": sampler})
prepared = prepare(spec)
backend = cmdstan.CmdStanBackend()
compiled = backend.compile(prepared.code, prepared.data, 1, lambda *_: None)
consoles = lambda: list(Path(tempfile.gettempdir()).glob("mixfit-cmdstan-*/*-stdout.txt"))

def interrupt_when_two_chains_sample():
    while sum("Iteration" in console.read_text() for console in consoles()) < 2:
        time.sleep(0.05)
    os.kill(os.getpid(), signal.SIGINT)

interrupt.handle_signals()
threading.Thread(target=interrupt_when_two_chains_sample, daemon=True).start()
try:
    backend.sample(compiled, prepared.data, spec.sampler, lambda *_: None)
except KeyboardInterrupt:
    time.sleep(1)
    print(len(consoles()))
finally:
    interrupt.clean_up()
    backend.close()
"""


@needs_cmdstan
def test_no_queued_chain_starts_after_a_signal(fits, cache_dir, tmp_path):
    """Bug 6: cmdstanpy queues the chains beyond --parallel-chains and started chains 3 and 4
    once a signal had stopped 1 and 2; each chain started leaves its console file."""
    _done(fits, "sleepstudy")  # its program is in the session's cache
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "MIXFIT_CACHE_DIR": str(cache_dir), "TMPDIR": str(tmp_path / "tmp")}
    done = subprocess.run(
        [sys.executable, "-c", QUEUED, str(SLEEP[0]), SLEEP[2]],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2"], "chains started after the signal"

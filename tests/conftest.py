"""Shared fixtures: one compiled-model cache for the whole session, and a way to run the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DATA = ROOT / "sample_data"
REFERENCE = ROOT / "tests" / "reference"  # lme4 and brms results, copied from shared/reference


def pytest_configure(config) -> None:
    """One compiled-model cache for the run: MIXFIT_CACHE_DIR, else a folder the controlling
    process makes and every xdist worker shares (each worker building the same PyStan program
    again would cost minutes)."""
    given = os.environ.get("MIXFIT_CACHE_DIR")
    shared = getattr(config, "workerinput", {}).get("mixfit_cache")
    if given or shared:
        config.mixfit_cache = Path(given or shared)
        config.mixfit_cache_is_ours = False
    else:
        config.mixfit_cache = Path(tempfile.mkdtemp(prefix="mixfit-cache-"))
        config.mixfit_cache_is_ours = True


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """xdist's hook in the controlling process: each worker is told the run's cache."""
    node.workerinput["mixfit_cache"] = str(node.config.mixfit_cache)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config) -> int:
    """``-n auto``: a worker per core, at most four (each fit already runs its chains in parallel,
    and PyStan's builds take a gigabyte or more each)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(4, cores or 1))


def pytest_unconfigure(config) -> None:
    if getattr(config, "mixfit_cache_is_ours", False):
        shutil.rmtree(config.mixfit_cache, ignore_errors=True)


@pytest.fixture(scope="session")
def cache_dir(pytestconfig) -> Path:
    """MIXFIT_CACHE_DIR when set (CI's is empty; a developer's keeps PyStan builds between runs),
    else a fresh folder for the session."""
    return pytestconfig.mixfit_cache


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item) -> None:
    """Tests marked ``pystan`` need PyStan to build and load a model on this machine (httpstan
    4.17's models don't load on Python 3.13): elsewhere they skip, saying why. Checked here, before
    any of the test's fixtures, some of which fit on PyStan; once, as ``auto`` checks it."""
    if item.get_closest_marker("pystan") is None:
        return
    config = item.config
    if not hasattr(config, "mixfit_pystan"):
        from mixfit.engines import usable

        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("MIXFIT_CACHE_DIR", str(config.mixfit_cache))
            config.mixfit_pystan = usable.check("pystan")
    if not config.mixfit_pystan.usable:
        pytest.skip(f"PyStan can't run here: {config.mixfit_pystan.reason}")


@pytest.fixture(scope="session")
def run_mixfit(cache_dir):
    """Run ``python -m mixfit ARGS`` with the session's cache (and ``env``'s variables set);
    returns the CompletedProcess."""

    def run(
        *args: str, timeout: float = 900, env: dict | None = None
    ) -> subprocess.CompletedProcess:
        return mixfit(*args, cwd=ROOT, timeout=timeout, cache=cache_dir, env=env)

    return run


def mixfit(
    *args, cwd: Path, timeout: float = 600, cache: Path | None = None, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run ``python -m mixfit ARGS`` in ``cwd`` with ``cache`` (by default a cache of its own in
    ``cwd``: tests of what a fresh folder sees, such as chain shards, k-fold, threads)."""
    cache = cache or cwd / "cache"
    return subprocess.run(
        [sys.executable, "-m", "mixfit", *map(str, args)],
        check=False,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env={**os.environ, "MIXFIT_CACHE_DIR": str(cache), **(env or {})},
    )


def assert_same_log_density(one, other, points: int = 3, grad_tol: float = 1e-10) -> None:
    """Two stanli models of one posterior: the same log density (to 1e-12) and gradient at
    ``points`` random unconstrained points."""
    import numpy as np

    rng = np.random.default_rng(1)
    for _ in range(points):
        q = rng.normal(scale=0.5, size=one.n_unconstrained)
        (a, grad_a), (b, grad_b) = one.log_prob_grad(q), other.log_prob_grad(q)
        assert b == pytest.approx(a, rel=1e-12)
        np.testing.assert_allclose(grad_b, grad_a, rtol=grad_tol, atol=grad_tol)


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def fit_as_chain_jobs(spec: dict, folder: Path) -> Path:
    """Each chain of ``spec`` run alone (``--chain k``, as a SLURM task runs it), then combined
    into ``folder / "out"``, which is returned."""
    (folder / "spec.yaml").write_text(json.dumps(spec))
    for k in range(1, spec["sampler"]["chains"] + 1):
        done = mixfit("fit", "spec.yaml", "--chain", k, "-o", "out", "--quiet", cwd=folder)
        assert done.returncode == 0, done.stderr
    done = mixfit("combine", "out", "--quiet", cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder / "out"


@pytest.fixture(scope="session")
def sleepstudy_fit(run_mixfit, tmp_path_factory):
    """The sleepstudy fit with default settings, shared by the tests that read its results."""
    out = tmp_path_factory.mktemp("fits") / "sleepstudy"
    done = run_mixfit(
        "fit",
        SAMPLE_DATA / "sleepstudy.csv",
        "-f",
        "Reaction ~ Days + (Days | Subject)",
        "-o",
        out,
        "--seed",
        "1",
    )
    assert done.returncode == 0, done.stderr
    return out, done

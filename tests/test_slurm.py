"""The cluster workflow on a real SLURM cluster (tests/slurm/start-local-slurm.sh starts one):
a fit's chains as an array job and their combination, a cancelled task resubmitted alone, a task
stopped at its time limit, eight tasks sharing an empty model cache, K-fold folds as an array.

Runtime: about 3 minutes (sleepstudy-size fits on stanli; SLURM checks time limits every 30 s).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, SAMPLE_DATA


def cluster_problem() -> str | None:
    if shutil.which("sbatch") is None:
        return "no SLURM here: sbatch not found (tests/slurm/start-local-slurm.sh starts a cluster)"
    try:
        ping = subprocess.run(
            ["scontrol", "ping"], check=False, capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"no SLURM controller answers: {exc}"
    if ping.returncode != 0 or "UP" not in ping.stdout:
        return f"no SLURM controller answers (scontrol ping: {ping.stdout.strip() or ping.stderr})"
    return None


PROBLEM = cluster_problem()
pytestmark = [pytest.mark.slurm, pytest.mark.skipif(PROBLEM is not None, reason=PROBLEM or "")]

SLEEPSTUDY = {
    "data": str(SAMPLE_DATA / "sleepstudy.csv"),
    "formula": "Reaction ~ Days + (Days | Subject)",
    "backend": "stanli",
    "sampler": {"chains": 4, "iter": 600, "seed": 11},
}


def write_spec(folder: Path, **changes) -> Path:
    spec = {**SLEEPSTUDY, **changes}
    path = folder / "spec.yaml"
    path.write_text(json.dumps(spec))  # JSON is YAML
    return path


def mixfit(*args, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mixfit", *map(str, args)],
        check=False,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        # the run's cache where there is one: a CmdStan model then compiles once per test run
        env={"MIXFIT_CACHE_DIR": str(cwd / "cache"), **os.environ},
    )


def submitted(done: subprocess.CompletedProcess) -> tuple[str | None, str]:
    """The array job's and the combine job's ids from mixfit submit's output."""
    assert done.returncode == 0, done.stderr
    array = re.search(r"job array (\d+)", done.stdout)
    combine = re.search(r"combine job (\d+)", done.stdout)
    assert combine, done.stdout
    return (array.group(1) if array else None), combine.group(1)


def squeue() -> str:
    return subprocess.run(
        ["squeue", "--me", "--noheader", "--format=%A %F %i %T"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout


def wait_for(*jobs: str | None, timeout: float = 240) -> None:
    """Until none of the jobs (arrays included) is pending or running."""
    jobs = [j for j in jobs if j]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        queued = set(squeue().split())
        if not queued & set(jobs):
            return
        time.sleep(1)
    pytest.fail(f"jobs {jobs} still queued after {timeout} s:\n{squeue()}")


def states(job: str) -> dict[str, tuple[str, str]]:
    """sacct's state and exit code of each task of a finished job (records lag a few seconds)."""
    for _ in range(30):
        out = subprocess.run(
            ["sacct", "--noheader", "--parsable2", "--format=JobID,State,ExitCode", "-j", job],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        rows = [line.split("|") for line in out.splitlines()]
        # a task cancelled while pending may be listed as 123_[3] until its record is split off
        found = {
            re.sub(r"_\[(\d+)\]$", r"_\1", r[0]): (r[1].split()[0], r[2])
            for r in rows
            if "." not in r[0]
        }
        if found and not any(s in {"PENDING", "RUNNING"} for s, _ in found.values()):
            return found
        time.sleep(1)
    pytest.fail(f"sacct has no finished record of job {job}")


def combine_log(jobs: Path, combine_job: str) -> str:
    return (jobs / "logs" / f"combine.{combine_job}.log").read_text()


def test_array_and_combine_give_the_local_run(tmp_path):
    spec = write_spec(tmp_path)
    local = mixfit("fit", spec, "-o", tmp_path / "local", "--no-plots", cwd=tmp_path)
    assert local.returncode == 0, local.stderr

    array, combine = submitted(
        mixfit(
            "submit",
            spec,
            "-o",
            tmp_path / "cluster",
            "--time",
            "0:10:00",
            "--no-plots",
            cwd=tmp_path,
        )
    )
    wait_for(array, combine)
    assert {task: s for task, (s, _) in states(array).items()} == {
        f"{array}_{k}": "COMPLETED" for k in range(1, 5)
    }
    assert states(combine)[combine] == ("COMPLETED", "0:0")

    ours, theirs = tmp_path / "cluster", tmp_path / "local"
    assert sorted(p.name for p in ours.iterdir()) == sorted(p.name for p in theirs.iterdir())
    for name in ("fixef.csv", "varcorr.csv"):
        a, b = pd.read_csv(ours / name), pd.read_csv(theirs / name)
        assert list(a.columns) == list(b.columns) and len(a) == len(b)
        # stanli cannot be given a chain id: each job's chain has a seed drawn from (seed, chain),
        # so the two runs agree within Monte Carlo error, not draw for draw
        assert (abs(a["Estimate"] - b["Estimate"]) <= 0.3 * b["Est.Error"]).all(), name
    draws = az.from_netcdf(ours / "draws.nc")
    assert draws.posterior.sizes["chain"] == 4 and draws.posterior.sizes["draw"] == 300
    assert json.loads((ours / "run.json").read_text())["seed"] == 11

    # a chain's stream depends only on (seed, chain): chain 2 run here is the cluster's chain 2
    alone = mixfit("fit", spec, "--chain", "2", "-o", tmp_path / "alone", cwd=tmp_path)
    assert alone.returncode == 0, alone.stderr
    with np.load(tmp_path / "alone.jobs" / "shards" / "chain-2.npz") as shard:
        # the shard holds Stan's names, draws.nc brms's
        pairs = {
            "b_Days": shard["posterior:b"][0][..., 0],
            "sd_Subject__Intercept": shard["posterior:sd_1"][0][..., 0],
            "sd_Subject__Days": shard["posterior:sd_1"][0][..., 1],
            "sigma": shard["posterior:sigma"][0],
        }
        for name, values in pairs.items():
            assert np.array_equal(values, draws.posterior[name].values[1]), name


@pytest.mark.cmdstan
def test_array_on_cmdstan_gives_the_local_runs_draws(tmp_path):
    from mixfit.engines import cmdstan

    if cmdstan.unavailable():
        pytest.skip(cmdstan.unavailable())
    spec = write_spec(tmp_path, backend="cmdstan")
    local = mixfit("fit", spec, "-o", tmp_path / "local", "--no-plots", cwd=tmp_path, timeout=900)
    assert local.returncode == 0, local.stderr
    array, combine = submitted(
        mixfit("submit", spec, "-o", tmp_path / "cluster", "--no-plots", cwd=tmp_path)
    )
    wait_for(array, combine, timeout=600)
    ours = az.from_netcdf(tmp_path / "cluster" / "draws.nc").posterior
    theirs = az.from_netcdf(tmp_path / "local" / "draws.nc").posterior
    names = ("b_Intercept", "b_Days", "sd_Subject__Intercept", "sd_Subject__Days", "sigma")
    names += ("cor_Subject__Intercept__Days",)
    for name in names:  # CmdStan's chain ids: the same draws
        assert np.array_equal(ours[name].values, theirs[name].values), name
    # the group-level effects mixfit draws after sampling (integrated-out gaussian model), from the
    # same seed: equal to rounding (numpy may sum in another order for another array layout)
    np.testing.assert_allclose(
        ours["r_Subject"].values, theirs["r_Subject"].values, rtol=0, atol=1e-9
    )


def test_cancelled_task_is_named_and_resubmitted_alone(tmp_path):
    spec = write_spec(tmp_path)
    out = tmp_path / "fit"
    array, combine = submitted(mixfit("submit", spec, "-o", out, "--no-plots", cwd=tmp_path))
    subprocess.run(["scancel", f"{array}_3"], check=True, timeout=30)
    wait_for(array, combine)
    # a task cancelled while it ran is CANCELLED in sacct; one cancelled while pending has no record
    assert states(array).get(f"{array}_3", ("CANCELLED", ""))[0] == "CANCELLED"
    assert states(combine)[combine] == ("FAILED", "2:0")
    log = combine_log(out.parent / "fit.jobs", combine)
    assert "mixfit: error: cannot combine: chain 3 of 4 has no shard" in log
    assert not out.exists()

    again = mixfit("submit", spec, "-o", out, "--no-plots", cwd=tmp_path)
    assert "Submitted chains 3 as job array" in again.stdout, again.stdout
    array2, combine2 = submitted(again)
    wait_for(array2, combine2)
    # only the missing chain ran: one task, and its log is chain 3's (sacct may list a one-task
    # array under the bare job id before its record names the task)
    assert len(states(array2)) == 1
    ran = sorted(p.name for p in (out.parent / "fit.jobs" / "logs").glob(f"chain-*.{array2}.log"))
    assert ran == [f"chain-3.{array2}.log"]
    assert states(combine2)[combine2] == ("COMPLETED", "0:0")
    assert az.from_netcdf(out / "draws.nc").posterior.sizes["chain"] == 4


def test_time_limit_stops_the_chain_cleanly(tmp_path):
    # a chain far longer than its limit: at the limit SLURM sends SIGTERM
    spec = write_spec(
        tmp_path, sampler={"chains": 1, "iter": 50_000_000, "thin": 10_000, "seed": 3}
    )
    out = tmp_path / "long"
    jobs = tmp_path / "long.jobs"
    array, combine = submitted(
        mixfit("submit", spec, "-o", out, "--time", "0:10:00", "--no-plots", cwd=tmp_path)
    )
    log = jobs / "logs" / f"chain-1.{array}.log"
    deadline = time.monotonic() + 120
    while not (log.exists() and "Sampling" in log.read_text()):
        assert time.monotonic() < deadline, "the chain did not start sampling"
        time.sleep(0.5)
    # end its time now: SLURM enforces limits every 30 s (root may shorten a running job's)
    end = (datetime.now() + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S")
    subprocess.run(
        ["scontrol", "update", f"JobId={array}_1", f"EndTime={end}"], check=True, timeout=30
    )
    wait_for(array, combine, timeout=120)
    assert states(array)[f"{array}_1"][0] == "TIMEOUT"
    assert log.read_text().splitlines()[-1] == "mixfit: interrupted (SIGTERM)"
    assert list((jobs / "shards").glob("*")) == []  # no shard, not even a partial one
    assert not out.exists() and not list(tmp_path.glob(".long*"))
    assert "cannot combine: chain 1 of 1 has no shard" in combine_log(jobs, combine)


def test_eight_tasks_on_an_empty_cache_build_once(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    script = ROOT / "tests" / "slurm" / "build_in_cache.py"
    job = subprocess.run(
        [
            "sbatch",
            "--parsable",
            "--array=1-8",
            f"--output={tmp_path}/task-%a.log",
            "--wrap",
            f"exec {sys.executable} {script} {cache} sleepstudy-model",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.strip()
    wait_for(job)
    assert {s for s, _ in states(job).values()} == {"COMPLETED"}
    assert len((cache / "builds.log").read_text().split()) == 1
    loads = [line.split() for line in (cache / "loads.log").read_text().splitlines()]
    assert sorted(task for task, _ in loads) == sorted(str(k) for k in range(1, 9))
    assert len({digest for _, digest in loads}) == 1  # every task read the same, whole model


@pytest.mark.skipif(
    importlib.util.find_spec("mixfit.analysis.predict") is None,
    reason="mixfit.analysis.predict (held-out log-likelihood) is not in this build",
)
def test_kfold_as_an_array_agrees_with_loo(tmp_path):
    spec = write_spec(tmp_path, sampler={"chains": 4, "iter": 600, "seed": 5})
    full = mixfit("fit", spec, "-o", tmp_path / "full", "--no-plots", cwd=tmp_path)
    assert full.returncode == 0, full.stderr
    loo = az.loo(az.from_netcdf(tmp_path / "full" / "draws.nc"))
    elpd_loo = getattr(loo, "elpd_loo", None)  # ArviZ 0.x's name; arviz-stats (1.x) says elpd
    elpd_loo = loo.elpd if elpd_loo is None else elpd_loo

    done = mixfit("kfold", spec, "--folds", "5", "--slurm", "-o", tmp_path / "cv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    array = re.search(r"job array (\d+)", done.stdout).group(1)
    collect = re.search(r"job (\d+) collects", done.stdout).group(1)
    wait_for(array, collect, timeout=300)
    assert {s for s, _ in states(array).values()} == {"COMPLETED"} and len(states(array)) == 5
    assert states(collect)[collect] == ("COMPLETED", "0:0")
    kfold = pd.read_csv(tmp_path / "cv" / "kfold.csv", index_col=0)
    elpd, se = kfold.loc["elpd_kfold", "Estimate"], kfold.loc["elpd_kfold", "SE"]
    assert abs(elpd - elpd_loo) <= 2 * max(se, loo.se), (elpd, se, elpd_loo, loo.se)

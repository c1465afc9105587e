"""mixfit submit without a cluster: the job scripts it would submit (--dry-run), what it refuses
before submitting anything, and the spec the tasks read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import SAMPLE_DATA

from mixfit.hpc.submit import _ranges, spec_yaml
from mixfit.spec import build_spec, load_spec_file

SPEC = {
    "data": str(SAMPLE_DATA / "sleepstudy.csv"),
    "formula": "Reaction ~ Days + (Days | Subject)",
    "backend": "stanli",
    "sampler": {"chains": 4, "iter": 300, "seed": 9},
}


def mixfit(*args, cwd, path=None):
    env = {**os.environ, "MIXFIT_CACHE_DIR": str(cwd / "cache")}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, "-m", "mixfit", *map(str, args)],
        check=False,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env=env,
    )


def test_dry_run_prints_the_array_and_combine_scripts_and_writes_nothing(tmp_path):
    (tmp_path / "spec.yaml").write_text(json.dumps(SPEC))
    done = mixfit(
        "submit",
        "spec.yaml",
        "-o",
        "fit",
        "--dry-run",
        "--partition",
        "short",
        "--time",
        "2:00:00",
        "--mem",
        "4G",
        "--cpus-per-chain",
        "2",
        "--account",
        "lab",
        "--no-plots",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    chains, combine = done.stdout.split("#!/bin/bash")[1:]
    jobs = tmp_path / "fit.jobs"
    for line in (
        "--array=1-4",
        "--partition=short",
        "--time=2:00:00",
        "--mem=4G",
        "--cpus-per-task=2",
        "--account=lab",
        f"--output={jobs}/logs/chain-%a.%A.log",
    ):
        assert f"#SBATCH {line}\n" in chains, line
    assert f"-m mixfit fit {jobs}/spec.yaml --chain array\n" in chains
    assert "#SBATCH --cpus-per-task=1\n" in combine
    assert f"-m mixfit combine {tmp_path}/fit --prob=0.95 --no-plots\n" in combine
    assert not jobs.exists() and not (tmp_path / "fit").exists()


def test_resubmission_runs_only_chains_without_a_shard(tmp_path):
    (tmp_path / "spec.yaml").write_text(json.dumps(SPEC))
    for k in (1, 3):
        assert mixfit("fit", "spec.yaml", "--chain", k, "-o", "fit", cwd=tmp_path).returncode == 0
    done = mixfit("submit", "spec.yaml", "-o", "fit", "--dry-run", cwd=tmp_path)
    assert "#SBATCH --array=2,4\n" in done.stdout
    other = mixfit("submit", "spec.yaml", "-o", "fit", "--seed", "10", "--dry-run", cwd=tmp_path)
    assert other.returncode == 2
    assert "holds chain shards of another run (chains 1, 3" in other.stderr


def test_model_errors_stop_before_anything_is_submitted(tmp_path):
    bad = {**SPEC, "formula": "Reaction ~ Nope + (Days | Subject)"}
    (tmp_path / "spec.yaml").write_text(json.dumps(bad))
    done = mixfit("submit", "spec.yaml", "-o", "fit", cwd=tmp_path)
    assert done.returncode == 2 and "Nope" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "fit.jobs").exists()


def test_without_sbatch_nothing_is_written(tmp_path):
    (tmp_path / "spec.yaml").write_text(json.dumps(SPEC))
    done = mixfit("submit", "spec.yaml", "-o", "fit", cwd=tmp_path, path="/nonexistent")
    assert done.returncode == 3 and "sbatch not found" in done.stderr
    assert not (tmp_path / "fit.jobs").exists()


def test_the_tasks_spec_is_the_run_with_absolute_paths(tmp_path):
    spec = build_spec(
        {},
        {
            **SPEC,
            "data": Path(SPEC["data"]),
            "output": tmp_path / "fit",
            "priors": ("normal(0, 10) : b",),
            "sampler": {**SPEC["sampler"], "threads_per_chain": 2},
        },
    )
    (tmp_path / "sub").mkdir()
    written = tmp_path / "sub" / "spec.yaml"
    written.write_text(spec_yaml(spec))
    assert build_spec(load_spec_file(written), {}) == spec


def test_array_ranges():
    assert _ranges([1, 2, 3, 4]) == "1-4"
    assert _ranges([2, 4]) == "2,4"
    assert _ranges([1, 2, 3, 5, 7, 8]) == "1-3,5,7-8"
    assert _ranges([6]) == "6"

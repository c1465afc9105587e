"""mixfit combine: chain shards -> the results folder one fit leaves; missing or mismatched chains
are named, with exit 2 and OUTDIR untouched."""

from __future__ import annotations

import json
import shutil

import arviz as az
import numpy as np
import pytest
from conftest import SAMPLE_DATA, mixfit

SPEC = {
    "data": str(SAMPLE_DATA / "sleepstudy.csv"),
    "formula": "Reaction ~ Days + (Days | Subject)",
    "backend": "stanli",
    "sampler": {"chains": 3, "iter": 300, "seed": 9},
}


@pytest.fixture(scope="module")
def chains(tmp_path_factory):
    """Three chains of sleepstudy run one by one, and a one-process fit of the same run."""
    work = tmp_path_factory.mktemp("combine")
    (work / "spec.yaml").write_text(json.dumps(SPEC))
    for k in (1, 2, 3):
        done = mixfit("fit", "spec.yaml", "--chain", k, "-o", "out", "--quiet", cwd=work)
        assert done.returncode == 0, done.stderr
    done = mixfit("fit", "spec.yaml", "-o", "local", "--quiet", cwd=work)
    assert done.returncode == 0, done.stderr
    return work


def test_combine_leaves_the_files_of_one_fit_with_every_chains_draws(chains):
    done = mixfit("combine", "out", "--quiet", cwd=chains)
    assert done.returncode == 0, done.stderr
    assert "Population-Level Effects" in done.stdout
    out, local = chains / "out", chains / "local"
    assert sorted(p.name for p in out.rglob("*")) == sorted(p.name for p in local.rglob("*"))
    posterior = az.from_netcdf(out / "draws.nc").posterior
    assert posterior.sizes["chain"] == 3 and posterior.sizes["draw"] == 150
    for k in (1, 2, 3):
        with np.load(chains / "out.jobs" / "shards" / f"chain-{k}.npz") as shard:
            assert np.array_equal(
                shard["posterior:b"][0][..., 0], posterior["b_Days"].values[k - 1]
            )
    run = json.loads((out / "run.json").read_text())
    assert run["seed"] == 9 and run["sampler"]["chains"] == 3
    assert "--chain" in run["command"]


def failing_combine(work, outdir_name="out"):
    outdir = work / outdir_name
    outdir.mkdir(exist_ok=True)
    (outdir / "keep.txt").write_text("earlier results")
    done = mixfit("combine", outdir_name, cwd=work)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in outdir.iterdir()) == ["keep.txt"]  # untouched
    return done.stderr


def copy_shards(chains, work, numbers):
    """The module's shards of the given chains, in a fresh job folder under ``work``."""
    folder = work / "out.jobs" / "shards"
    folder.mkdir(parents=True)
    for k in numbers:
        shutil.copy(chains / "out.jobs" / "shards" / f"chain-{k}.npz", folder)


def test_a_missing_chain_is_named(chains, tmp_path):
    copy_shards(chains, tmp_path, (1, 3))
    error = failing_combine(tmp_path)
    assert "chain 2 of 3 has no shard" in error and "run chain 2 again" in error


def test_chains_of_another_seed_or_data_are_named(chains, tmp_path):
    copy_shards(chains, tmp_path, (1,))
    (tmp_path / "short.csv").write_text(
        "".join((SAMPLE_DATA / "sleepstudy.csv").read_text().splitlines(True)[:100])
    )
    model = ["-f", SPEC["formula"], "--chains", "3", "--iter", "300", "--backend", "stanli"]
    for k, data, seed in (("2", SPEC["data"], "10"), ("3", "short.csv", "9")):
        done = mixfit("fit", data, *model, "--seed", seed, "--chain", k, "-o", "out", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    error = failing_combine(tmp_path)
    assert "chains 2 and 3 are not from chain 1's run" in error
    assert "chain 2: another seed" in error and "chain 3: another data" in error


def test_no_shards_at_all(tmp_path):
    assert "no chain shards" in failing_combine(tmp_path)


def test_data_changed_since_the_chains_ran(tmp_path):
    data = tmp_path / "sleep.csv"
    data.write_text((SAMPLE_DATA / "sleepstudy.csv").read_text())
    spec = {**SPEC, "data": "sleep.csv", "sampler": {"chains": 1, "iter": 200, "seed": 1}}
    (tmp_path / "spec.yaml").write_text(json.dumps(spec))
    assert mixfit("fit", "spec.yaml", "--chain", 1, "-o", "out", cwd=tmp_path).returncode == 0
    data.write_text("".join(data.read_text().splitlines(True)[:120]))
    assert "no longer match" in failing_combine(tmp_path)

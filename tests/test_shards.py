"""Chain shards: one chain sampled alone, written whole beside OUTDIR, the same on every rerun."""

from __future__ import annotations

import os
from dataclasses import replace

import numpy as np
import pytest
from conftest import SAMPLE_DATA

from mixfit.errors import InputError
from mixfit.hpc.shards import (
    read_shard,
    read_shards,
    run_chain,
    shard_path,
    spec_from_record,
    spec_record,
)
from mixfit.spec import SamplerSettings, build_spec


def quiet(*_):
    pass


def sleepstudy(tmp_path, **sampler):
    settings = {"chains": 3, "iter": 300, "seed": 5, **sampler}
    return build_spec(
        {},
        {
            "data": SAMPLE_DATA / "sleepstudy.csv",
            "formula": "Reaction ~ Days + (Days | Subject)",
            "backend": "stanli",
            "output": tmp_path / "out",
            "sampler": settings,
        },
    )


def one_chain(spec, chain):
    return replace(spec, sampler=replace(spec.sampler, chain=chain))


def test_a_chain_alone_is_the_same_on_every_run_and_differs_from_the_others(tmp_path):
    spec = sleepstudy(tmp_path)
    first = read_shard(run_chain(one_chain(spec, 2), quiet, ["test"]))
    again = read_shard(run_chain(one_chain(spec, 2), quiet, ["test"]))
    other = read_shard(run_chain(one_chain(spec, 3), quiet, ["test"]))
    assert first.chain == 2 and first.draws.posterior["b"].shape == (1, 150, 1)
    for name, values in first.draws.posterior.items():
        assert np.array_equal(values, again.draws.posterior[name]), name
    assert not np.array_equal(first.draws.posterior["sigma"], other.draws.posterior["sigma"])
    assert first.identity == other.identity
    assert first.identity["seed"] == 5 and first.identity["chains"] == 3
    assert first.meta["stream_seed"] != other.meta["stream_seed"]
    assert sorted(read_shards(spec.output)) == [2, 3]
    # written whole, then renamed: nothing else is left in the folder
    assert sorted(p.name for p in shard_path(spec.output, 2).parent.iterdir()) == [
        "chain-2.npz",
        "chain-3.npz",
    ]


def test_stream_seeds_are_distinct_per_chain_and_the_runs_own_for_a_whole_run():
    whole = SamplerSettings(chains=8, seed=5)
    assert whole.stream_seed == 5 and whole.run_chains == 8
    seeds = {replace(whole, chain=k).stream_seed for k in range(1, 9)}
    assert len(seeds) == 8 and all(0 <= s < 2**31 for s in seeds)
    assert replace(whole, chain=3).run_chains == 1


def test_a_chain_needs_a_seed_and_a_number_within_the_chains(tmp_path):
    spec = sleepstudy(tmp_path)
    with pytest.raises(InputError, match="--chain needs --seed"):
        run_chain(one_chain(replace(spec, sampler=replace(spec.sampler, seed=None)), 1), quiet, [])
    with pytest.raises(InputError, match="chain must be between 1 and 3"):
        replace(spec.sampler, chain=4).check()
    assert not (tmp_path / "out.jobs").exists()


def test_spec_record_round_trip_keeps_the_run_and_drops_the_chain(tmp_path):
    spec = one_chain(sleepstudy(tmp_path, threads_per_chain=2), 2)
    back = spec_from_record(spec_record(spec))
    assert back == replace(spec, sampler=replace(spec.sampler, chain=None))


@pytest.mark.cmdstan
def test_on_cmdstan_a_chain_alone_is_that_chain_of_the_one_process_run(tmp_path):
    from mixfit.engines import cmdstan
    from mixfit.pipeline import prepare, sample

    if cmdstan.unavailable():
        pytest.skip(cmdstan.unavailable())
    spec = replace(sleepstudy(tmp_path), backend="cmdstan")
    whole = sample(prepare(spec), quiet).draws
    alone = read_shard(run_chain(one_chain(spec, 3), quiet, ["test"])).draws
    for name, values in alone.posterior.items():  # CmdStan's chain id 3: the same stream
        assert np.array_equal(values[0], whole.posterior[name][2]), name
    assert np.array_equal(alone.sample_stats["lp"][0], whole.sample_stats["lp"][2])


def test_a_slurm_jobs_cores_are_its_allocation(monkeypatch):
    settings = SamplerSettings(chains=8)
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "3")
    assert settings.num_parallel == 3
    monkeypatch.delenv("SLURM_CPUS_PER_TASK")
    assert settings.num_parallel == min(8, len(os.sched_getaffinity(0)))

"""Combine chain shards into the run they belong to: the draws of every chain, finished as a
one-process fit finishes them, ready for the results writer.

Every chain 1..chains must have a shard, and all must come from one run (the same program, data,
seed, sampler settings and engine); otherwise nothing is combined and the error names the chains
to run again.
"""

from __future__ import annotations

import numpy as np

from mixfit.engines.protocol import Compiled, Draws
from mixfit.errors import InputError
from mixfit.hpc.shards import (
    Shard,
    differences,
    identity,
    read_shards,
    shards_dir,
    spec_from_record,
    submitted_run,
)
from mixfit.pipeline import FitResult, Sampled, finish, prepare
from mixfit.readback.shard_file import check_alike


def check_complete(outdir, shards: dict[int, Shard]) -> Shard:
    """The shard the others are compared with; raises naming missing or mismatched chains.

    The run is the one submitted last for OUTDIR where there is a record of it, else the run of
    the lowest chain's shard."""
    where = shards_dir(outdir)
    run, against = submitted_run(outdir), "the submitted run"
    if run is None:
        if not shards:
            raise InputError(
                f"no chain shards in {str(where)!r}: run the chains first ('mixfit submit' or "
                "'mixfit fit SPEC --chain K')"
            )
        run, against = shards[min(shards)].identity, f"chain {min(shards)}'s run"
    chains = run["chains"]
    mismatched = {}
    engine = shards[min(shards)].meta["backend_version"] if shards else None
    for chain, shard in sorted(shards.items()):
        differ = differences(run, shard.identity)
        if shard.meta["backend_version"] != engine:
            differ.append("engine")
        if differ or chain > chains:
            mismatched[chain] = differ or ["chain count"]
    missing = [k for k in range(1, chains + 1) if k not in shards]
    problems = []
    if missing:
        problems.append(f"{_chains(missing, 'has', 'have', chains)} no shard in {str(where)!r}")
    if mismatched:
        detail = "; ".join(f"chain {c}: another {', '.join(d)}" for c, d in mismatched.items())
        problems.append(f"{_chains(list(mismatched), 'is', 'are')} not from {against} ({detail})")
    if problems:
        rerun = sorted(set(missing) | set(mismatched))
        remove = " (remove the other run's shards first)" if mismatched else ""
        raise InputError(
            f"cannot combine: {'; '.join(problems)}; run {_chains(rerun)} again{remove}: "
            "'mixfit submit' runs only the chains without a shard"
        )
    return shards[min(shards)]


def combine(outdir) -> tuple[FitResult, list[str]]:
    """The full fit from the shards beside ``outdir``, and the command of the run's chains."""
    shards = read_shards(outdir)
    reference = check_complete(outdir, shards)
    spec = spec_from_record(reference.meta["spec"], f"chain {reference.chain}'s shard")
    prepared = prepare(spec)
    now = identity(prepared)
    changed = differences(reference.identity, now)
    if changed:
        raise InputError(
            f"the chains' {' and '.join(changed)} no longer match what the spec gives now "
            f"({spec.data} changed since the chains ran?): run the chains again"
        )
    check_alike(shards)  # read back from files: the arrays must join
    ordered = [shards[k] for k in sorted(shards)]
    draws = Draws(
        posterior=_stack([s.draws.posterior for s in ordered]),
        sample_stats=_stack([s.draws.sample_stats for s in ordered]),
        sampling_seconds=max(s.draws.sampling_seconds for s in ordered),
        messages=[m for s in ordered for m in s.draws.messages],
    )
    compiled = Compiled(
        handle=None,
        from_cache=all(s.meta["model_from_cache"] for s in ordered),
        seconds=max(s.meta["compile_seconds"] for s in ordered),
    )
    sampled = Sampled(reference.meta["backend"], reference.meta["backend_version"], compiled, draws)
    return finish(prepared, sampled), reference.meta["command"]


def _stack(groups: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Each variable's one-chain arrays, (1, draws, ...), joined along the chain axis."""
    return {name: np.concatenate([g[name] for g in groups], axis=0) for name in groups[0]}


def _chains(numbers: list[int], one: str = "", many: str = "", total: int | None = None) -> str:
    """The chains named with their verb: "chain 2 of 4 has", "chains 2 and 4 have"."""
    of = f" of {total}" if total else ""
    if len(numbers) == 1:
        return f"chain {numbers[0]}{of} {one}".rstrip()
    listed = ", ".join(map(str, numbers[:-1])) + f" and {numbers[-1]}"
    return f"chains {listed}{of} {many}".rstrip()

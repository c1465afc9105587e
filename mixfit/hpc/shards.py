"""Chain shards: one chain of a run sampled on its own (an array task), written beside OUTDIR.

A shard holds the chain's raw draws, as the engine returned them, and what identifies the run
they belong to: hashes of the Stan program and its data, the seed and the sampler settings, the
engine and its version, and the run's spec, from which ``combine`` prepares the model again.
Shards live in the run's job folder, ``OUTDIR.jobs/shards/chain-K.npz``, each written to a
temporary file and renamed into place, so a shard is either whole or absent.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mixfit import interrupt
from mixfit.engines.protocol import Draws, Progress
from mixfit.errors import InputError
from mixfit.pipeline import Prepared, Sampled, prepare, sample
from mixfit.readback import records
from mixfit.readback.shard_file import check_arrays, check_npz
from mixfit.spec import RunSpec, SamplerSettings

FORMAT = 1
SUBMISSION = "submission.json"  # mixfit submit's record of what it submitted last


def jobs_dir(outdir: Path) -> Path:
    """The run's job folder beside OUTDIR: shards, job scripts, logs, the submission record."""
    outdir = Path(outdir).resolve()
    return outdir.parent / f"{outdir.name}.jobs"


def shards_dir(outdir: Path) -> Path:
    return jobs_dir(outdir) / "shards"


def shard_path(outdir: Path, chain: int) -> Path:
    return shards_dir(outdir) / f"chain-{chain}.npz"


def submitted_run(outdir: Path) -> dict | None:
    """The identity of the run last submitted for OUTDIR, if it was submitted."""
    path = jobs_dir(outdir) / SUBMISSION
    return records.submission(path)["identity"] if path.is_file() else None


def identity(prepared: Prepared) -> dict:
    """What chains of one run share: the same program, data, seed and sampler settings."""
    from mixfit.results.writer import standata_json

    s = prepared.spec.sampler
    return {
        "model": _sha256(prepared.code),
        "data": _sha256(standata_json(prepared.data)),
        "seed": s.seed,
        "chains": s.chains,
        "iter": s.iter,
        "warmup": s.num_warmup,
        "thin": s.thin,
        "init": s.init,
        "adapt_delta": s.adapt_delta,
        "max_treedepth": s.max_treedepth,
    }


def spec_record(spec: RunSpec) -> dict:
    """The spec as JSON values, paths absolute, without the chain: the run all shards share."""
    record = dataclasses.asdict(spec)
    record["data"] = str(Path(spec.data).resolve())
    record["output"] = None if spec.output is None else str(Path(spec.output).resolve())
    record["sampler"]["chain"] = None
    for key in ("formula", "factors", "priors", "levels"):  # as JSON keeps them, and reads back
        record[key] = list(record[key])
    record["column_levels"] = {name: list(levels) for name, levels in spec.column_levels}
    return record


def spec_from_record(record: dict, source: str = "the job folder") -> RunSpec:
    values = dict(records.spec_record(record, source))  # read back from a file: checked
    values["data"] = Path(values["data"])
    values["output"] = None if values.get("output") is None else Path(values["output"])
    values["sampler"] = SamplerSettings(**values["sampler"])
    for key in ("factors", "priors", "levels"):
        values[key] = tuple(values.get(key, ()))
    values["column_levels"] = tuple(
        (name, tuple(levels)) for name, levels in values.get("column_levels", {}).items()
    )
    if not isinstance(values["formula"], str):
        values["formula"] = tuple(values["formula"])
    return RunSpec(**values)


@dataclass
class Shard:
    chain: int
    meta: dict
    draws: Draws

    @property
    def identity(self) -> dict:
        return self.meta["identity"]


def run_chain(spec: RunSpec, progress: Progress, command: list[str]) -> Path:
    """Sample chain ``spec.sampler.chain`` alone and write its shard; returns the shard's path."""
    settings = spec.sampler
    if settings.chain is None:
        raise InputError("no chain given: a chain job needs --chain K")
    if settings.seed is None:
        raise InputError(
            "--chain needs --seed (or sampler.seed in the spec): every chain of the run must "
            "share one seed"
        )
    if spec.output is None:
        raise InputError("no output folder given: use -o OUTDIR (or 'output' in the spec)")
    prepared = prepare(spec)
    sampled = sample(prepared, progress)
    return write_shard(spec.output, prepared, sampled, command)


def write_shard(outdir: Path, prepared: Prepared, sampled: Sampled, command: list[str]) -> Path:
    chain = prepared.spec.sampler.chain
    meta = {
        "format": FORMAT,
        "chain": chain,
        "identity": identity(prepared),
        "backend": sampled.backend,
        "backend_version": sampled.backend_version,
        "stream_seed": prepared.spec.sampler.stream_seed,
        "spec": spec_record(prepared.spec),
        "command": list(command),
        "compile_seconds": sampled.compiled.seconds,
        "model_from_cache": sampled.compiled.from_cache,
        "sampling_seconds": sampled.draws.sampling_seconds,
        "messages": sampled.draws.messages,
    }
    arrays = {f"posterior:{k}": v for k, v in sampled.draws.posterior.items()}
    arrays |= {f"sample_stats:{k}": v for k, v in sampled.draws.sample_stats.items()}
    arrays["meta"] = np.array(json.dumps(meta))
    target = shard_path(outdir, chain)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(
        prefix=f".{target.stem}.", suffix=".partial", dir=target.parent
    )
    try:
        with os.fdopen(handle, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())  # whole on disk before its name says it is there
        with interrupt.critical():
            os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return target


def read_shard(path: Path) -> Shard:
    check_npz(path)
    try:
        with np.load(path, allow_pickle=False) as stored:
            meta = records.shard_meta(str(stored["meta"]), path)
            posterior, stats = {}, {}
            for key in stored.files:
                group, _, name = key.partition(":")
                if group == "posterior":
                    posterior[name] = stored[key]
                elif group == "sample_stats":
                    stats[name] = stored[key]
    except InputError:
        raise
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise InputError(f"chain shard {str(path)!r} cannot be read: {exc}") from None
    check_arrays(meta, posterior, stats, path)
    draws = Draws(posterior, stats, meta["sampling_seconds"], list(meta["messages"]))
    return Shard(meta["chain"], meta, draws)


def read_shards(outdir: Path) -> dict[int, Shard]:
    """Every shard beside OUTDIR, by chain number."""
    folder = shards_dir(outdir)
    found = sorted(folder.glob("chain-*.npz")) if folder.is_dir() else []
    shards = [read_shard(path) for path in found]
    return {shard.chain: shard for shard in shards}


def differences(a: dict, b: dict) -> list[str]:
    """The identity fields (model, data, seed, ...) in which two shards differ."""
    return [key for key in a if a.get(key) != b.get(key)]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def write_file(path: Path, text: str) -> None:
    """Written beside its place, then renamed into it: a reader finds the whole file or none."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_text(text)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)

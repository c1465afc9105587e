"""The records of a run's job folder and of the compiled-model cache, as tables of their schema:
a chain shard's metadata and the spec it carries (mixfit/hpc/shards.py), mixfit submit's record
(submit.py), a K-fold plan and each fold's held-out elpd (kfold.py), a cache entry's manifest
(mixfit/engines/cache.py). Each is read as untrusted input: one InputError naming the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mixfit.errors import InputError
from mixfit.model.formula import parse_formula
from mixfit.readback.json_file import checked, parse_json, read_json
from mixfit.readback.paths import plain_name
from mixfit.readback.schema import (
    Boolean,
    Const,
    Either,
    Integer,
    Json,
    ListOf,
    MapOf,
    Number,
    Record,
    Text,
    optional,
)
from mixfit.spec import ALGORITHMS, BACKENDS

INT = 2**31 - 1  # Stan's integers
WHOLE = Integer(low=0)
SETTING = Either((Text(max_len=1_000), MapOf(Json(max_depth=4), max_items=100)))

SAMPLER = Record(
    {
        "chains": Integer(1, INT),
        "iter": Integer(1, INT),
        "warmup": optional(Integer(0, INT)),
        "seed": optional(WHOLE),
        "adapt_delta": Number(),
        "max_treedepth": Integer(1, INT),
        "parallel_chains": optional(Integer(1, INT)),
        "threads_per_chain": Integer(1, INT),
        "chain": optional(Integer(1, INT)),
    },
    optional={  # newer than the first shards: a record without them takes the defaults
        "thin": Integer(1, INT),
        "init": optional(Number(low=0)),
        "refresh": optional(Integer(0, INT)),
    },
)
# mixfit/hpc/shards.py's spec_record: RunSpec's fields, paths absolute
SPEC = Record(
    {
        "data": Text(max_len=10_000, empty=False),
        "formula": Either(  # text last: its parser's message is the one shown
            (
                ListOf(Text(max_len=20_000, parse=parse_formula), min_items=1, max_items=100),
                Text(max_len=20_000, parse=parse_formula),
            )
        ),
        "family": SETTING,
        "factors": ListOf(Text(max_len=10_000), max_items=10_000),
        "priors": ListOf(SETTING, max_items=10_000),
        "sampler": SAMPLER,
        "backend": Text(choices=frozenset(BACKENDS)),
        "output": optional(Text(max_len=10_000)),
        "marginal": Boolean(),
        "levels": ListOf(Text(max_len=10_000), max_items=1_000),
        "sample_prior": Text(choices=frozenset({"no", "only"})),
        "classical": optional(Text(choices=frozenset({"REML", "ML"}))),
        "force": Boolean(),
    },
    optional={
        "algorithm": Text(choices=frozenset(ALGORITHMS)),
        # --levels "dose=low,mid,high" (issue 24; older records lack it)
        "column_levels": MapOf(
            ListOf(Text(max_len=10_000), min_items=2, max_items=1_000_000), max_items=1_000
        ),
    },
)
IDENTITY = Record(
    {
        "model": Text(max_len=100),
        "data": Text(max_len=100),
        "seed": optional(WHOLE),
        "chains": Integer(1, INT),
        "iter": Integer(1, INT),
        "warmup": Integer(0, INT),
        "adapt_delta": Number(),
        "max_treedepth": Integer(1, INT),
    },
    extra=Json(max_depth=4),
)
SHARD_META = Record(
    {
        "format": Const(1),
        "chain": Integer(1, INT),
        "identity": IDENTITY,
        "backend": Text(choices=frozenset(BACKENDS)),
        "backend_version": Text(max_len=1_000),
        "stream_seed": optional(WHOLE),
        "spec": SPEC,
        "command": ListOf(Text(), max_items=10_000),
        "compile_seconds": Number(low=0),
        "model_from_cache": Boolean(),
        "sampling_seconds": Number(low=0),
        "messages": ListOf(Text(), max_items=100_000),
    }
)


def _job_id(text: str) -> None:
    if not (text.isascii() and text.replace("_", "").isalnum()):
        raise InputError(f"{text[:40]!r} is not a SLURM job id")


JOB_ID = Text(max_len=100, parse=_job_id)
SUBMISSION = Record(
    {
        "seed": WHOLE,
        "identity": IDENTITY,
        "array_job": optional(JOB_ID),
        "combine_job": JOB_ID,
        "chains": ListOf(Integer(1, INT)),
    }
)
KFOLD_PLAN = Record(
    {
        "folds": Integer(2, 100_000),
        "group": optional(Text(max_len=10_000)),
        "seed": WHOLE,
        "rows": Integer(1),
        "fold_of_row": ListOf(Integer(1, 100_000)),
        "spec": SPEC,
    }
)
CACHE_MANIFEST = Record(
    {"files": MapOf(Text(max_len=64), key=Text(max_len=255, parse=plain_name), max_items=1_000)},
    extra=Json(max_depth=8),
)


def spec_record(record, source: str) -> dict:
    """A spec record (a shard's, a K-fold plan's) checked; ``source`` names where it is."""
    return checked(record, SPEC, source, "a mixfit run spec")


def shard_meta(text: str, path: Path) -> dict:
    source, what = repr(str(path)), "a mixfit chain shard"
    meta = parse_json(text, source, what)
    if not isinstance(meta, dict) or meta.get("format") != 1:
        raise InputError(f"chain shard {source} was written by another version of mixfit")
    checked(meta, SHARD_META, source, what)
    if path.name != f"chain-{meta['chain']}.npz":
        raise InputError(f"chain shard {str(path)!r} holds chain {meta['chain']}")
    return meta


def submission(path: Path) -> dict:
    return read_json(path, "a mixfit submission record", SUBMISSION)


def kfold_plan(path: Path) -> dict:
    plan = read_json(path, "a mixfit K-fold plan", KFOLD_PLAN)
    folds = plan["fold_of_row"]
    if len(folds) != plan["rows"] or max(folds) > plan["folds"]:
        raise InputError(f"{str(path)!r} is not a mixfit K-fold plan: its folds do not add up")
    return plan


def cache_manifest(path: Path) -> dict:
    return read_json(path, "a mixfit cache manifest", CACHE_MANIFEST, max_bytes=1 << 20)


def fold_elpd(path: Path, fold: int, rows: np.ndarray) -> pd.DataFrame:
    """A fold's elpd.csv: exactly its held-out rows (1-based ``rows``), each a finite elpd."""
    shown = repr(str(path))
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{shown} is not a fold's held-out elpd: {detail[:200]}") from None
    columns = ["row", "fold", "elpd_kfold"]
    if list(table.columns) != columns:
        raise InputError(f"{shown} is not a fold's held-out elpd: columns {', '.join(columns)}")
    elpd = pd.to_numeric(table["elpd_kfold"], errors="coerce").to_numpy(dtype=float)
    if (
        not np.array_equal(table["row"].to_numpy(), rows)
        or not (table["fold"] == fold).all()
        or not np.isfinite(elpd).all()
    ):
        raise InputError(
            f"{shown} is not fold {fold}'s held-out elpd (its rows, fold or values differ from "
            "the plan's): remove it and run the fold again"
        )
    return table

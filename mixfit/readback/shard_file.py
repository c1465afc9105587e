"""A chain shard's file (numpy's .npz, a zip archive) read back: its members stored as numpy
writes them (uncompressed: no archive that inflates past its size) and its arrays one chain of
the draws its metadata describes."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from mixfit.errors import InputError

SLACK = 1 << 20  # numpy's headers and the zip directory


def check_npz(path: Path) -> None:
    shown = repr(str(path))
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        raise InputError(f"chain shard {shown} cannot be read: {str(exc)[:200]}") from None
    if (
        any(m.compress_type != zipfile.ZIP_STORED for m in members)
        or sum(m.file_size for m in members) > path.stat().st_size + SLACK
    ):
        raise InputError(f"chain shard {shown} is not as mixfit writes it (compressed members)")


def check_arrays(meta: dict, posterior: dict, stats: dict, path: Path) -> None:
    """Every array one chain (1 x draws x ...) of numbers, draws as the run's sampling draws."""
    run = meta["identity"]
    draws = run["iter"] - run["warmup"]
    if "lp" not in stats:
        raise InputError(f"chain shard {str(path)!r} has no sample statistics")
    for name, values in {**posterior, **stats}.items():
        if values.dtype.kind not in "biuf" or values.ndim < 2 or values.shape[:2] != (1, draws):
            raise InputError(
                f"chain shard {str(path)!r} is not one chain of {draws} draws ({name[:100]!r} "
                f"has shape {values.shape})"
            )


def check_alike(shards: dict) -> None:
    """The chains' arrays, to be joined along the chain axis: the same names and shapes."""
    first = min(shards)
    reference = shards[first].draws
    for chain, shard in sorted(shards.items()):
        for group in ("posterior", "sample_stats"):
            mine, theirs = getattr(shard.draws, group), getattr(reference, group)
            shapes = {k: np.shape(v) for k, v in mine.items()}
            if shapes != {k: np.shape(v) for k, v in theirs.items()}:
                raise InputError(
                    f"chain {chain}'s shard holds other arrays than chain {first}'s: run it again"
                )

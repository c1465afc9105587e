"""The run's job folder beside OUTDIR (``OUTDIR.jobs``), checked before anything runs: where a
chain's shard, the scripts and the folds go must be folders (or not yet exist), or the run
would fail only once its chain had sampled."""

from __future__ import annotations

from pathlib import Path

from mixfit.errors import InputError

PARTS = ("shards", "logs", "scripts", "folds")


def check_job_folder(outdir: Path) -> None:
    from mixfit.hpc.shards import jobs_dir

    jobs = jobs_dir(outdir)
    for path in (jobs, *(jobs / part for part in PARTS)):
        if path.exists() and not path.is_dir():
            raise InputError(
                f"{str(path)!r} is a file, but mixfit keeps the run's jobs there in a folder: "
                "move it, or use another -o"
            )

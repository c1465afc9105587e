"""SLURM's own client commands (sbatch, squeue, scontrol, sacct), run as processes with a
timeout: the one place mixfit talks to the scheduler. (pyslurm does not build against every
SLURM release; the commands are on every login node.)"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from mixfit.errors import ToolchainError

TIMEOUT = 60  # seconds; a busy controller answers within a few


def available() -> str | None:
    """Why jobs cannot be submitted from here, or None."""
    if shutil.which("sbatch") is None:
        return "sbatch not found: submit from a machine with SLURM's client commands (a login node)"
    return None


def run(*args: str, timeout: float = TIMEOUT) -> str:
    """A SLURM command's standard output; its first error line as a ToolchainError."""
    try:
        done = subprocess.run(
            list(args), capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError:
        raise ToolchainError(
            f"{args[0]} not found: SLURM's client commands are not installed"
        ) from None
    except subprocess.TimeoutExpired:
        raise ToolchainError(f"{args[0]} did not answer within {timeout:g} s") from None
    if done.returncode != 0:
        lines = [ln.strip() for ln in done.stderr.splitlines() if ln.strip()]
        detail = lines[0] if lines else f"exit code {done.returncode}"
        raise ToolchainError(f"{args[0]} failed: {detail}")
    return done.stdout


def submit(script: Path, *options: str) -> str:
    """Submit a batch script; returns the job id."""
    out = run("sbatch", "--parsable", *options, str(script))
    return out.strip().split(";")[0]  # "id" or "id;cluster"


def active(job_ids: list[str]) -> list[str]:
    """Those of ``job_ids`` (arrays included) still pending or running."""
    if not job_ids:
        return []
    # all of this user's jobs: squeue --jobs fails on an id the controller has already forgotten
    queued = set(run("squeue", "--me", "--noheader", "--format=%A %F").split())
    return [job for job in job_ids if job in queued]


def states(job_id: str) -> dict[str, str]:
    """Each task's state of a finished or running job (sacct), e.g. {"123_1": "COMPLETED"}."""
    out = run("sacct", "--noheader", "--parsable2", "--format=JobID,State", "--jobs", job_id)
    result = {}
    for line in out.splitlines():
        task, _, state = line.partition("|")
        if "." not in task:  # not the job's steps (batch, extern)
            result[task] = state.split()[0] if state else ""
    return result

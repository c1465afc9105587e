"""What may go into a line of a batch script: each value mixfit writes into an ``#SBATCH`` line
checked against what SLURM takes there, so that a newline in ``--partition`` or in OUTDIR
can't add a command of its own to the script (the command line itself is quoted by shlex)."""

from __future__ import annotations

import re

from mixfit.errors import InputError

# SLURM's forms: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS; or UNLIMITED
TIME = re.compile(
    r"\d+(:\d{1,2}){0,2}|\d+-\d{1,2}(:\d{1,2}){0,2}|UNLIMITED|INFINITE", re.IGNORECASE
)
MEM = re.compile(r"\d+[KMGT]?B?", re.IGNORECASE)  # 4G, 4000M, 4096 (megabytes)
NAME = re.compile(r"[A-Za-z0-9_.+-]+(,[A-Za-z0-9_.+-]+)*")  # a partition (or a list) or account


def check_resources(
    partition: str | None, time: str | None, mem: str | None, account: str | None
) -> None:
    for flag, value, pattern, example in (
        ("--partition", partition, NAME, "e.g. batch or short,long"),
        ("--time", time, TIME, "e.g. 2:00:00 or 1-12:00:00"),
        ("--mem", mem, MEM, "e.g. 4G or 4000M"),
        ("--account", account, NAME, "e.g. proj123"),
    ):
        if value is not None and not pattern.fullmatch(value):
            raise InputError(f"{flag} {value!r} is not a value SLURM takes ({example})")


def check_path(path: str, what: str) -> None:
    """A path written unquoted into #SBATCH lines: no control characters (newlines above all)."""
    if any(not c.isprintable() for c in path):
        raise InputError(
            f"{what} {path!r} holds a control character (a newline?), which a batch script's "
            "#SBATCH lines can't hold: give another name"
        )

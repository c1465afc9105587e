"""Where a command may write a file the user names (``predict -o``, ``--draws``, ``effects -o``),
by the rules OUTDIR follows (mixfit/results/outdir.py): never onto what the run reads, never
onto a results folder's own files, and never replacing what is not a plain file.

A plain file (or a symbolic link to one: the file it points to) is replaced at once by a file
written beside it. A FIFO or a character device (``/dev/stdout``, ``/dev/null``, a terminal) is
written through, once everything is computed; a folder, a block device or a socket is refused.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mixfit.errors import InputError
from mixfit.results.outdir import owned_entries


@dataclass(frozen=True)
class Output:
    target: Path  # as the user gave it
    destination: Path  # the file written: the target, or the file a link to it points to
    through: bool  # written into the existing FIFO or device, not replaced


def check_output_file(target: Path, inputs: Mapping[str, Path] | None = None) -> Output:
    """How ``target`` is written, or an InputError saying why it can't be; ``inputs`` names the
    files the run reads (``{"new data file": ..., "draws file": ...}``)."""
    shown = f"output {str(target)!r}"
    if not str(target).strip():
        raise InputError("the output file is an empty name (an unset variable?)")
    try:
        return _check(Path(target), shown, inputs or {})
    except OSError as exc:
        reason = "a loop of symbolic links" if exc.errno == errno.ELOOP else exc.strerror
        raise InputError(f"{shown} can't be used: {reason}") from None


def _check(target: Path, shown: str, inputs: Mapping[str, Path]) -> Output:
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and stat.S_ISDIR(mode):
        raise InputError(f"{shown} is a folder, not a file")
    if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):
        raise InputError(f"{shown} is a block device or a socket: mixfit writes files")
    through = mode is not None and not stat.S_ISREG(mode)
    destination = Path(os.path.realpath(target))
    for what, path in inputs.items():
        if _same(destination, Path(path)):
            raise InputError(f"{shown} is the {what} {str(path)!r}: give another file")
    if not through:
        _check_not_results(destination, shown)
        _check_writable(destination, shown)
    return Output(Path(target), destination, through)


def _same(a: Path, b: Path) -> bool:
    try:
        return a == Path(os.path.realpath(b)) or (b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def _check_not_results(destination: Path, shown: str) -> None:
    """Not a file a results folder's marker lists, nor inside one it lists (``plots/``)."""
    below = destination
    for folder in destination.parents:
        owned = owned_entries(folder)
        if owned is not None and below.name in owned:
            raise InputError(
                f"{shown} is {'a' if below == destination else 'in a'} file of the results "
                f"folder {str(folder)!r}, which mixfit writes: give a file elsewhere"
            )
        below = folder


def _check_writable(destination: Path, shown: str) -> None:
    folder = destination.parent
    if not folder.is_dir():
        raise InputError(f"the folder of {shown} does not exist")
    try:
        handle, probe = tempfile.mkstemp(prefix=".mixfit-probe-", dir=folder)
    except OSError as exc:
        raise InputError(f"{shown} can't be written: {str(folder)!r}: {exc.strerror}") from None
    os.close(handle)
    os.unlink(probe)


def deliver(written: Path, output: Output) -> None:
    """Put the finished file ``written`` in place: renamed onto a plain file, copied through
    into a FIFO or device."""
    if not output.through:
        os.chmod(written, 0o666 & ~_umask())  # mkstemp's files are private; outputs are not
        os.replace(written, output.destination)
        return
    with open(written, "rb") as source, open(output.destination, "wb") as sink:
        while chunk := source.read(1 << 20):
            sink.write(chunk)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask

"""Where a fit may write, and how: the checks on OUTDIR, the marker that makes a folder mixfit's,
and the staged swap that puts a new results folder in place all at once.

A results folder holds ``.mixfit-results``, a JSON file listing the top-level entries mixfit
wrote there. mixfit replaces only those: a folder without the marker is the user's, refused
unless ``--force``, and even then every entry mixfit did not write is kept, byte for byte.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from mixfit import __version__, interrupt
from mixfit.errors import TOOLCHAIN, InputError, MixfitError

MARKER = ".mixfit-results"
STAGE_SUFFIX = 24  # the staging folder's name adds a dot, ".partial-" and a random part
# errors of the file system, not of mixfit: the user can act on them (free space, fix permissions)
WRITE_ERRORS = {
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EFBIG,
    errno.EROFS,
    errno.EACCES,
    errno.EPERM,
    errno.EIO,
}


def owned_entries(folder: Path) -> set[str] | None:
    """The names mixfit wrote in ``folder``, from its marker; None if it is not a results folder."""
    try:
        record = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        files = record["files"]
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    return {f for f in files if f and "/" not in f and f not in {".", ".."}}


def is_results_folder(folder: Path) -> bool:
    return folder.is_dir() and owned_entries(folder) is not None


def check_outdir(
    outdir: Path | str, force: bool = False, inputs: Mapping[str, Path] | None = None
) -> None:
    """Refuse an OUTDIR whose replacement would lose the user's files, before anything runs.

    ``inputs`` names the files the run reads (``{"data file": ..., "spec": ...}``): OUTDIR may
    neither be nor hold them.
    ``force`` lets a folder that is not a results folder be written into (its entries are kept).
    """
    if not str(outdir).strip():
        raise InputError(
            "the output folder is an empty name (an unset variable?): give one with -o OUTDIR"
        )
    shown = f"output folder {str(outdir)!r}"
    try:
        _stat_if_there(Path(outdir))  # Python 3.13's resolve() no longer notices a loop
        _check_outdir(Path(outdir), shown, force, inputs or {})
    except (OSError, RuntimeError) as exc:  # a name too long, a loop of symbolic links
        if isinstance(exc, RuntimeError) or exc.errno == errno.ELOOP:
            reason = "a loop of symbolic links"
        else:
            reason = exc.strerror or str(exc)
        raise InputError(f"{shown} can't be used: {reason}") from None


def _stat_if_there(path: Path) -> None:
    try:
        path.stat()
    except (FileNotFoundError, NotADirectoryError):  # a new folder; below a file: checked next
        pass


def _check_outdir(outdir: Path, shown: str, force: bool, inputs: Mapping[str, Path]) -> None:
    advice = "give a new folder, e.g. -o results/NAME"
    target = outdir.resolve()
    if len(os.fsencode(target.name)) + STAGE_SUFFIX > _name_max(target.parent):
        raise InputError(f"{shown} has too long a name for this file system: give a shorter one")
    here = Path.cwd().resolve()
    if target == here:
        raise InputError(f"{shown} is the current folder: {advice}")
    if target in here.parents:
        raise InputError(f"{shown} holds the current folder: {advice}")
    if target == Path.home().resolve():
        raise InputError(f"{shown} is the home folder: {advice}")
    for what, path in inputs.items():
        source = Path(path).resolve()
        if target == source:
            raise InputError(f"{shown} is the {what}: {advice}")
        if target in source.parents:
            raise InputError(f"{shown} holds the {what} {str(path)!r}: {advice}")
    if target.exists() and not target.is_dir():
        raise InputError(f"{shown} is an existing file, not a folder: {advice}")
    if target.is_dir() and os.path.ismount(target):  # the results are swapped in by renaming it
        raise InputError(f"{shown} is a mount point, which can't be replaced: give a folder in it")
    if target.is_dir() and not force:
        _check_is_ours(target, shown)
    _check_writable(target)


def _name_max(folder: Path) -> int:
    while not folder.exists():
        folder = folder.parent
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def _check_is_ours(target: Path, shown: str) -> None:
    if is_results_folder(target):
        return
    try:
        entries = sorted(target.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        raise InputError(f"{shown} can't be read: {exc.strerror}") from None
    if not entries:
        return  # an empty folder holds nothing to lose
    names = [p.name + ("/" if p.is_dir() else "") for p in entries]
    held = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    raise InputError(
        f"{shown} exists and is not a mixfit results folder (it holds {held}): give a new "
        "folder, or add --force to write mixfit's files into it (its other files are kept)"
    )


def _check_writable(target: Path) -> None:
    """The folder that will hold OUTDIR (or its nearest existing ancestor) takes a new folder."""
    parent = target.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(
            f"can't create the output folder {str(target)!r}: {str(parent)!r} is a file"
        )
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".mixfit-probe-", dir=parent))
    except OSError as exc:
        raise InputError(
            f"can't write the output folder {str(target)!r}: {str(parent)!r}: {exc.strerror}"
        ) from None


@contextmanager
def staged(outdir: Path, force: bool = False) -> Iterator[Path]:
    """A fresh folder beside ``outdir``, swapped into its place only if the block succeeds.

    Whatever the old folder held that mixfit did not write (all of it, for a folder given with
    ``force``) is moved into the new one, so only mixfit's own files are ever replaced. The new
    folder gets the marker and the permissions the umask gives.
    """
    check_outdir(outdir, force)
    target = Path(outdir).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        try:
            yield stage
            _write_marker(stage)
        except OSError as exc:
            if exc.errno in WRITE_ERRORS:
                raise _write_failed(target, exc) from None
            raise
        except RuntimeError as exc:  # h5py reports a failed write as RuntimeError with its errno
            if "errno = 28" in str(exc) or "No space left" in str(exc):
                raise _write_failed(
                    target, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                ) from None
            raise
        os.chmod(stage, 0o777 & ~_umask())
        check_outdir(target, force)  # the folder may have changed while the fit ran
        with interrupt.critical():  # a signal waits until the old folder or the new one is in place
            _swap(stage, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def reserve(path: Path, nbytes: int) -> None:
    """Claim the space a file will take before a library writes it, so a full disk is one clear
    error here rather than a failure deep inside that library (HDF5 may even crash)."""
    with open(path, "wb") as fh:
        try:
            os.posix_fallocate(fh.fileno(), 0, max(nbytes, 1))
        except OSError as exc:
            if exc.errno not in {errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}:
                raise
    path.unlink()


def _write_marker(stage: Path) -> None:
    files = sorted(p.name for p in stage.iterdir())
    record = {
        "format": "mixfit results",
        "version": 1,
        "mixfit_version": __version__,
        "files": files,
    }
    (stage / MARKER).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


def _swap(stage: Path, target: Path) -> None:
    if not target.exists():
        os.replace(stage, target)
        return
    owned = owned_entries(target) or set()
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    previous = aside / "previous"
    os.replace(target, previous)
    os.replace(stage, target)
    new = {p.name for p in target.iterdir()}
    try:
        for entry in sorted(previous.iterdir(), key=lambda p: p.name):
            if entry.name in owned or entry.name in new:
                continue  # mixfit's own file, or replaced by this run's
            os.replace(entry, target / entry.name)  # the marker, written before, omits it
    except OSError as exc:
        raise MixfitError(
            f"the new results are in {str(target)!r}, but moving your other files back from "
            f"{str(previous)!r} failed ({exc.strerror}): they are still there",
            TOOLCHAIN,
        ) from None
    shutil.rmtree(aside, ignore_errors=True)


def _write_failed(target: Path, exc: OSError) -> MixfitError:
    earlier = " (the earlier results there are unchanged)" if target.exists() else ""
    return MixfitError(
        f"could not write the results to {str(target)!r}: {exc.strerror or exc}{earlier}",
        TOOLCHAIN,
    )


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask

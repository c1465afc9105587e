"""SIGINT and SIGTERM as a clean shutdown: stop what the run started, unwind, exit 130 or 143.

The CLI installs the handlers once (``handle_signals``). The first signal stops every process this
one started (httpstan's chain workers, the C++ compiler and its children) and raises
KeyboardInterrupt in the main thread, so ``finally`` blocks remove temporary folders on the way
out. Later signals are only noted, so that clean-up is not cut short. PyStan catches
KeyboardInterrupt itself and returns None; the backend turns that back into KeyboardInterrupt, and
``exit_code`` says which signal came.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_owner: int | None = None  # the process that installed the handlers
_received: int | None = None
_raised = False
_critical = 0  # depth of blocks during which the KeyboardInterrupt waits
_temporary: set[Path] = set()  # folders to remove if the run is interrupted


def handle_signals() -> None:
    global _owner
    _owner = os.getpid()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _on_signal)


def received() -> int | None:
    """The first signal received, or None."""
    return _received


def exit_code() -> int:
    """128 + the signal's number, as shells report it: 130 for SIGINT, 143 for SIGTERM."""
    return 128 + (_received or signal.SIGINT)


def describe() -> str:
    return "interrupted" + (" (SIGTERM)" if _received == signal.SIGTERM else "")


def _on_signal(signum: int, frame) -> None:
    global _received, _raised
    if os.getpid() != _owner:  # a forked child that kept the handler: just go
        os._exit(128 + signum)
    if _received is not None:
        return
    _received = signum
    stop_children()
    if not _critical:
        _raised = True
        raise KeyboardInterrupt


@contextmanager
def critical() -> Iterator[None]:
    """Let a short block (swapping a folder into place) finish before a signal interrupts it."""
    global _critical, _raised
    _critical += 1
    try:
        yield
    finally:
        _critical -= 1
    if not _critical and _received is not None and not _raised:
        _raised = True
        raise KeyboardInterrupt


@contextmanager
def sigterm_as_sigint() -> Iterator[None]:
    """For a native call that stops only on SIGINT (stanli's sampler): SIGTERM raised as SIGINT.

    Python runs a signal's handler on the main thread between bytecodes, which during such a call
    happens only inside the callbacks the call makes, where an exception is swallowed. stanli
    answers SIGINT there with a flag its sampler polls, so SIGTERM is noted (for exit code 143) and
    handed to it as SIGINT; stanli then raises KeyboardInterrupt once its threads have stopped.
    Outside the native call (its own SIGINT handler not installed) the usual handler raises.
    """

    def forward(signum: int, frame) -> None:
        global _received
        if signal.getsignal(signal.SIGINT) is _on_signal:  # stanli's watch is not in place
            _on_signal(signum, frame)
            return
        if _received is None:
            _received = signum
        signal.raise_signal(signal.SIGINT)

    if os.getpid() != _owner:  # handlers not installed (mixfit used as a library): leave them be
        yield
        return
    previous = signal.signal(signal.SIGTERM, forward)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def register_temporary(path: Path) -> None:
    _temporary.add(Path(path))


def unregister_temporary(path: Path) -> None:
    _temporary.discard(Path(path))


def clean_up() -> None:
    """After an interruption: stop stragglers and remove temporary folders still registered."""
    stop_children()
    logging.getLogger("asyncio").disabled = True  # not "Future exception was never retrieved"
    for path in list(_temporary):
        shutil.rmtree(path, ignore_errors=True)
        _temporary.discard(path)


def init_worker() -> None:
    """For worker processes forked from mixfit: the parent stops them, Ctrl-C is the parent's."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def stop_children(grace: float = 2.0) -> None:
    """SIGTERM every descendant of this process, then SIGKILL those still running after ``grace``."""
    pids = descendants(os.getpid())
    for pid in pids:
        _kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while pids and time.monotonic() < deadline:
        pids = [pid for pid in pids if _running(pid)]
        if pids:
            time.sleep(0.02)
    for pid in pids:
        _kill(pid, signal.SIGKILL)


def descendants(root: int) -> list[int]:
    """The processes below ``root``, parents before children (read from /proc where there is one)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return [p.pid for p in multiprocessing.active_children() if p.pid]
    children: dict[int, list[int]] = {}
    for entry in proc.iterdir():
        if entry.name.isdigit():
            parent = _parent(int(entry.name))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry.name))
    found, queue = [], [root]
    while queue:
        for child in children.get(queue.pop(0), []):
            found.append(child)
            queue.append(child)
    return found


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # after "pid (name) ": state, ppid, ...


def _parent(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[1]) if fields else None


def _running(pid: int) -> bool:
    if Path("/proc").is_dir():
        fields = _stat(pid)
        return fields is not None and fields[0] not in {"Z", "X"}
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _kill(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except OSError:
        pass

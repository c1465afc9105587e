"""Work run in a forked child process while this one does other work.

Drawing the plots and writing draws.nc are CPU-bound Python (matplotlib, xarray's netCDF
encoding), which threads would run one at a time; a forked child shares everything already
computed and imported, so on a second core it does its part at no start-up cost. The child writes
its files and leaves with ``os._exit``: nothing of this process (its buffers, its exit handlers)
runs twice.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from mixfit.spec import available_cores


class Child:
    def __init__(self, pid: int) -> None:
        self.pid = pid

    def succeeded(self, timeout: float) -> bool:
        """Wait for the child, at most ``timeout`` seconds; whether its work ran to the end. A
        child still at work then is stopped and counts as failed (the caller does the work): a
        lock some other thread held at the fork would leave it waiting for ever."""
        deadline = time.monotonic() + timeout
        while True:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status) == 0
            if time.monotonic() > deadline:
                self.stop()
                return False
            time.sleep(0.01)

    def stop(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)


def start(work: Callable[[], None]) -> Child | None:
    """``work`` in a forked child; None where there is no second core, or not Linux (the caller
    then does the work itself): macOS's system libraries are not safe to use in a forked child
    of a process that has used them, and Windows has no fork."""
    if available_cores() < 2 or not sys.platform.startswith("linux"):
        return None
    with warnings.catch_warnings():
        # Python 3.12 warns of fork in a process with threads (the progress display's, the
        # engine's): the child only draws with matplotlib or writes with h5py, whose locks no
        # other thread holds once the chains are done
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid:
        return Child(pid)
    try:
        work()
    # whatever stops the work, the child never returns into the parent's code: the parent sees
    # the failure, does the work itself, and reports it
    except BaseException:  # noqa: BLE001
        os._exit(1)
    os._exit(0)


@contextmanager
def meanwhile(work: Callable[[], None], patience: float) -> Iterator[None]:
    """``work`` in a forked child while the block runs, done by the end of the block: the child is
    waited for, at least ``patience`` seconds and twenty times the block's (the two do about as
    much work: far longer means it is stuck), and where there was none or it failed, the work is
    done here, so that its own error, if any, is raised here. A block that fails stops the child:
    what it writes is discarded with the rest."""
    child = start(work)
    began = time.monotonic()
    try:
        yield
    except BaseException:
        if child is not None:
            child.stop()
        raise
    waited = max(patience, 20 * (time.monotonic() - began))
    if child is None or not child.succeeded(waited):
        work()

"""Work run in a forked child process while this one does other work.

Drawing the plots is CPU-bound Python (matplotlib), which threads would run one at a time; a
forked child shares everything already computed and imported, so on a second core it draws half
of the figures at no start-up cost. The child writes its files and leaves with ``os._exit``:
nothing of this process (its buffers, its exit handlers) runs twice.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import warnings
from collections.abc import Callable

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
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                return False
            time.sleep(0.01)


def start(work: Callable[[], None]) -> Child | None:
    """``work`` in a forked child; None where there is no second core, or not Linux (the caller
    then does the work itself): macOS's system libraries are not safe to use in a forked child
    of a process that has used them, and Windows has no fork."""
    if available_cores() < 2 or not sys.platform.startswith("linux"):
        return None
    with warnings.catch_warnings():
        # Python 3.12 warns of fork in a process with threads (the progress display's, the
        # engine's): the child only draws with numpy and matplotlib, and takes no lock they hold
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

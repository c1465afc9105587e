"""Work in a forked child: its files are there when it has succeeded, and a failure or a child
stuck past its time is seen."""

from __future__ import annotations

import os
import sys
import time

import pytest

from mixfit.results import forked

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forks on Linux only")


def test_the_childs_file_is_written_and_it_succeeds(tmp_path, monkeypatch):
    monkeypatch.setattr(forked, "available_cores", lambda: 2)
    child = forked.start(lambda: (tmp_path / "drawn.txt").write_text(str(os.getpid())))
    assert child is not None and child.succeeded(timeout=30)
    assert int((tmp_path / "drawn.txt").read_text()) != os.getpid()


def test_a_failing_child_is_reported(monkeypatch):
    monkeypatch.setattr(forked, "available_cores", lambda: 2)
    child = forked.start(lambda: 1 / 0)
    assert child is not None and not child.succeeded(timeout=30)


def test_one_core_forks_nothing(monkeypatch):
    monkeypatch.setattr(forked, "available_cores", lambda: 1)
    assert forked.start(lambda: None) is None


def test_a_stuck_child_is_stopped_at_the_timeout_and_counts_as_failed(monkeypatch):
    monkeypatch.setattr(forked, "available_cores", lambda: 2)
    child = forked.start(lambda: time.sleep(600))
    start = time.monotonic()
    assert child is not None and not child.succeeded(timeout=0.5)
    assert time.monotonic() - start < 10
    with pytest.raises(ChildProcessError):  # reaped: nothing is left running
        os.waitpid(child.pid, os.WNOHANG)

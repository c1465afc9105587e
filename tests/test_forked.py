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


def test_meanwhile_the_work_is_done_in_the_child_while_the_block_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(forked, "available_cores", lambda: 2)
    with forked.meanwhile(lambda: (tmp_path / "w.txt").write_text(str(os.getpid())), 30):
        here = os.getpid()
    assert int((tmp_path / "w.txt").read_text()) != here


def test_meanwhile_a_failed_child_is_redone_here_and_its_error_raised_here(tmp_path, monkeypatch):
    monkeypatch.setattr(forked, "available_cores", lambda: 2)
    calls = tmp_path / "calls"

    def work():
        with open(calls, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"), forked.meanwhile(work, 30):
        pass
    pids = calls.read_text().split()
    assert len(pids) == 2 and pids[1] == str(os.getpid()) != pids[0]


def test_meanwhile_a_failing_block_stops_the_child(tmp_path, monkeypatch):
    monkeypatch.setattr(forked, "available_cores", lambda: 2)
    started = time.monotonic()
    with pytest.raises(RuntimeError), forked.meanwhile(lambda: time.sleep(600), 600):
        raise RuntimeError("the block failed")
    assert time.monotonic() - started < 10  # not waited for

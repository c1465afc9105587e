"""Work in a forked child: its files are there when it has succeeded, and a failure is seen."""

from __future__ import annotations

import os
import sys

import pytest

from mixfit.results import forked

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forks on Linux only")


def test_the_childs_file_is_written_and_it_succeeds(tmp_path, monkeypatch):
    monkeypatch.setattr(forked, "available_cores", lambda: 2)
    child = forked.start(lambda: (tmp_path / "drawn.txt").write_text(str(os.getpid())))
    assert child is not None and child.succeeded()
    assert int((tmp_path / "drawn.txt").read_text()) != os.getpid()


def test_a_failing_child_is_reported(monkeypatch):
    monkeypatch.setattr(forked, "available_cores", lambda: 2)
    child = forked.start(lambda: 1 / 0)
    assert child is not None and not child.succeeded()


def test_one_core_forks_nothing(monkeypatch):
    monkeypatch.setattr(forked, "available_cores", lambda: 1)
    assert forked.start(lambda: None) is None

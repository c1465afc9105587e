"""The compiled-model cache's lock: eight processes on an empty cache build a model once; a
holder killed mid-build neither blocks the others nor leaves a half-written entry."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import ROOT

from mixfit.engines.cache import CacheEntry

TASK = ROOT / "tests" / "slurm" / "build_in_cache.py"  # also an array task of test_slurm.py


def start(cache: Path, key: str, task: int, build_seconds: float = 2) -> subprocess.Popen:
    env = {**os.environ, "SLURM_ARRAY_TASK_ID": str(task), "BUILD_SECONDS": str(build_seconds)}
    return subprocess.Popen([sys.executable, str(TASK), str(cache), key], env=env)


def test_eight_processes_build_once_and_read_one_whole_model(tmp_path):
    procs = [start(tmp_path, "m", k) for k in range(1, 9)]
    assert [p.wait(timeout=120) for p in procs] == [0] * 8
    assert len((tmp_path / "builds.log").read_text().split()) == 1
    digests = {line.split()[1] for line in (tmp_path / "loads.log").read_text().splitlines()}
    assert len(digests) == 1 and len((tmp_path / "loads.log").read_text().splitlines()) == 8


def test_a_killed_builder_is_taken_over_at_once(tmp_path):
    killed = start(tmp_path, "m", 1, build_seconds=60)
    deadline = time.monotonic() + 60
    while not (tmp_path / "builds.log").exists():  # it holds the lock and is building
        assert time.monotonic() < deadline
        time.sleep(0.1)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    started = time.monotonic()
    assert start(tmp_path, "m", 2).wait(timeout=120) == 0
    # the dead holder's lease is broken at once on its own machine, not after LEASE_SECONDS
    assert time.monotonic() - started < 20
    assert (tmp_path / "builds.log").read_text().split() == ["1", "2"]
    assert CacheEntry("m", tmp_path).files() is not None


def test_a_complete_entry_is_kept_when_another_builder_stores_the_same_model(tmp_path):
    entry = CacheEntry("m", tmp_path)
    first, second = tmp_path / "a" / "model.so", tmp_path / "b" / "model.so"
    for path, content in ((first, b"first"), (second, b"second")):
        path.parent.mkdir()
        path.write_bytes(content)
    stored = entry.store([first], {})
    entry.store([second], {})
    assert stored[0].read_bytes() == b"first"
    assert hashlib.sha256(b"first").hexdigest() in (entry.path / "manifest.json").read_text()

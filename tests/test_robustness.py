"""Nothing lost: real signals sent to real fits, a corrupt cache entry, eight fits on one cache.

Runtime: about 3 minutes on 2 cores, most of it two PyStan builds of one small model (the eight
processes' shared build, from a working folder that must stay as it was, and the rebuild after
corrupting it); the signal tests take ~5 s each.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from mixfit.interrupt import descendants

pytestmark = [
    pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads processes from /proc"),
    pytest.mark.pystan,  # the compiled-model cache and the compiler's interruption are PyStan's
]

FORMULA = "y ~ x + (1 | g)"
QUICK = ["--chains", "1", "--iter", "300", "--seed", "7", "--no-plots", "--backend", "pystan"]


def tiny_data(path: Path) -> Path:
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(6), 10)
    x = rng.normal(size=60)
    y = 1 + 2 * x + 0.5 * rng.normal(size=6)[g] + 0.3 * rng.normal(size=60)
    rows = "".join(f"{a:.4f},{b:.4f},g{c}\n" for a, b, c in zip(y, x, g))
    path.write_text("y,x,g\n" + rows)
    return path


def counts_data(path: Path) -> Path:
    rng = np.random.default_rng(2)
    rows = "".join(f"{rng.poisson(3)},{rng.normal():.3f},g{i % 5}\n" for i in range(40))
    path.write_text("c,x,g\n" + rows)
    return path


def start(args: list[str], cache: Path, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "MIXFIT_CACHE_DIR": str(cache)}
    return subprocess.Popen(
        [sys.executable, "-m", "mixfit", *args],
        cwd=cwd,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def private_folders(pid: int) -> list[Path]:
    return list(Path(tempfile.gettempdir()).glob(f"mixfit-httpstan-{pid}-*"))


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("robust")
    tiny_data(folder / "tiny.csv")
    counts_data(folder / "counts.csv")
    return folder


@pytest.fixture(scope="module")
def eight_fits(work):
    """Eight fits of one model started together on an empty cache in the working folder; the
    cache they leave, their processes and the working folder's files after them."""
    (work / "notes.txt").write_text("the user's own file\n")
    before = tree(work)
    cache = work / "cache8"
    procs = [
        start(["fit", "tiny.csv", "-f", FORMULA, "-o", f"out{k}", "--quiet", *QUICK], cache, work)
        for k in range(8)
    ]
    results = [(p, *p.communicate(timeout=900)) for p in procs]
    return cache, results, before, tree(work)


def tree(folder: Path) -> dict[str, tuple[int, int]]:
    """Each file's size and time, but for the fits' own folders (out*, cache8)."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if not p.relative_to(folder).parts[0].startswith(("out", "cache8"))
    }


def test_a_build_leaves_the_working_folder_as_it_was(eight_fits):
    """setuptools' build_ext writes 60-90 MB of object files under ./build unless told otherwise;
    the eight fits built their model from the working folder."""
    _, _, before, after = eight_fits
    assert after == before, sorted(set(after) - set(before))[:5]


def test_eight_processes_compile_once_and_all_succeed(work, eight_fits):
    cache, results, _, _ = eight_fits
    for proc, _, stderr in results:
        assert proc.returncode == 0, stderr
        assert not private_folders(proc.pid)
    runs = [json.loads((work / f"out{k}" / "run.json").read_text()) for k in range(8)]
    assert sorted(r["model_from_cache"] for r in runs) == [False] + [True] * 7
    tables = [(work / f"out{k}" / "fixef.csv").read_text() for k in range(8)]
    assert len(set(tables)) == 1  # same data, settings and seed: the same draws in every process
    slope = next(ln for ln in tables[0].splitlines() if ln.startswith("x,"))
    assert abs(float(slope.split(",")[1]) - 2.0) < 0.3  # the simulated slope
    assert len(list((cache / "models").iterdir())) == 1


def test_truncated_cache_entry_is_rebuilt_not_loaded(work, eight_fits, tmp_path):
    cache = tmp_path / "cache"
    shutil.copytree(eight_fits[0], cache)
    (entry,) = (cache / "models").iterdir()
    (library,) = entry.glob("*.so")
    library.write_bytes(library.read_bytes()[: library.stat().st_size // 3])
    done = start(
        ["fit", "tiny.csv", "-f", FORMULA, "-o", str(tmp_path / "out"), "--quiet", *QUICK],
        cache,
        work,
    )
    _, stderr = done.communicate(timeout=900)
    assert done.returncode == 0, stderr
    assert json.loads((tmp_path / "out" / "run.json").read_text())["model_from_cache"] is False
    manifest = json.loads((entry / "manifest.json").read_text())
    assert library.stat().st_size > 0 and library.name in manifest["files"]
    import hashlib

    assert hashlib.sha256(library.read_bytes()).hexdigest() == manifest["files"][library.name]


def test_default_cache_is_the_users_not_the_runs(work, eight_fits, tmp_path):
    """Without MIXFIT_CACHE_DIR the cache is the user's (XDG_CACHE_HOME/mixfit), never the
    private folder PyStan's run points XDG_CACHE_HOME at, which goes with the run."""
    home = tmp_path / "xdg"
    shutil.copytree(eight_fits[0], home / "mixfit")
    env = {k: v for k, v in os.environ.items() if k != "MIXFIT_CACHE_DIR"}
    done = subprocess.run(  # noqa: PLW1510 - the return code is asserted
        [
            sys.executable,
            "-m",
            "mixfit",
            "fit",
            "tiny.csv",
            "-f",
            FORMULA,
            "-o",
            str(tmp_path / "out"),
            "--quiet",
            *QUICK,
        ],
        cwd=work,
        env={**env, "XDG_CACHE_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "out" / "run.json").read_text())["model_from_cache"] is True


class Watcher:
    """Reads a process's stderr in the background; waits for a phrase."""

    def __init__(self, proc: subprocess.Popen):
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self.thread.start()

    def _read(self, proc):
        for line in proc.stderr:
            self.lines.append(line)

    def wait_for(self, phrase: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not any(phrase in ln for ln in self.lines):
            assert time.monotonic() < deadline, f"no {phrase!r} in: {''.join(self.lines)}"
            time.sleep(0.05)

    def text(self) -> str:
        self.thread.join(timeout=30)
        return "".join(self.lines)


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("stage", ["sampling", "compiling"])
def test_a_signal_stops_the_fit_and_loses_nothing(work, eight_fits, tmp_path, stage, signum):
    if stage == "sampling":  # a cached model with a long run
        cache, phrase = tmp_path / "cache", "Sampling"
        shutil.copytree(eight_fits[0], cache)
        args = ["fit", "tiny.csv", "-f", FORMULA, "--chains", "2", "--iter", "500000"]
    else:  # a structure not compiled yet
        cache, phrase = tmp_path / "empty-cache", "Compiling"
        args = ["fit", "counts.csv", "-f", "c ~ x + (1 | g)", "--family", "poisson"]
    out = tmp_path / "out"
    out.mkdir()
    (out / "fixef.csv").write_text("earlier results\n")
    (out / ".mixfit-results").write_text('{"files": ["fixef.csv"]}\n')  # an earlier fit's folder
    before = snapshot(out)
    proc = start(
        [*args, "-o", str(out), "--seed", "3", "--no-plots", "--backend", "pystan"], cache, work
    )
    watcher = Watcher(proc)
    watcher.wait_for(phrase)
    time.sleep(2)  # chains, or the C++ compiler, under way
    children = descendants(proc.pid)
    assert children, "the fit should have started worker or compiler processes"
    proc.send_signal(signum)
    proc.wait(timeout=60)
    stderr = watcher.text()
    assert proc.returncode == 128 + signum, stderr
    assert stderr.splitlines()[-1].startswith("mixfit: interrupted"), stderr
    assert "Traceback" not in stderr
    time.sleep(0.2)
    alive = [pid for pid in children if _running(pid)]
    assert not alive, f"processes still running: {alive}"
    assert not private_folders(proc.pid)
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out")) == []
    if stage == "compiling":  # no entry, complete or half-written, was left for this model
        models = cache / "models"
        assert not models.exists() or not any(models.iterdir())


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in {"Z", "X"}

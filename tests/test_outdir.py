"""OUTDIR: what a fit may replace, the marker, the staged swap, and a full disk.

The data-loss tests put a user's files, a data file and a working folder in the way of real fits
(stanli, a second or two each) and check that every byte is still there afterwards.
Runtime: about 30 s on 2 cores.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from mixfit.errors import InputError, MixfitError
from mixfit.results.outdir import MARKER, check_outdir, is_results_folder, owned_entries, staged

ROOT = Path(__file__).resolve().parent.parent
SLEEP = ROOT / "sample_data" / "sleepstudy.csv"
BASE = ["--chains", "2", "--iter", "200", "--seed", "1", "--quiet"]
QUICK = [*BASE, "--no-plots", "--backend", "stanli"]


def snapshot(folder: Path) -> dict:
    """Every file's bytes and every folder, by path: what "nothing was touched" compares."""
    found = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        found[key] = path.read_bytes() if path.is_file() else "<dir>"
    return found


def user_folder(path: Path) -> Path:
    """A folder of a user's work: files, a subfolder, a hidden file, binary bytes."""
    (path / "sub" / "deeper").mkdir(parents=True)
    (path / "notes.txt").write_text("my notes\n")
    (path / ".hidden").write_text("secret\n")
    (path / "sub" / "data.bin").write_bytes(bytes(range(256)) * 40)
    (path / "sub" / "deeper" / "fixef.csv").write_text("the user's own table\n")
    return path


def mixfit(args: list, cwd: Path, env: dict | None = None, preexec=None):
    return subprocess.run(
        [sys.executable, "-m", "mixfit", *map(str, args)],
        check=False,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
        preexec_fn=preexec,
    )


def one_error_line(done, code: int, phrase: str) -> None:
    lines = done.stderr.splitlines()
    assert done.returncode == code, done.stderr
    assert len(lines) == 1 and lines[0].startswith("mixfit: error:"), done.stderr
    assert phrase in lines[0], lines[0]
    assert "Traceback" not in done.stderr


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A working folder holding a data file, a spec and a folder of the user's files."""
    folder = tmp_path / "work"
    folder.mkdir()
    shutil.copy(SLEEP, folder / "data.csv")
    (folder / "report.pdf").write_bytes(b"%PDF-1.4 the user's report")
    (folder / "specs").mkdir()
    (folder / "specs" / "spec.yaml").write_text(
        "data: ../data.csv\nformula: Reaction ~ Days + (1 | Subject)\noutput: .\n"
    )
    (folder / "empty_output.yaml").write_text(
        "data: data.csv\nformula: Reaction ~ Days + (1 | Subject)\noutput: ''\n"
    )
    user_folder(folder / "mine")
    return folder


FORMULA = ["-f", "Reaction ~ Days + (1 | Subject)"]
REFUSED = {
    "a folder of the user's files": (
        ["fit", "data.csv", *FORMULA, "-o", "mine"],
        "is not a mixfit results folder (it holds .hidden, d.csv, notes.txt and 1 more)",
    ),
    "the data file": (["fit", "data.csv", *FORMULA, "-o", "data.csv"], "is the data file"),
    "another file": (["fit", "data.csv", *FORMULA, "-o", "report.pdf"], "is an existing file"),
    "a file, with --force": (
        ["fit", "data.csv", *FORMULA, "-o", "report.pdf", "--force"],
        "is an existing file",
    ),
    "the current folder": (["fit", "data.csv", *FORMULA, "-o", "."], "is the current folder"),
    "the current folder, with --force": (
        ["fit", "data.csv", *FORMULA, "-o", ".", "--force"],
        "is the current folder",
    ),
    "an empty name": (["fit", "data.csv", *FORMULA, "-o", ""], "an empty name"),
    "the folder above": (["fit", "data.csv", *FORMULA, "-o", ".."], "holds the current folder"),
    "the root": (["fit", "data.csv", *FORMULA, "-o", "/"], "holds the current folder"),
    "the home folder": (
        ["fit", "data.csv", *FORMULA, "-o", "{home}", "--force"],
        "is the home folder",
    ),
    "the current folder, spelt otherwise": (
        ["fit", "data.csv", *FORMULA, "-o", "{work}/../work"],
        "is the current folder",
    ),
    "a folder holding the data": (
        ["fit", "mine/d.csv", *FORMULA, "-o", "mine", "--force"],
        "holds the data file",
    ),
    "yaml output: .": (["fit", "specs/spec.yaml"], "holds the spec 'specs/spec.yaml'"),
    "yaml output: ''": (["fit", "empty_output.yaml"], "output is empty"),
    "below a file": (["fit", "data.csv", *FORMULA, "-o", "report.pdf/out"], "is a file"),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_outdir_that_would_lose_files_is_refused_and_nothing_changes(work, tmp_path, name):
    home = user_folder(tmp_path / "home")
    shutil.copy(work / "data.csv", work / "mine" / "d.csv")
    args, phrase = REFUSED[name]
    args = [a.format(home=home, work=work) for a in args]
    before, home_before = snapshot(work), snapshot(home)
    done = mixfit([*args, *QUICK], work, env={"HOME": str(home)})
    one_error_line(done, 2, phrase)
    assert snapshot(work) == before
    assert snapshot(home) == home_before


def test_force_writes_into_a_users_folder_and_keeps_every_file(work):
    before = snapshot(work / "mine")
    done = mixfit(["fit", "data.csv", *FORMULA, "-o", "mine", "--force", *QUICK], work)
    assert done.returncode == 0, done.stderr
    after = snapshot(work / "mine")
    assert {k: v for k, v in after.items() if k in before} == before  # every byte still there
    assert (work / "mine" / "fixef.csv").is_file() and is_results_folder(work / "mine")
    owned = owned_entries(work / "mine")
    assert "fixef.csv" in owned and "draws.nc" in owned
    assert not owned & {"notes.txt", ".hidden", "sub"}
    # now a results folder: a second fit needs no --force and still keeps the user's files
    (work / "mine" / "added later.txt").write_text("written after the first fit\n")
    again = mixfit(["fit", "data.csv", *FORMULA, "-o", "mine", *QUICK, "--seed", "2"], work)
    assert again.returncode == 0, again.stderr
    final = snapshot(work / "mine")
    assert {k: v for k, v in final.items() if k in before} == before
    assert final["added later.txt"] == b"written after the first fit\n"
    assert final["fixef.csv"] != after["fixef.csv"]  # mixfit's own file was replaced
    assert [p.name for p in work.iterdir() if p.name.startswith(".mine")] == []


def test_rerun_replaces_what_the_last_run_wrote_and_nothing_else(work):
    out = work / "results"
    first = mixfit(["fit", "data.csv", *FORMULA, "-o", out, *BASE, "--backend", "stanli"], work)
    assert first.returncode == 0, first.stderr
    assert (out / "plots").is_dir() and (out / "report.html").is_file()
    second = mixfit(["fit", "data.csv", *FORMULA, "-o", out, *QUICK], work)  # --no-plots now
    assert second.returncode == 0, second.stderr
    assert not (out / "plots").exists() and not (out / "report.html").exists()
    assert owned_entries(out) == {p.name for p in out.iterdir()} - {MARKER}


@pytest.mark.parametrize("umask, mode", [(0o022, 0o755), (0o027, 0o750), (0o077, 0o700)])
def test_results_folder_follows_the_umask(work, umask, mode):
    done = mixfit(
        ["fit", "data.csv", *FORMULA, "-o", "out", *QUICK], work, preexec=lambda: os.umask(umask)
    )
    assert done.returncode == 0, done.stderr
    assert (work / "out").stat().st_mode & 0o777 == mode
    assert (work / "out" / "fixef.csv").stat().st_mode & 0o777 == mode & 0o666


def _mount_tmpfs(path: Path, size: str, read_only: bool = False) -> bool:
    path.mkdir()
    options = f"size={size}" + (",ro" if read_only else "")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MB file system of its own (root only): too small for a sleepstudy fit's results."""
    disk = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    if os.geteuid() != 0 or not shutil.which("mount") or not _mount_tmpfs(disk, "1m"):
        pytest.skip("needs root to mount a small tmpfs")
    yield disk
    subprocess.run(["umount", str(disk)], check=False)


def earlier_results(out: Path) -> dict:
    out.mkdir()
    (out / "fixef.csv").write_text("term,Estimate\nIntercept,1\n")
    (out / MARKER).write_text(json.dumps({"files": ["fixef.csv"]}))
    (out / "my notes.txt").write_text("kept\n")
    return snapshot(out)


def test_disk_full_is_one_line_exit_3_and_earlier_results_stay(work, small_disk):
    out = small_disk / "out"
    before = earlier_results(out)
    done = mixfit(["fit", "data.csv", *FORMULA, "-o", out, *BASE, "--backend", "stanli"], work)
    one_error_line(done, 3, "No space left on device")
    assert snapshot(out) == before
    assert sorted(p.name for p in small_disk.iterdir()) == ["out"]  # no staging folder left


def test_file_size_limit_is_one_line_exit_3(work):
    """Without root: RLIMIT_FSIZE stops writes at 200 kB (draws.nc needs more), SIGXFSZ ignored
    so that the write fails with EFBIG instead of killing the process."""

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    out = work / "out"
    before = earlier_results(out)
    done = mixfit(["fit", "data.csv", *FORMULA, "-o", out, *QUICK], work, preexec=limit)
    one_error_line(done, 3, "File too large")
    assert snapshot(out) == before
    assert [p.name for p in work.iterdir() if p.name.startswith(".out")] == []


def test_read_only_place_is_refused_before_sampling(work, tmp_path):
    place = tmp_path / "ro"
    if os.geteuid() != 0 or not shutil.which("mount") or not _mount_tmpfs(place, "1m", True):
        pytest.skip("needs root to mount a read-only tmpfs")
    try:
        done = mixfit(
            ["fit", "data.csv", *FORMULA, "-o", place / "out", *BASE, "--backend", "cmdstan"],
            work,
            env={"CMDSTAN": str(tmp_path / "none")},
        )
        # refused by the pre-check (exit 2), never reaching the backend (which would exit 3)
        one_error_line(done, 2, "Read-only file system")
    finally:
        subprocess.run(["umount", str(place)], check=False)


# The module's functions, in-process.


def test_check_outdir_accepts_new_empty_and_results_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    check_outdir(tmp_path / "new" / "deeper")
    (tmp_path / "empty").mkdir()
    check_outdir(tmp_path / "empty")
    results = tmp_path / "results"
    results.mkdir()
    (results / MARKER).write_text('{"files": []}')
    check_outdir(results)
    assert not (tmp_path / "new").exists()  # checking creates nothing


@pytest.mark.parametrize("marker", ["not json", '{"files": "x"}', '{"other": []}', "[]"])
def test_a_broken_marker_is_not_a_results_folder(tmp_path, monkeypatch, marker):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / MARKER).write_text(marker)
    with pytest.raises(InputError, match="not a mixfit results folder"):
        check_outdir(out)


def test_staged_writes_nothing_when_the_block_fails(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="boom"), staged(out) as stage:
        (stage / "half.csv").write_text("half")
        raise RuntimeError("boom")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_staged_turns_a_full_disk_into_one_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with (
        pytest.raises(MixfitError, match="No space left on device") as caught,
        staged(tmp_path / "out"),
    ):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert caught.value.exit_code == 3
    assert list(tmp_path.iterdir()) == []


def test_staged_keeps_entries_it_did_not_write_and_lists_its_own(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    with staged(out) as stage:
        (stage / "a.csv").write_text("1")
        (stage / "old.csv").write_text("2")
    (out / "mine.txt").write_text("user")
    with staged(out) as stage:
        (stage / "a.csv").write_text("3")
    assert sorted(p.name for p in out.iterdir()) == sorted([MARKER, "a.csv", "mine.txt"])
    assert (out / "a.csv").read_text() == "3" and (out / "mine.txt").read_text() == "user"
    assert owned_entries(out) == {"a.csv"}

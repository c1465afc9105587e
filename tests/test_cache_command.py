"""The compiled-model cache and ``mixfit cache``: list, clear, clear --older-than; only mixfit's files go."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mixfit.engines.cache import MANIFEST, CacheEntry, stored_models
from mixfit.engines.cache_listing import parse_age

DAY = 86400


def mixfit(cache: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mixfit", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "MIXFIT_CACHE_DIR": str(cache)},
    )


def store(root: Path, key: str, size: int, days_unused: float = 0) -> CacheEntry:
    """A cache entry as a backend stores one: its build artefacts and a manifest."""
    build = root.parent / f"build-{key}"
    build.mkdir()
    (build / "model.so").write_bytes(b"\0" * size)
    (build / "model.hpp").write_text("// generated\n")
    entry = CacheEntry(key, root)
    entry.store(sorted(build.iterdir()), {"backend": "pystan 3.10.0, httpstan 4.13.0"})
    used = time.time() - days_unused * DAY
    os.utime(entry.path / MANIFEST, (used, used))
    return entry


@pytest.fixture
def cache(tmp_path) -> Path:
    root = tmp_path / "cache"
    store(root, "aaaaaaaaaaaaaaaaaaaa", 2_000_000, days_unused=45)
    store(root, "bbbbbbbbbbbbbbbbbbbb", 3_000_000, days_unused=2)
    # not mixfit's: a folder without a manifest (a build killed half-way, someone else's files),
    # and a user's file put inside an entry's folder
    (root / "models" / "notes").mkdir()
    (root / "models" / "notes" / "keep.txt").write_text("mine\n")
    (root / "models" / "aaaaaaaaaaaaaaaaaaaa" / "mine.txt").write_text("mine too\n")
    return root


def test_list_shows_each_model_with_size_and_age(cache):
    done = mixfit(cache, "cache")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert f"{cache}: 2 model(s), 5.0 MB" in lines[0]
    newest, oldest = lines[2], lines[3]  # most recently used first
    assert (
        newest.startswith("bbbbbbbbbbbbbbbbbbbb") and "3.0 MB" in newest and "2 days ago" in newest
    )
    assert oldest.startswith("aaaaaaaaaaaaaaaaaaaa") and "45 days ago" in oldest
    assert "pystan 3.10.0" in newest
    assert "notes" not in done.stdout


def test_clear_older_than_removes_only_old_entries_and_only_mixfits_files(cache):
    done = mixfit(cache, "cache", "clear", "--older-than", "30d")
    assert done.returncode == 0, done.stderr
    assert "Removed 1 compiled model(s) (2.0 MB)" in done.stdout and "1 left" in done.stdout
    assert [m.key for m in stored_models(cache)] == ["bbbbbbbbbbbbbbbbbbbb"]
    old = cache / "models" / "aaaaaaaaaaaaaaaaaaaa"
    assert sorted(p.name for p in old.iterdir()) == ["mine.txt"]  # the user's file stays
    assert (cache / "models" / "notes" / "keep.txt").read_text() == "mine\n"


def test_clear_removes_every_entry_and_its_folder(cache):
    done = mixfit(cache, "cache", "clear")
    assert done.returncode == 0, done.stderr
    assert "Removed 2 compiled model(s) (5.0 MB)" in done.stdout
    assert stored_models(cache) == []
    assert not (cache / "models" / "bbbbbbbbbbbbbbbbbbbb").exists()
    assert (cache / "models" / "aaaaaaaaaaaaaaaaaaaa" / "mine.txt").is_file()
    assert (cache / "models" / "notes" / "keep.txt").is_file()
    assert "empty" in mixfit(cache, "cache").stdout


def test_a_load_counts_as_a_use(cache):
    entry = CacheEntry("aaaaaaaaaaaaaaaaaaaa", cache)
    assert entry.files() is not None
    assert stored_models(cache)[0].key == "aaaaaaaaaaaaaaaaaaaa"
    done = mixfit(cache, "cache", "clear", "--older-than", "1d")
    assert done.stdout.startswith("Removed 1 compiled model(s) (3.0 MB)")  # the 2-day-old one
    assert [m.key for m in stored_models(cache)] == ["aaaaaaaaaaaaaaaaaaaa"]


def test_a_bad_age_is_an_input_error(cache):
    done = mixfit(cache, "cache", "clear", "--older-than", "a month")
    assert done.returncode == 2
    assert done.stderr.startswith("mixfit: error: --older-than 'a month' is not an age")
    assert len(done.stderr.splitlines()) == 1
    assert len(stored_models(cache)) == 2
    assert (
        parse_age("12h") == 12 * 3600 and parse_age("2w") == 14 * DAY and parse_age("90m") == 5400
    )


def test_an_empty_or_missing_cache(tmp_path):
    done = mixfit(tmp_path / "none", "cache")
    assert done.returncode == 0 and "empty" in done.stdout
    assert mixfit(tmp_path / "none", "cache", "clear").stdout.startswith("Removed 0")

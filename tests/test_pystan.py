"""The PyStan backend: a real build, from a working folder that must stay as it was."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import SAMPLE_DATA

# httpstan's compiled models fail to load on Python 3.13 (undefined _PyThreadState_UncheckedGet):
# there the build still runs, and still must not touch the working folder, but the fit fails
PYSTAN_LOADS = sys.version_info < (3, 13)


def tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
    }


def test_a_build_leaves_the_working_folder_as_it_was(tmp_path):
    """setuptools' build_ext writes 60-90 MB of object files under ./build unless told otherwise."""
    workdir, cache, out = tmp_path / "work", tmp_path / "cache", tmp_path / "results" / "fit"
    workdir.mkdir()
    (workdir / "notes.txt").write_text("the user's own file\n")
    before = tree(workdir)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mixfit",
            "fit",
            SAMPLE_DATA / "sleepstudy.csv",
            "-f",
            "Reaction ~ Days + (1 | Subject)",
            "--backend",
            "pystan",
            "--no-marginal",
            "--chains",
            "1",
            "--iter",
            "200",
            "--seed",
            "1",
            "--no-plots",
            "--quiet",
            "-o",
            out,
        ],
        check=False,
        capture_output=True,
        text=True,
        cwd=workdir,
        timeout=1200,
        env={**os.environ, "MIXFIT_CACHE_DIR": str(cache)},  # empty: the model is built here
    )
    assert tree(workdir) == before, sorted(set(tree(workdir)) - set(before))[:5]
    if PYSTAN_LOADS:
        assert done.returncode == 0, done.stderr
        assert (out / "fixef.csv").is_file()
        assert list((cache / "models").iterdir()), "the build was not stored in the cache"
    else:
        assert done.returncode == 3, done.stderr

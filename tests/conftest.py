"""Shared fixtures: one compiled-model cache for the whole session, and a way to run the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DATA = ROOT / "sample_data"
REFERENCE = ROOT / "tests" / "reference"  # lme4 and brms results, copied from shared/reference


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """MIXFIT_CACHE_DIR when set (CI's is empty; a developer's keeps PyStan builds between runs),
    else a fresh folder for the session."""
    given = os.environ.get("MIXFIT_CACHE_DIR")
    return Path(given) if given else tmp_path_factory.mktemp("mixfit-cache")


@pytest.fixture(scope="session")
def run_mixfit(cache_dir):
    """Run ``python -m mixfit ARGS`` with the session's cache (and ``env``'s variables set);
    returns the CompletedProcess."""

    def run(
        *args: str, timeout: float = 900, env: dict | None = None
    ) -> subprocess.CompletedProcess:
        env = {**os.environ, "MIXFIT_CACHE_DIR": str(cache_dir), **(env or {})}
        return subprocess.run(
            [sys.executable, "-m", "mixfit", *map(str, args)],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            cwd=ROOT,
        )

    return run


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def sleepstudy_fit(run_mixfit, tmp_path_factory):
    """The sleepstudy fit with default settings, shared by the tests that read its results."""
    out = tmp_path_factory.mktemp("fits") / "sleepstudy"
    done = run_mixfit(
        "fit", SAMPLE_DATA / "sleepstudy.csv", "-f", "Reaction ~ Days + (Days | Subject)",
        "-o", out, "--seed", "1",
    )
    assert done.returncode == 0, done.stderr
    return out, done

"""The CmdStan backend, where a CmdStan installation exists (it can't be downloaded everywhere)."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest
from conftest import SAMPLE_DATA, read_json

from mixfit.engines.protocol import cmdstan

problem = cmdstan.unavailable()
pytestmark = pytest.mark.skipif(problem is not None, reason=f"CmdStan backend: {problem}")


def test_cmdstan_fits_sleepstudy_like_brms(run_mixfit, tmp_path):
    from test_fit import check_against_brms

    args = ["fit", SAMPLE_DATA / "sleepstudy.csv", "-f", "Reaction ~ Days + (Days | Subject)",
            "--backend", "cmdstan", "--seed", "1", "--no-plots"]
    first = run_mixfit(*args, "-o", tmp_path / "a")
    assert first.returncode == 0, first.stderr
    assert read_json(tmp_path / "a" / "run.json")["backend"] == "cmdstan"
    check_against_brms(tmp_path / "a", "sleepstudy.json", "Subject")
    again = run_mixfit(*args, "-o", tmp_path / "b")
    assert again.returncode == 0, again.stderr
    assert read_json(tmp_path / "b" / "run.json")["model_from_cache"] is True
    draws = [az.from_netcdf(tmp_path / d / "draws.nc").posterior for d in ("a", "b")]
    np.testing.assert_array_equal(draws[0]["b_Days"].values, draws[1]["b_Days"].values)

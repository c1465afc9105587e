"""Each family issue 23 added whose own tests fit it in one process only, run as SLURM runs a
chain array: a chain per job (``--chain k``), then ``combine``. The combined fit reads back, and
its stored log_lik (each shard's, from Stan or from numpy) equals numpy's log_lik of the same rows
computed from the combined draws, so each shard kept its rows and its draws in step.

Small on purpose (80 rows, 2 chains x 150): what is tested is the shards' bookkeeping, not the
estimates, which each family's own tests check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import fit_as_chain_jobs
from scipy import special

from mixfit.analysis.predict import log_lik

N = 80


def _response(family: str, eta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = len(eta)
    zero = rng.random(n) < 0.3
    if family == "zero_inflated_binomial":
        return np.where(zero, 0, rng.binomial(10, special.expit(eta)))
    if family == "hurdle_negbinomial":
        return np.where(zero, 0, 1 + rng.poisson(np.exp(eta)))
    if family == "hurdle_gamma":
        return np.where(zero, 0.0, rng.gamma(2.0, np.exp(eta) / 2.0))
    if family == "hurdle_lognormal":
        return np.where(zero, 0.0, rng.lognormal(eta, 0.5))
    if family == "zero_inflated_beta":
        mu = special.expit(eta)
        return np.where(zero, 0.0, rng.beta(mu * 8, (1 - mu) * 8))
    if family in {"weibull", "exponential"}:
        return rng.weibull(1.5, n) * np.exp(eta)
    if family == "shifted_lognormal":
        return 0.3 + rng.lognormal(eta, 0.5)
    if family in {"skew_normal", "exgaussian"}:
        return eta + rng.normal(0, 0.5, n) + rng.exponential(0.5, n)
    # sratio, cratio, acat: four ordered categories cut from a logistic latent
    return np.digitize(eta + rng.logistic(size=n), [-1.0, 0.0, 1.0]) + 1


FAMILIES = [
    "zero_inflated_binomial",
    "hurdle_negbinomial",
    "hurdle_gamma",
    "hurdle_lognormal",
    "zero_inflated_beta",
    "weibull",
    "exponential",
    "shifted_lognormal",
    "skew_normal",
    "exgaussian",
    "sratio",
    "cratio",
    "acat",
]


@pytest.mark.parametrize("family", FAMILIES)
def test_chains_as_jobs_combine_and_keep_their_log_lik(family, tmp_path):
    rng = np.random.default_rng(FAMILIES.index(family) + 1)
    x, g = rng.normal(size=N), rng.integers(0, 6, N)
    eta = 0.5 + 0.4 * x + rng.normal(0, 0.3, 6)[g]
    data = pd.DataFrame({"y": _response(family, eta, rng), "x": x, "g": g})
    data.to_csv(tmp_path / "d.csv", index=False)
    response = "y | trials(10)" if family == "zero_inflated_binomial" else "y"
    spec = {
        "data": "d.csv",
        "formula": f"{response} ~ x + (1 | g)",
        "family": family,
        "backend": "stanli",
        "sampler": {"chains": 2, "iter": 150, "seed": 2},
    }
    out = fit_as_chain_jobs(spec, tmp_path)
    assert "x" in set(pd.read_csv(out / "fixef.csv")["term"])
    with xr.open_dataset(out / "draws.nc", group="log_likelihood", engine="h5netcdf") as saved:
        stored = saved["y"].values.reshape(-1, N)
    assert stored.shape == (150, N) and np.isfinite(stored).all()
    mine = log_lik(out, data, allow_new_levels=False, sample_new_levels="uncertainty", seed=0)
    np.testing.assert_allclose(mine, stored, rtol=1e-7, atol=1e-9)

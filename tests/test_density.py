"""mixfit's density estimate is ArviZ 0.x's (the plots no longer import ArviZ for it)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mixfit.results.density import kde

arviz = pytest.importorskip("arviz")

RNG = np.random.default_rng(3)
SAMPLES = {
    "normal": RNG.normal(250, 30, 180),
    "half-t SD draws": np.abs(RNG.standard_t(3, 4000)) * 7,
    "skewed": RNG.gamma(0.5, size=1000),
    "two modes": np.r_[RNG.normal(size=500), RNG.normal(8, 0.1, 500)],
    "few distinct values": RNG.integers(0, 3, 300).astype(float),
    "two draws": np.array([1.0, 2.0]),
    "with NaN and inf": np.array([np.nan, 1.0, np.inf, 2.0, 2.5, 2.7]),
    # the Sheather-Jones fixed point has three roots in (0, 0.01] here: brentq's is the one
    "several roots": np.random.default_rng(0).normal(250, 50, (19, 180))[18],
}


@pytest.mark.parametrize("name", list(SAMPLES))
def test_the_density_is_arviz_kde(name):
    values = SAMPLES[name]
    if int(arviz.__version__.split(".")[0]) >= 1:
        pytest.skip("the estimate is ArviZ 0.x's")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grid, density = arviz.kde(values)[:2]
    ours_grid, ours = kde(values)
    np.testing.assert_allclose(ours_grid, grid, rtol=1e-12)
    np.testing.assert_allclose(ours, density, rtol=1e-9, atol=1e-12 * density.max())


def test_one_value_has_no_density():
    grid, density = kde(np.full(10, 3.0))
    assert grid.shape == (2,) and np.isnan(density).all()

"""The plots' kernel density estimate: R's density() (bw.nrd0, a Gaussian kernel on 512 points)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mixfit.results.density import POINTS, bandwidth, kde


def test_the_bandwidth_is_rs_bw_nrd0():
    # bw.nrd0(c(1, 2, 3, 4, 10)): 0.9 * min(sd, IQR / 1.34) * 5^(-1/5), the IQR's the smaller
    x = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    assert bandwidth(x) == pytest.approx(0.9 * (2 / 1.34) * 5**-0.2, rel=1e-12)
    # no spread at all: R falls back on the value itself, then on 1
    assert bandwidth(np.full(5, 3.0)) == pytest.approx(0.9 * 3 * 5**-0.2)
    assert bandwidth(np.zeros(5)) == pytest.approx(0.9 * 5**-0.2)


def test_the_density_is_a_gaussian_kernels_on_rs_grid():
    x = np.random.default_rng(1).normal(2, 3, size=4000)
    grid, density = kde(x)
    bw = bandwidth(x)
    assert len(grid) == POINTS
    assert grid[0] == pytest.approx(x.min() - 3 * bw) and grid[-1] == pytest.approx(
        x.max() + 3 * bw
    )
    exact = stats.gaussian_kde(x, bw_method=bw / x.std(ddof=1))(grid)  # the same kernel, unbinned
    assert np.abs(density - exact).max() < 1e-3 * exact.max()
    assert np.trapezoid(density, grid) == pytest.approx(1, abs=1e-3)


def test_a_bounded_density_starts_at_the_bound_and_keeps_its_mass_above_it():
    x = np.abs(
        np.random.default_rng(2).normal(size=4000)
    )  # half-normal: its density is highest at 0
    grid, density = kde(x, lower=0.0)
    unbounded = kde(x)[1]
    assert grid[0] == 0
    assert np.trapezoid(density, grid) == pytest.approx(1, abs=2e-3)
    assert density[0] > 0.85 * 2 * stats.norm.pdf(0)  # reflected: no dip towards the bound
    assert unbounded.max() < density.max()


def test_non_finite_draws_are_left_out():
    x = np.random.default_rng(3).normal(size=500)
    with_nan = np.concatenate([x, [np.nan, np.inf]])
    assert np.array_equal(kde(with_nan)[1], kde(x)[1])

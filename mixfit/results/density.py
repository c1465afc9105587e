"""Kernel density estimates for the plots, as R's ``density()`` draws them for brms's plots
(bayesplot's ``pp_check`` and ``mcmc_dens``): a Gaussian kernel of bandwidth ``bw.nrd0``, on 512
points reaching three bandwidths past the draws, the draws binned linearly onto the grid and the
kernel applied to the bins.

Written in numpy because ArviZ's ``kde``, or scipy's ``gaussian_kde``, is all a fit's plots asked
of either, and importing the two (scipy.stats with ArviZ) took 0.6-0.7 s of a warm sleepstudy fit
with plots.
"""

from __future__ import annotations

import numpy as np

POINTS = 512  # R's density(n = 512)
CUT = 3  # R's density(cut = 3): the grid reaches this many bandwidths past the extreme draws
KERNEL_REACH = 4  # the kernel is cut at four bandwidths (R's FFT convolution reaches as far)


def bandwidth(x: np.ndarray) -> float:
    """R's ``bw.nrd0``: Silverman's rule of thumb, 0.9 min(sd, IQR / 1.34) n^(-1/5), with R's
    fallbacks for draws whose spread is zero."""
    sd = float(np.std(x, ddof=1)) if len(x) > 1 else 0.0
    q1, q3 = np.quantile(x, [0.25, 0.75])
    spread = min(sd, (q3 - q1) / 1.34) or sd or abs(float(x[0])) or 1.0
    return 0.9 * spread * len(x) ** -0.2


def kde(values: np.ndarray, lower: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(grid, density) of the finite draws in ``values``; with ``lower``, the density of draws
    that can't fall below it (an SD's, at 0): the grid starts there and the kernel's mass below
    it is reflected back above, so the density does not dip at the bound."""
    x = np.asarray(values, dtype=float).ravel()
    x = x[np.isfinite(x)]
    bw = bandwidth(x)
    start, stop = x.min() - CUT * bw, x.max() + CUT * bw
    bounded = lower is not None and start <= lower  # else the bound is too far to matter
    if bounded:
        start = lower
        x = np.maximum(x, lower)
    grid = np.linspace(start, stop, POINTS)
    step = grid[1] - grid[0]
    reach = int(np.ceil(KERNEL_REACH * bw / step))
    # with a bound, bins below it as far as the kernel reaches, whose mass is folded back; without
    # one, the mass past the grid's ends is cut off, as R's density() cuts it
    offset = reach if bounded else 0
    counts = _linear_bins(x, start - offset * step, step, POINTS + offset)
    kernel = np.exp(-0.5 * (np.arange(-reach, reach + 1) * step / bw) ** 2)
    kernel /= bw * np.sqrt(2 * np.pi) * len(x)
    smoothed = np.convolve(counts, kernel)[reach : reach + len(counts)]
    density = smoothed[offset:].copy()
    if bounded:  # the density at lower - d joins that at lower + d
        folded = smoothed[offset::-1][:POINTS]
        density[: len(folded)] += folded
    return grid, density


def _linear_bins(x: np.ndarray, start: float, step: float, size: int) -> np.ndarray:
    """Each draw's unit weight split between the two grid points either side of it."""
    position = (x - start) / step
    left = np.floor(position).astype(int)
    right_share = position - left
    counts = np.bincount(left, 1 - right_share, minlength=size + 1)
    counts += np.bincount(left + 1, right_share, minlength=size + 2)[: len(counts)]
    return counts[:size]

"""ArviZ 0.x's kernel density estimate of 1-d draws (``arviz.kde``, linear data), in numpy alone.

The plots draw about a hundred densities per fit; importing ArviZ for them cost about a second of
a warm fit's three. This is ArviZ's estimator step by step (``arviz/stats/density_utils.py``):
the draws binned on 512 points between their minimum and maximum, the "experimental" bandwidth
(the mean of Silverman's rule and the improved Sheather-Jones estimate), the binned frequencies
convolved with a Gaussian window, reflected at both ends first (its boundary correction, always on
for linear data). The root of the Sheather-Jones fixed point is found by scipy's brentq written out
here, so that scipy.optimize is not imported either.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

GRID_LEN = 512
ISJ_POWER = 7  # the order of the Sheather-Jones functional the fixed point starts from
ROOT_HIGH = 0.01  # ArviZ looks for the fixed point's root in (0, 0.01]
ROOT_TOLERANCE = 2e-12  # brentq's xtol, as ArviZ calls it
BRENT_RTOL = 4 * np.finfo(float).eps  # brentq's default rtol
BRENT_ITERATIONS = 100  # brentq's default maxiter


def kde(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(grid, density) of the finite values; as ArviZ, (zeros(2), [nan, nan]) for none or one."""
    x = np.asarray(values, dtype=float).ravel()
    x = x[np.isfinite(x)]
    if x.size == 0 or np.all(x == x[0]):
        return np.zeros(2), np.full(2, np.nan)
    low, high, spread = x.min(), x.max(), np.std(x)
    counts, edges = np.histogram(x, bins=GRID_LEN, range=(low, high))
    bandwidth = 0.5 * (_silverman(x, spread) + _sheather_jones(x, counts, high - low))
    return _convolved(x.size, bandwidth, edges, counts)


def _silverman(x: np.ndarray, spread: float) -> float:
    q75, q25 = np.percentile(x, [75, 25])
    return 0.9 * min(spread, (q75 - q25) / 1.34) * x.size**-0.2


def _sheather_jones(x: np.ndarray, counts: np.ndarray, width: float) -> float:
    """Botev, Grotowski and Kroese's (2010) improved Sheather-Jones bandwidth, on ArviZ's bins."""
    grid_len = len(counts) - 1  # ArviZ's: one less than the bins
    a_k = _dct(counts / x.size)
    k_sq = np.arange(1, grid_len, dtype=float) ** 2
    a_sq = a_k[1:grid_len] ** 2
    t = _root(x.size, k_sq, a_sq)
    if t is None:  # ArviZ's fallback: Silverman's rule on the unit range
        t = (_silverman(x, np.std(x)) / np.ptp(x)) ** 2
    return t**0.5 * width


def _dct(x: np.ndarray) -> np.ndarray:
    n = len(x)
    reordered = np.concatenate((x[0:n:2], x[n - 1 : 0 : -2]))
    weights = np.r_[1, 2 * np.exp(-1j * np.arange(1, n) * np.pi / (2 * n))]
    return np.real(weights * np.fft.fft(reordered))


class _FixedPoint:
    """t - zeta * gamma^[l](t), equation (30) of Botev et al., whose root is the squared bandwidth
    on the unit range (ArviZ's ``_fixed_point``), with each power of k^2 computed once."""

    def __init__(self, n: int, k_sq: np.ndarray, a_sq: np.ndarray) -> None:
        self.n, self.k_sq = n, k_sq
        self.terms = {j: k_sq**j * a_sq for j in range(2, ISJ_POWER + 1)}

    def __call__(self, t: float) -> float:
        l, pi = ISJ_POWER, np.pi
        f = 0.5 * pi ** (2.0 * l) * np.sum(self.terms[l] * np.exp(-self.k_sq * pi**2 * t))
        for j in range(l - 1, 1, -1):
            c1 = (1 + 0.5 ** (j + 0.5)) / 3
            c2 = math.prod(range(1, 2 * j, 2)) / (pi / 2) ** 0.5
            t_j = (c1 * c2 / (self.n * f)) ** (2.0 / (3.0 + 2.0 * j))
            f = 0.5 * pi ** (2 * j) * np.sum(self.terms[j] * np.exp(-self.k_sq * pi**2 * t_j))
        return t - (2 * self.n * pi**0.5 * f) ** -0.4


def _root(n: int, k_sq: np.ndarray, a_sq: np.ndarray) -> float | None:
    """The fixed point's root in (0, 0.01] as ArviZ finds it, or None where it has no sign change
    there (or no root above 0), where ArviZ falls back to Silverman's rule. The fixed point can
    have several roots in the interval, so the search is scipy's brentq step for step (Brent's
    method as scipy/optimize/Zeros/brentq.c writes it, with its default tolerances)."""
    g = _FixedPoint(n, k_sq, a_sq)
    with np.errstate(all="ignore"):  # t = 0 overflows towards the sign brentq reads as well
        root = _brentq(g, 0.0, ROOT_HIGH)
    return root if root is not None and root > 0 else None


def _brentq(f: Callable[[float], float], xa: float, xb: float) -> float | None:
    xpre, xcur = xa, xb
    fpre, fcur = f(xpre), f(xcur)
    if not (math.isfinite(fpre) and math.isfinite(fcur)):
        return None
    if fpre == 0:
        return xpre
    if fcur == 0:
        return xcur
    if _negative(fpre) == _negative(fcur):
        return None
    xblk = fblk = spre = scur = 0.0
    for _ in range(BRENT_ITERATIONS):
        if fpre != 0 and fcur != 0 and _negative(fpre) != _negative(fcur):
            xblk, fblk = xpre, fpre
            spre = scur = xcur - xpre
        if abs(fblk) < abs(fcur):
            xpre, xcur, xblk = xcur, xblk, xcur
            fpre, fcur, fblk = fcur, fblk, fcur
        delta = (ROOT_TOLERANCE + BRENT_RTOL * abs(xcur)) / 2
        sbis = (xblk - xcur) / 2
        if fcur == 0 or abs(sbis) < delta:
            return xcur
        if abs(spre) > delta and abs(fcur) < abs(fpre):
            if xpre == xblk:  # interpolate
                stry = -fcur * (xcur - xpre) / (fcur - fpre)
            else:  # extrapolate
                dpre = (fpre - fcur) / (xpre - xcur)
                dblk = (fblk - fcur) / (xblk - xcur)
                stry = -fcur * (fblk * dblk - fpre * dpre) / (dblk * dpre * (fblk - fpre))
            if 2 * abs(stry) < min(abs(spre), 3 * abs(sbis) - delta):  # a good short step
                spre, scur = scur, stry
            else:
                spre = scur = sbis
        else:
            spre = scur = sbis
        xpre, fpre = xcur, fcur
        xcur += scur if abs(scur) > delta else (delta if sbis > 0 else -delta)
        fcur = f(xcur)
    return None  # not converged: ArviZ would try again forever; Silverman's rule here


def _negative(value: float) -> bool:
    return math.copysign(1.0, value) < 0


def _convolved(
    n: int, bandwidth: float, edges: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The binned frequencies, reflected by a fifth of the grid at each end, convolved with a
    Gaussian window of the bandwidth (scipy's convolve, mode "same", as ArviZ calls it)."""
    grid_len = len(counts)
    bin_width = edges[1] - edges[0]
    f = counts / bin_width / n
    bw = bandwidth / bin_width  # in bins
    size = max(int(bw * 2 * np.pi), 1)
    window = np.exp(-0.5 * ((np.arange(size) - (size - 1) / 2) / bw) ** 2)
    pad = grid_len // 5
    reflected = np.concatenate([f[pad - 1 :: -1], f, f[grid_len : grid_len - pad - 1 : -1]])
    full = np.convolve(reflected, window)
    start = (len(full) - len(reflected)) // 2  # scipy's "same": centred on the first input
    pdf = full[start : start + len(reflected)][pad : pad + grid_len]
    grid = (edges[1:] + edges[:-1]) / 2
    return grid, pdf / (bw * (2 * np.pi) ** 0.5)

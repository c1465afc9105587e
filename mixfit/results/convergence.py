"""Rank-normalised split R-hat, bulk and tail ESS and MCSE of many quantities at once.

The estimators are ArviZ 0.x's (Vehtari et al. 2021, as the posterior package and brms compute
them), figure for figure: tests/test_convergence.py holds the two equal to 1e-10. ArviZ applies
them one quantity at a time through a Python loop, which on a model with 5,000 levels x 2 terms
took most of a fit's time after sampling (the 500,000-row benchmark: 359 of 629 s under cProfile);
here every step is one numpy operation over all quantities of a chunk.

Arrays are (chain, draw, quantities); a figure that can't be computed (fewer than 4 draws per
chain, R-hat from one chain, a draw that is not finite) is NaN.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy.special import ndtri

MIN_DRAWS = 4
# values in the chunks in hand at once (quantities x chains x draws): bounds the working memory
# near 50 MB however many threads share them (smaller chunks cost no more: they stay in cache)
CHUNK_VALUES = 500_000
# numpy's sorts, FFTs and ufuncs release the GIL: chunks on threads use every core
WORKERS = os.cpu_count() or 1
TAIL = (0.05, 0.95)


def summarise(draws: np.ndarray) -> dict[str, np.ndarray]:
    """Rhat, Bulk_ESS, Tail_ESS, MCSE_mean and MCSE_sd of each quantity of (chain, draw, K)."""
    chains, n, k = draws.shape
    keys = ("Rhat", "Bulk_ESS", "Tail_ESS", "MCSE_mean", "MCSE_sd")
    out = {key: np.full(k, np.nan) for key in keys}
    if n < MIN_DRAWS or k == 0:
        return out
    workers = min(WORKERS, -(-k * chains * n // CHUNK_VALUES))
    step = max(1, CHUNK_VALUES // (workers * chains * n))

    def chunk(start: int) -> None:
        part = slice(start, start + step)
        # quantity first: each sort and FFT below runs along contiguous memory
        values = np.ascontiguousarray(np.moveaxis(draws[:, :, part], 2, 0), dtype=float)
        valid = np.isfinite(values).all(axis=(1, 2))
        values[~valid] = 0.0
        for key, value in _figures(values).items():
            out[key][part] = np.where(valid, value, np.nan)

    starts = range(0, k, step)
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(chunk, starts))  # list(): a chunk's exception is raised here
    else:
        for start in starts:
            chunk(start)
    if chains < 2:
        out["Rhat"][:] = np.nan
    return out


def _figures(x: np.ndarray) -> dict[str, np.ndarray]:
    """The five figures of each quantity of x: (K, chain, draw)."""
    k = x.shape[0]
    flat = x.reshape(k, -1)
    split = _split_chains(x)
    # the sort that ranks split's values also gives their median and, when no draw was left
    # out of split (an even count per chain), the draws' quantiles: no partition of its own
    z, ordered = _z_scale(split)
    folded = np.abs(split - _median(ordered)[:, None, None])
    rhat = np.maximum(_rhat(z), _rhat(_z_scale(folded)[0]))
    bulk = _ess(z)
    if x.shape[2] % 2 == 0:
        low, high = (_quantile(ordered, q) for q in TAIL)
    else:
        low, high = np.quantile(flat, TAIL, axis=1)
    tail = np.minimum(
        _ess(_split_chains(x <= low[:, None, None])), _ess(_split_chains(x <= high[:, None, None]))
    )
    mcse_mean = np.std(flat, axis=1, ddof=1) / np.sqrt(_ess(split))
    squares = (x - flat.mean(axis=1)[:, None, None]) ** 2
    evar = squares.reshape(k, -1).mean(axis=1)
    varvar = ((squares**2).reshape(k, -1).mean(axis=1) - evar**2) / _ess(_split_chains(squares))
    with np.errstate(invalid="ignore", divide="ignore"):
        mcse_sd = np.sqrt(varvar / evar / 4)
    return {
        "Rhat": rhat,
        "Bulk_ESS": bulk,
        "Tail_ESS": tail,
        "MCSE_mean": mcse_mean,
        "MCSE_sd": mcse_sd,
    }


def _split_chains(x: np.ndarray) -> np.ndarray:
    """Each chain's first and last halves as chains of their own (the middle draw of an odd
    count left out): (K, 2 x chains, draws // 2)."""
    half = x.shape[2] // 2
    return np.concatenate([x[:, :, :half], x[:, :, -half:]], axis=1).astype(float)


def _z_scale(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normal scores of the average ranks over all chains and draws, per quantity (Blom's 3/8),
    and each quantity's values in order: (K, values)."""
    flat = x.reshape(x.shape[0], -1)
    size = flat.shape[1]
    ranks, ordered = average_ranks(flat)
    return ndtri((ranks - 0.375) / (size + 0.25)).reshape(x.shape), ordered


def _median(ordered: np.ndarray) -> np.ndarray:
    """np.median of each row, from the row's values in order."""
    size = ordered.shape[1]
    middle = ordered[:, size // 2]
    return middle if size % 2 else (ordered[:, size // 2 - 1] + middle) / 2


def _quantile(ordered: np.ndarray, q: float) -> np.ndarray:
    """np.quantile (its default, linear method) of each row, from the row's values in order."""
    size = ordered.shape[1]
    index = q * (size - 1)
    below = int(np.floor(index))
    above = min(below + 1, size - 1)
    a, b, t = ordered[:, below], ordered[:, above], index - below
    # numpy's interpolation: from the nearer of the two values
    return a + (b - a) * t if t < 0.5 else b - (b - a) * (1 - t)


def average_ranks(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """1-based ranks along each row, ties sharing the mean of their ranks (scipy's "average"),
    and the rows' values in order."""
    size = flat.shape[1]
    order = np.argsort(flat, axis=1)
    ordered = np.take_along_axis(flat, order, axis=1)
    position = np.arange(size)
    new = np.ones(flat.shape, dtype=bool)
    new[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    # a value's rank is its place in the order; only rows with ties (few, for continuous draws)
    # need the spans of equal values
    placed = np.tile(position + 1.0, (flat.shape[0], 1))
    tied = np.flatnonzero(~new.all(axis=1))
    if len(tied):
        new = new[tied]
        first = np.maximum.accumulate(np.where(new, position, 0), axis=1)
        ends = np.ones(new.shape, dtype=bool)
        ends[:, :-1] = new[:, 1:]
        last = np.minimum.accumulate(np.where(ends, position, size)[:, ::-1], axis=1)[:, ::-1]
        placed[tied] = (first + last) / 2 + 1
    ranks = np.empty(flat.shape)
    np.put_along_axis(ranks, order, placed, axis=1)
    return ranks, ordered


def _rhat(x: np.ndarray) -> np.ndarray:
    n = x.shape[2]
    between = n * np.var(x.mean(axis=2), axis=1, ddof=1)
    within = np.var(x, axis=2, ddof=1).mean(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt((between / within + n - 1) / n)


def _ess(x: np.ndarray) -> np.ndarray:
    """ESS by Geyer's initial monotone sequence, as ArviZ's ``_ess`` computes it quantity by
    quantity: its two loops become a first crossing and a running minimum of the sums of pairs of
    autocorrelations. x: (K, chain, draw)."""
    x = np.asarray(x, dtype=float)
    k, chains, n = x.shape
    total = chains * n
    mean_acov = _autocov(x).mean(axis=1)  # (K, lags)
    mean_var = mean_acov[:, 0] * n / (n - 1.0)
    var_plus = mean_var * (n - 1.0) / n
    if chains > 1:
        var_plus = var_plus + np.var(x.mean(axis=2), axis=1, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = 1.0 - (mean_var[:, None] - mean_acov) / var_plus[:, None]
    rho[:, 0] = 1.0
    pairs = n // 2  # pair p holds lags 2p and 2p + 1
    sums = rho[:, 0 : 2 * pairs : 2] + rho[:, 1 : 2 * pairs : 2]  # (K, pairs)
    # ArviZ's first loop looks at pairs 1..last while t = 2p - 1 < n - 3, and stops after the
    # first pair whose sum is not positive
    last = int(np.sum(2 * np.arange(1, pairs) - 1 < n - 3))
    stop = np.full(k, last)
    if last:
        stops = sums[:, 1 : last + 1] <= 0
        stop = np.where(stops.any(axis=1), np.argmax(stops, axis=1) + 1, last)
    stop = np.where(sums[:, 0] > 0, stop, 0)  # the loop never starts
    # pairs before the stop enter through their running minimum (the monotone sequence)
    running = np.minimum.accumulate(sums, axis=1)
    before = np.arange(pairs)[None, :] < stop[:, None]
    kept = np.where(before, running, 0.0).sum(axis=1)
    rows = np.arange(k)
    even = rho[rows, 2 * stop]
    stop_sum = sums[rows, stop]
    even_kept = np.where((stop == 0) | (stop_sum >= 0) | (even > 0), even, 0.0)
    tau = np.maximum(-1.0 + 2.0 * kept + even_kept, 1 / np.log10(total))
    ess = np.where(np.isnan(rho).any(axis=1), np.nan, total / tau)
    constant = (x.max(axis=(1, 2)) - x.min(axis=(1, 2))) < np.finfo(float).resolution
    return np.where(constant, float(total), ess)


def _autocov(x: np.ndarray) -> np.ndarray:
    """Each chain's autocovariance at every lag (biased, over n), by FFT: (K, chains, n)."""
    n = x.shape[2]
    size = _fast_length(2 * n)
    centred = x - x.mean(axis=2, keepdims=True)
    spectrum = np.fft.rfft(centred, n=size, axis=2)
    return np.fft.irfft(spectrum * np.conjugate(spectrum), n=size, axis=2)[:, :, :n] / n


def _fast_length(n: int) -> int:
    """The next length >= n whose only factors are 2, 3 and 5 (as scipy's next_fast_len)."""
    best = 2 * n
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 3
        p5 *= 5
    return best

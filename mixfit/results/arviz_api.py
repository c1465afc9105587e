"""The ArviZ calls mixfit makes, alike on ArviZ 0.x and 1.x, each importing ArviZ when first
called: a fit needs none of them but the one-chain R-hat (its draws are laid out and written by
mixfit/results/fit_data.py, its plots' densities are mixfit/results/density.py's), and ArviZ's
import costs about a second.

pip installs ArviZ 1.x (arviz-base, arviz-stats, arviz-plots) where its Python is recent enough and
0.x elsewhere, so mixfit works with both. What 1.0 changed for mixfit: ``from_dict`` takes the groups
as one dict and returns an xarray DataTree, whose ``groups`` is a property of paths, instead of an
InferenceData; the plots draw through pyplot into figures of their own (mixfit draws its own, see
plots.py). R-hat, ESS, MCSE and E-BFMI of arrays and Datasets kept their meaning, and both write and
read the same netCDF file.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mixfit.results.fit_data import FitData, fit_data

CONVERGENCE = ("Rhat", "Bulk_ESS", "Tail_ESS", "MCSE_mean", "MCSE_sd")
# tail ESS: the smaller ESS of the 5% and 95% quantiles, as brms (the posterior package) and ArviZ
# 0.x compute it; ArviZ 1.x's default is its credible-interval probability, 0.89
TAIL = (0.05, 0.95)
# where ArviZ logs: 0.x under "arviz", 1.x's packages each under their own name
LOGGERS = ("arviz", "arviz_base", "arviz_stats", "arviz_plots")


def _arviz():
    # ArviZ 0.x says once a day, on import, that 1.x is coming: news for its own users, not mixfit's
    warnings.filterwarnings("ignore", message=r"\s*ArviZ is undergoing a major refactor")
    import arviz

    return arviz


def inference_data(groups: dict[str, dict[str, np.ndarray]], coords: dict, dims: dict) -> FitData:
    """The groups (group -> variable -> array) laid out as ArviZ's from_dict would."""
    return fit_data(groups, coords, dims)


def group_names(data: Any) -> set[str]:
    """The groups of a FitData, an InferenceData or a DataTree: posterior, sample_stats, ..."""
    if hasattr(data, "children"):  # a DataTree
        return set(data.children)
    return set(data.groups())


def write_netcdf(data: FitData, path: Path) -> None:
    data.to_netcdf(path)


def convergence(arrays: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """Rank-normalised split R-hat, bulk and tail ESS, MCSE of mean and SD of each quantity in
    (chain, draw, ...) arrays, flattened in C order; NaN where a figure can't be computed (too few
    draws, non-finite or constant draws). ArviZ's estimators, computed over all quantities at once
    (mixfit/results/convergence.py): ArviZ's own loop over quantities took minutes on thousands
    of levels. One chain's R-hat is its two halves' (split_rhat), as brms's."""
    from mixfit.results.convergence import summarise

    out = {}
    for key, values in arrays.items():
        if not values[0, 0].size:
            continue
        chains, draws = values.shape[:2]
        out[key] = summarise(values.reshape(chains, draws, -1))
        if chains == 1:  # ArviZ asks for two chains; brms splits the one it has
            out[key]["Rhat"] = split_rhat(values).ravel()
    return out


def split_rhat(draws: np.ndarray) -> np.ndarray:
    """Rank-normalised split R-hat of (chain, draw, ...) draws (Vehtari et al. 2021), for one
    chain too, as brms (the posterior package) computes it.

    ArviZ's R-hat splits each chain in two and then needs at least two chains, so it has none for
    one chain, though the split gives two: here the halves (the middle draw of an odd count left
    out, as both do) are rank-normalised over all draws, plain and folded about the median, and
    ArviZ's R-hat of each without a further split ("identity") is taken; the larger is the R-hat.
    For two chains or more this is ArviZ's rank R-hat exactly; NaN where ArviZ gives NaN (fewer
    than 4 draws per half, draws that are not finite or all equal)."""
    half = draws.shape[1] // 2
    halves = np.concatenate([draws[:, :half], draws[:, draws.shape[1] - half :]], axis=0)
    flat = halves.reshape(halves.shape[0], half, -1)
    folded = np.abs(flat - np.median(flat, axis=(0, 1)))
    az = _arviz()
    with quiet():
        dataset = az.convert_to_dataset({"bulk": _z_scale(flat), "tail": _z_scale(folded)})
        rhat = az.rhat(dataset, method="identity")
    # NaN in either stays NaN (np.maximum), as in ArviZ's own
    both = np.maximum(np.asarray(rhat["bulk"], dtype=float), np.asarray(rhat["tail"], dtype=float))
    return both.reshape(draws.shape[2:])


def _z_scale(draws: np.ndarray) -> np.ndarray:
    """Each quantity's draws (chain, draw, quantity) as normal scores of their ranks over all
    chains, ties averaged: the rank normalisation of ArviZ and the posterior package."""
    from scipy import stats

    n = draws.shape[0] * draws.shape[1]
    ranks = stats.rankdata(draws.reshape(n, -1), axis=0).reshape(draws.shape)
    z = stats.norm.ppf((ranks - 3 / 8) / (n + 1 / 4))
    return np.where(np.isfinite(draws), z, np.nan)


def ebfmi(energy: np.ndarray) -> list[float]:
    """E-BFMI of each chain from a (chain, draw) array of the Hamiltonian's energy: the mean
    squared change of energy between draws over its variance, ArviZ's bfmi."""
    energy = np.atleast_2d(np.asarray(energy, dtype=float))
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # one draw per chain: NaN, reported as such
        values = np.square(np.diff(energy, axis=1)).mean(axis=1) / np.var(energy, axis=1)
    return [float(v) for v in values]


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence what ArviZ says about data it was built to handle (a NaN, one draw per chain, a
    constant column): mixfit reports such figures itself, as checks that can't be computed."""
    loggers = [logging.getLogger(name) for name in LOGGERS]
    # ArviZ 0.x logs through a Logger of its own, unregistered (only if it is imported already)
    own = getattr(sys.modules.get("arviz"), "_log", None)
    if isinstance(own, logging.Logger):
        loggers.append(own)
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def psis(log_ratios: np.ndarray) -> tuple[np.ndarray, float]:
    """Pareto-smoothed log importance weights of 1-d log ratios (unnormalised), and the Pareto k
    of the ratios' tail: ArviZ 0.x's psislw, or in 1.x arviz-stats' array function of that name
    (whose newer tail length gives a somewhat different k on the same ratios). 0.x's takes the log
    ratios; arviz-stats' takes a log-likelihood and smooths its negation, so it is given -ratios."""
    log_ratios = np.asarray(log_ratios, dtype=float).copy()
    az = _arviz()
    with quiet():
        if hasattr(az, "psislw"):  # 0.x
            weights, k = az.psislw(log_ratios)
        else:
            from arviz_stats.base import array_stats

            weights, k = array_stats.psislw(-log_ratios)
    return np.asarray(weights, dtype=float), float(np.asarray(k))

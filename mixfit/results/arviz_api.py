"""The ArviZ calls mixfit makes, alike on ArviZ 0.x and 1.x.

pip installs ArviZ 1.x (arviz-base, arviz-stats, arviz-plots) where its Python is recent enough and
0.x elsewhere, so mixfit works with both. What 1.0 changed for mixfit: ``from_dict`` takes the groups
as one dict and returns an xarray DataTree, whose ``groups`` is a property of paths, instead of an
InferenceData; ``kde`` returns the bandwidth after the grid and density; the plots draw through
pyplot into figures of their own (mixfit draws its own, see plots.py). R-hat, ESS, MCSE and E-BFMI of
arrays and Datasets kept their meaning, and both write and read the same netCDF file.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import arviz as az
import numpy as np

ARVIZ_1 = int(az.__version__.split(".")[0]) >= 1
CONVERGENCE = ("Rhat", "Bulk_ESS", "Tail_ESS", "MCSE_mean", "MCSE_sd")
# tail ESS: the smaller ESS of the 5% and 95% quantiles, as brms (the posterior package) and ArviZ
# 0.x compute it; ArviZ 1.x's default is its credible-interval probability, 0.89
TAIL = (0.05, 0.95)


def inference_data(groups: dict[str, dict[str, np.ndarray]], coords: dict, dims: dict) -> Any:
    """InferenceData (0.x) or DataTree (1.x) holding ``groups``: group -> variable -> array."""
    with quiet():
        if ARVIZ_1:
            return az.from_dict(groups, coords=coords, dims=dims)
        return az.from_dict(**groups, coords=coords, dims=dims)


def group_names(data: Any) -> set[str]:
    """The groups of an InferenceData or DataTree: posterior, sample_stats, ..."""
    if hasattr(data, "children"):  # a DataTree
        return set(data.children)
    return set(data.groups())


def write_netcdf(data: Any, path: Path) -> None:
    # draws are noise to zlib: compressing them costs seconds and saves a few per cent (both
    # versions write uncompressed unless asked, but 0.x asks by default)
    if ARVIZ_1:
        data.to_netcdf(str(path), engine="h5netcdf")
    else:
        data.to_netcdf(str(path), engine="h5netcdf", compress=False)


def convergence(arrays: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """Rank-normalised split R-hat, bulk and tail ESS, MCSE of mean and SD of each quantity in
    (chain, draw, ...) arrays, flattened in C order; NaN where a figure can't be computed (too few
    draws, non-finite or constant draws). The arrays are handed to ArviZ as they are, uncopied."""
    arrays = {key: values for key, values in arrays.items() if values[0, 0].size}
    if not arrays:
        return {}
    with quiet():
        dataset = az.convert_to_dataset(arrays)
        figures = {
            "Rhat": az.rhat(dataset),
            "Bulk_ESS": az.ess(dataset, method="bulk"),
            "Tail_ESS": az.ess(dataset, method="tail", prob=TAIL),
            "MCSE_mean": az.mcse(dataset, method="mean"),
            "MCSE_sd": az.mcse(dataset, method="sd"),
        }
    return {
        key: {
            name: np.asarray(result[key], dtype=float).ravel() for name, result in figures.items()
        }
        for key in arrays
    }


def ebfmi(energy: np.ndarray) -> list[float]:
    """E-BFMI of each chain from a (chain, draw) array of the Hamiltonian's energy."""
    with quiet():
        return [float(v) for v in np.atleast_1d(az.bfmi(energy))]


def kde(values: np.ndarray, **options) -> tuple[np.ndarray, np.ndarray]:
    """ArviZ's kernel density estimate of 1-d draws: (grid, density)."""
    with quiet():
        grid, density = az.kde(values, **options)[:2]
    return grid, density


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence what ArviZ says about data it was built to handle (a NaN, one draw per chain, a
    constant column): mixfit reports such figures itself, as checks that can't be computed."""
    loggers = [logging.getLogger("arviz")]
    own = getattr(az, "_log", None)  # ArviZ 0.x logs through a Logger it made itself, unregistered
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

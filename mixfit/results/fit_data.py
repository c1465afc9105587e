"""A fit's draws as ArviZ lays them out (posterior, sample_stats, posterior_predictive,
log_likelihood, observed_data: one xarray Dataset per group), built without importing ArviZ.

ArviZ's import costs a warm fit about a second (0.x imports matplotlib's pyplot with it), more than
sampling sleepstudy takes, and a fit needs nothing of it but this layout: the groups are built here
as ``arviz.from_dict`` builds them (its dimension names, its ``chain`` and ``draw`` coordinates)
and written as the netCDF groups ``arviz.from_netcdf`` reads, so ``draws.nc`` opens in either
ArviZ series as before.
"""

from __future__ import annotations

import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import xarray as xr

GROUPS = ("posterior", "posterior_predictive", "log_likelihood", "sample_stats", "observed_data")
SAMPLED = {"posterior", "posterior_predictive", "log_likelihood", "sample_stats"}


class FitData:
    """Groups by name, each an xarray Dataset, read as attributes (``data.posterior``) or
    items (``data["posterior"]``), as an InferenceData's."""

    def __init__(self, groups: dict[str, xr.Dataset]) -> None:
        self._groups = dict(groups)

    def groups(self) -> list[str]:
        return [name for name in GROUPS if name in self._groups]

    def __getitem__(self, name: str) -> xr.Dataset:
        return self._groups[name]

    def __getattr__(self, name: str) -> xr.Dataset:
        groups = self.__dict__.get("_groups", {})
        if name in groups:
            return groups[name]
        raise AttributeError(name)

    def __setattr__(self, name: str, value) -> None:
        if name == "_groups":
            object.__setattr__(self, name, value)
        else:
            self._groups[name] = value

    def __copy__(self) -> FitData:
        return FitData(self._groups)

    def to_netcdf(self, path: Path) -> None:
        """One netCDF group per group, uncompressed (draws are noise to zlib: compressing costs
        seconds and saves a few per cent)."""
        mode = "w"
        for name in self.groups():
            self._groups[name].to_netcdf(str(path), mode=mode, group=name, engine="h5netcdf")
            mode = "a"


def fit_data(
    groups: dict[str, dict[str, np.ndarray]], coords: dict, dims: dict[str, list[str]]
) -> FitData:
    """``groups`` (group -> variable -> array) as ArviZ's ``from_dict`` lays them out: the sampled
    groups' arrays are (chain, draw, ...), observed_data's are as they are; a dimension without a
    name in ``dims`` is ``<variable>_dim_<i>``."""
    attrs = _attrs()
    out = {}
    for group, variables in groups.items():
        sampled = group in SAMPLED
        arrays = {}
        for name, values in variables.items():
            values = np.asarray(values)
            lead = ["chain", "draw"] if sampled else []
            rest = values.ndim - len(lead)
            named = list(dims.get(name, []))[:rest]
            own = named + [f"{name}_dim_{i}" for i in range(len(named), rest)]
            arrays[name] = xr.DataArray(
                values,
                dims=lead + own,
                coords={d: coords[d] for d in own if d in coords},
            )
        dataset = xr.Dataset(arrays, attrs=attrs)
        if sampled and arrays:
            chains, draws = next(iter(arrays.values())).shape[:2]
            dataset = dataset.assign_coords(chain=np.arange(chains), draw=np.arange(draws))
        out[group] = dataset
    return FitData(out)


def _attrs() -> dict[str, str]:
    try:
        own = version("mixfit")
    except PackageNotFoundError:  # a source tree on the path, not installed
        own = "unknown"
    return {
        "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "inference_library": "mixfit",
        "inference_library_version": own,
    }

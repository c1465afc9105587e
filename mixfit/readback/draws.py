"""draws.nc read back: a netCDF file mixfit wrote, or one clear error.

The file is opened with h5netcdf before anything loads it, and checked to be what mixfit
writes: HDF5 with the groups of an InferenceData, every array uncompressed (mixfit never
compresses draws, so their values can't take more memory than the file's size: no "zip bomb"),
each of ``chain`` x ``draw`` x more. The posterior is then held against the design: every
variable the design needs is there with its shape and labels, and no brms-named variable the
design does not have is (a design.json from another fit, or with its family edited, would
otherwise predict another model's numbers with exit code 0).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from mixfit.errors import InputError
from mixfit.model.families import FAMILIES
from mixfit.model.terms import gp, monotonic, smooth
from mixfit.readback import design_schema

WHAT = "a mixfit draws file"
SLACK = 1 << 20  # HDF5's headers, beside the arrays, in a file that holds them uncompressed
FAMILY_PARAMS = {p.name for f in FAMILIES.values() for p in f.params}


def check_file(path: Path, groups: tuple[str, ...] = ("posterior",)) -> None:
    """``path`` is an HDF5 file holding ``groups``, arrays no larger than the file."""
    import h5py

    shown = str(path)
    try:
        size = path.stat().st_size
        if size == 0:
            raise InputError(f"{shown!r} is not {WHAT}: it is empty")
        if not h5py.is_hdf5(str(path)):
            raise InputError(f"{shown!r} is not {WHAT}: not a netCDF-4 (HDF5) file")
        total = 0
        with h5py.File(str(path), "r") as handle:
            for group in groups:
                if group not in handle or not isinstance(handle[group], h5py.Group):
                    raise InputError(f"{shown!r} is not {WHAT}: it has no {group} group")
            for group in handle.values():
                if not isinstance(group, h5py.Group):
                    continue
                for item in group.values():
                    if isinstance(item, h5py.Dataset):
                        filters = item.id.get_create_plist().get_nfilters()
                        if filters or item.dtype.kind not in "biufSUO":
                            raise InputError(
                                f"{shown!r} is not {WHAT}: {item.name} is not as mixfit writes it"
                            )
                        total += item.size * item.dtype.itemsize
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - h5py raises many types for a damaged file
        raise InputError(f"{shown!r} is not {WHAT}: {_reason(exc)}") from None
    if total > size + SLACK:
        raise InputError(f"{shown!r} is not {WHAT}: its arrays hold more than the file's size")


def posterior(path: Path) -> xr.Dataset:
    """The posterior group of a checked draws file, loaded."""
    check_file(path)
    try:
        with xr.open_dataset(path, group="posterior", engine="h5netcdf") as dataset:
            loaded = dataset.load()
    except Exception as exc:  # noqa: BLE001 - a truncated file fails on reading, in many ways
        raise InputError(f"{str(path)!r} is not {WHAT}: {_reason(exc)}") from None
    for dim in ("chain", "draw"):
        if loaded.sizes.get(dim, 0) < 1:
            raise InputError(f"{str(path)!r} is not {WHAT}: its posterior has no {dim}s")
    return loaded


def check_against_design(dataset: xr.Dataset, design: dict, source: str) -> None:
    """Every variable the design needs, with its shape; no brms-named variable it lacks."""
    expected = expected_variables(design)
    mismatch = f"{source}: draws.nc and design.json are not of one fit"
    for name, extra_dims in expected.items():
        if name not in dataset:
            raise InputError(f"{mismatch} (draws.nc has no {name[:100]!r})")
        variable = dataset[name]
        if variable.dims[:2] != ("chain", "draw") or variable.ndim != 2 + len(extra_dims):
            raise InputError(f"{mismatch} ({name[:100]!r} has dimensions {variable.dims})")
        if tuple(variable.shape[2:]) != extra_dims:
            raise InputError(f"{mismatch} ({name[:100]!r} has shape {variable.shape})")
        if variable.dtype.kind not in "iuf":
            raise InputError(f"{mismatch} ({name[:100]!r} is not numbers)")
    for name in dataset.data_vars:
        name = str(name)
        if name not in expected and _brms_named(name):
            raise InputError(f"{mismatch} (draws.nc has {name[:100]!r}, which design.json lacks)")
    for group in design["groups"]:
        for name in _group_variables(group):
            if not name.startswith("r_"):
                continue
            variable = dataset[name]
            labels = variable.coords.get(variable.dims[2])
            if labels is not None and [str(v) for v in labels.values] != group["levels"]:
                raise InputError(f"{mismatch} (the levels of {group['group'][:100]!r} differ)")


def expected_variables(design: dict) -> dict[str, tuple[int, ...]]:
    """Each posterior variable the design needs, with its dimensions past chain and draw."""
    out: dict[str, tuple[int, ...]] = {}
    categories = design["response"]["categories"]
    if design["family"] == "categorical":
        pass  # no mu: a predictor per category but the first (b_muyes_Intercept), among dpars
    elif categories:
        out["b_Intercept"] = (len(categories) - 1,)
    elif design["population"]["intercept"]:
        out["b_Intercept"] = ()
    for coef in design["population"]["coefs"] if design["family"] != "categorical" else ():
        out[f"b_{coef}"] = ()
    out |= smooth.expected_draws(design["population"].get("smooths", []), "")
    out |= gp.expected_draws(design["population"].get("gps", []), "")
    out |= monotonic.expected_draws(design["population"].get("monotonic", []), "")
    for coef in design.get("category_specific", {}).get("coefs", []):  # cs(): per threshold
        out[f"bcs_{coef}"] = (len(categories) - 1,)
    for dpar, part in design.get("dpars", {}).items():  # brms's b_sigma_Intercept, b_sigma_x
        if part["intercept"]:
            out[f"b_{dpar}_Intercept"] = ()
        for coef in part["coefs"]:
            out[f"b_{dpar}_{coef}"] = ()
        out |= smooth.expected_draws(part.get("smooths", []), f"{dpar}_")
        out |= gp.expected_draws(part.get("gps", []), f"{dpar}_")
        out |= monotonic.expected_draws(part.get("monotonic", []), f"{dpar}_")
    for group in design["groups"]:
        out |= _group_variables(group)
    autocor = design.get("autocor")
    if autocor:  # brms's ar[1], ma[1], cosy
        if autocor["class"] == "cosy":
            out["cosy"] = ()
        out |= {f"ar[{k}]": () for k in range(1, autocor["p"] + 1)}
        out |= {f"ma[{k}]": () for k in range(1, autocor["q"] + 1)}
    with_formula = set(design.get("dpars", {}))
    for param in design_schema.params(design):
        if param.name not in with_formula:
            out[param.name] = ()
    return out


def _group_variables(group: dict) -> dict[str, tuple[int, ...]]:
    """A grouping factor's SDs and correlations, and its effects per formula: ``r_g`` for the
    mean's terms, ``r_g__sigma`` for sigma's. Blocks of one ID (``(1 | p | g)`` in several
    formulas) are one correlation matrix over their terms, in block order."""
    out: dict[str, tuple[int, ...]] = {}
    name = group["group"]
    joined: dict[object, list[str]] = {}
    effects: dict[str, int] = {}
    for b, block in enumerate(group["blocks"]):
        for term in block["terms"]:
            out[f"sd_{name}__{term}"] = ()
        if block["correlated"]:
            joined.setdefault(block.get("id", ("block", b)), []).extend(block["terms"])
        dpar = block.get("dpar", "mu")
        key = f"r_{name}" if dpar == "mu" else f"r_{name}__{dpar}"
        effects[key] = effects.get(key, 0) + len(block["terms"])
    for terms in joined.values():
        for t, term in enumerate(terms):
            for other in terms[t + 1 :]:
                out[f"cor_{name}__{term}__{other}"] = ()
    for key, count in effects.items():
        out[key] = (len(group["levels"]), count)
    return out


BRMS_PREFIXES = ("b_", "bs_", "bcs_", "sd_", "sds_", "cor_", "r_", "ar[", "ma[")
BRMS_PREFIXES += ("sdgp_", "lscale_", "zgp_")  # gp() terms
BRMS_PREFIXES += ("bsp_", "simo_")  # mo() terms


def _brms_named(name: str) -> bool:
    return name.startswith(BRMS_PREFIXES) or name in FAMILY_PARAMS or name == "cosy"


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


MIN_LOO_DRAWS = 10  # below this, PSIS's Pareto k threshold 1 - 1/log10(S) is not a threshold


def inference_data(path: Path):
    """The whole of a checked draws file as ArviZ reads it (for loo)."""
    import arviz as az

    check_file(path)
    try:
        return az.from_netcdf(str(path))
    except Exception as exc:  # noqa: BLE001 - a truncated file fails on reading, in many ways
        raise InputError(f"{str(path)!r} is not {WHAT}: {_reason(exc)}") from None


def check_pointwise(log_lik, observed, path: Path) -> None:
    """log_likelihood is chain x draw x rows, observed_data one value per row, finite draws."""
    if log_lik.ndim != 3 or observed.ndim != 1 or log_lik.shape[-1] != observed.shape[0]:
        raise InputError(
            f"{str(path)!r} is not {WHAT}: its log_likelihood ({log_lik.shape}) does not match "
            f"its observed_data ({observed.shape})"
        )
    draws = log_lik.shape[0] * log_lik.shape[1]
    if draws < MIN_LOO_DRAWS:
        raise InputError(
            f"{str(path)!r} holds {draws} draw(s): PSIS-LOO needs at least {MIN_LOO_DRAWS} "
            "(refit with more --iter)"
        )
    if log_lik.dtype.kind != "f" or not np.isfinite(np.asarray(log_lik)).any(axis=(0, 1)).all():
        raise InputError(f"{str(path)!r}: a row's log-likelihood is not finite in any draw")

"""The posterior under brms's names, as ``draws.nc`` holds it.

The fit works with the Stan program's names (``b``, ``sd_1``, ``Cor_1``, ``r_1``): summaries,
diagnostics and plots read those. A user opening ``draws.nc`` in ArviZ finds brms's instead, one
variable per parameter as ``as_draws`` gives them:

- ``b_Intercept``, ``b_<coef>``: population-level effects (the intercept on the predictors' own
  scale); ordinal thresholds are ``b_Intercept`` with a ``threshold`` dimension (1 .. K-1);
- ``bcs_<coef>``: a category-specific effect (cs()), with the same ``threshold`` dimension (brms's
  bcs_<coef>[1], bcs_<coef>[2], ...);
- ``sd_<group>__<term>``, ``cor_<group>__<term1>__<term2>``: group-level SDs and correlations;
- ``bs_<coef>``, ``sds_<smooth>_<j>``, ``s_<smooth>_<j>``: a smooth's unpenalised coefficients
  (``bs_sTime_1``), the SD of its penalised block j and that block's coefficients (a vector);
- ``sdgp_<gp>``, ``lscale_<gp>``, ``zgp_<gp>``: a Gaussian process's SD, length-scale and
  latent variables (a vector), ``<gp>`` brms's suffix (``gpx``, ``gpxfaca`` per by level);
- ``bsp_mo<x>``, ``simo_mo<x>1``: a monotonic effect's mean step and its simplex (a vector);
- ``sigma``, ``shape``, ``nu``, ``phi``, ``zi``: the family's parameters;
- ``r_<group>``: each level's deviations, dimensions ``(<group>, <group>__term)`` labelled with
  the levels and terms; blocks of one grouping factor (``(1 | g) + (0 + x | g)``) share one
  variable, as in brms. A grouping factor named like a variable or ``chain``/``draw`` names its
  level dimension ``<group>__level`` instead.

Left out: the standardised effects ``z_*`` and ``zs_*``, the Cholesky factors ``L_*``, ``C_*`` and the intercept
on centred predictors, which brms also keeps to itself.
"""

from __future__ import annotations

import copy

import xarray as xr

from mixfit.model.program import Model
from mixfit.model.terms import autocor, category_specific, gp, monotonic, smooth

INTERNAL_PREFIXES = ("z_", "zs_", "L_", "C_")


def with_posterior(idata, posterior: xr.Dataset):
    """A shallow copy of ``idata`` with ``posterior`` (brms_posterior's) as its posterior."""
    named = copy.copy(idata)
    if isinstance(named, xr.DataTree):  # ArviZ 1.x keeps its groups in a DataTree
        named["posterior"] = posterior
    else:
        named.posterior = posterior
    return named


def brms_posterior(model: Model, posterior: xr.Dataset) -> xr.Dataset:
    if isinstance(posterior, xr.DataTree):  # ArviZ 1.x's group
        posterior = posterior.to_dataset()
    design = model.design
    out: dict[str, xr.DataArray] = {}
    if model.thresholds:
        thresholds = posterior["b_Intercept"]
        out["b_Intercept"] = xr.DataArray(
            thresholds.values,
            dims=("chain", "draw", "threshold"),
            coords={"threshold": [int(t) for t in model.thresholds]},
        )
    elif "b_Intercept" in posterior:
        out["b_Intercept"] = posterior["b_Intercept"]
    for predictor in design.dpars:
        out[f"b_{predictor}_Intercept"] = posterior[f"b_{predictor}_Intercept"]
    for predictor in design.predictors.values():
        b = posterior[f"b{predictor.suffix}"].values
        for i, coef in enumerate(predictor.coefs):
            out[f"b_{predictor.prefix}{coef}"] = _scalar(b[:, :, i])
    for predictor in design.predictors.values():
        for stan, names in smooth.draw_names(predictor).items() if predictor.smooths else ():
            values = posterior[stan].values
            if stan.startswith("s_"):  # a penalised block's coefficients: one vector
                out[names[0]] = xr.DataArray(values, dims=("chain", "draw", f"{names[0]}_dim_0"))
            elif stan.startswith("sds"):
                out[names[0]] = posterior[stan]
            else:
                for i, name in enumerate(names):
                    out[name] = _scalar(values[:, :, i])
    for predictor in design.predictors.values():
        out |= _gp_draws(predictor, posterior)
        out |= _monotonic_draws(predictor, posterior)
    cs = design.category_specific
    if cs is not None:
        bcs = category_specific.matrix(posterior["bcs"].values, len(cs.coefs))
        for j, coef in enumerate(cs.coefs):
            out[f"bcs_{coef}"] = xr.DataArray(
                bcs[:, :, j, :],
                dims=("chain", "draw", "threshold"),
                coords={"threshold": [int(t) for t in model.thresholds]},
            )
    for block in design.blocks:
        sd = posterior[f"sd_{block.id}"].values
        for m, term in enumerate(block.terms):
            out[f"sd_{block.group}__{term}"] = _scalar(sd[:, :, m])
    for block in design.blocks:
        if block.has_cor:
            cor = posterior[f"Cor_{block.id}"].values
            for a, first in enumerate(block.terms):
                for b in range(a + 1, len(block.terms)):
                    name = f"cor_{block.group}__{first}__{block.terms[b]}"
                    out[name] = _scalar(cor[:, :, a, b])
    for param in model.scalar_params:
        out[param.name] = posterior[param.name]
    for name, values in autocor_draws(model, posterior).items():  # brms's ar[1], ma[1], cosy
        out[name] = _scalar(values)
    taken = set(out) | {"chain", "draw", "threshold"}
    for group, blocks in _by_group(design.blocks).items():
        level_dim = f"{group}__level" if group in taken else group
        for dpar in dict.fromkeys(d for b in blocks for d in b.feeds):
            # brms: r_Subject for mu's terms, r_Subject__sigma for sigma's, unprefixed
            name = f"r_{group}" if dpar == "mu" else f"r_{group}__{dpar}"
            out[name] = _group_effects(posterior, blocks, dpar, level_dim, name)
    known = {"b", "Intercept", "b_Intercept", "bcs"} | {p.name for p in model.family.params}
    for predictor in design.dpars:
        known |= {f"b_{predictor}", f"Intercept_{predictor}", f"b_{predictor}_Intercept"}
    for block in design.blocks:
        known |= {f"sd_{block.id}", f"Cor_{block.id}", f"r_{block.id}"}
    if design.autocor is not None:
        known |= set(autocor.draw_names(design.autocor.term))
    for predictor in design.predictors.values():
        known |= set(smooth.draw_names(predictor)) if predictor.smooths else set()
        known |= set(gp.draw_names(predictor)) | gp.internal_names(predictor)
        known |= set(monotonic.draw_names(predictor)) if predictor.monotonic else set()
    for name, values in posterior.data_vars.items():  # anything an engine adds stays as it is
        if name not in known and not str(name).startswith(INTERNAL_PREFIXES):
            out[str(name)] = values
    return xr.Dataset(
        out, coords={"chain": posterior["chain"], "draw": posterior["draw"]}, attrs=posterior.attrs
    )


def _monotonic_draws(predictor, posterior: xr.Dataset) -> dict[str, xr.DataArray]:
    """brms's bsp_mox (one scalar per term) and simo_mox1 (the simplex, a vector)."""
    out = {}
    for stan, names in monotonic.draw_names(predictor).items() if predictor.monotonic else ():
        values = posterior[stan].values
        if stan.startswith("simo"):
            out[names[0]] = xr.DataArray(values, dims=("chain", "draw", f"{names[0]}_dim_0"))
        else:
            for i, name in enumerate(names):
                out[name] = _scalar(values[:, :, i])
    return out


def _gp_draws(predictor, posterior: xr.Dataset) -> dict[str, xr.DataArray]:
    """A predictor's GPs under brms's names: an SD and a length-scale per GP, its zgp vector."""
    out = {}
    for stan, names in gp.draw_names(predictor).items():
        values = posterior[stan].values
        if stan.startswith("zgp"):
            out[names[0]] = xr.DataArray(values, dims=("chain", "draw", f"{names[0]}_dim_0"))
        else:
            for i, name in enumerate(names):
                out[name] = _scalar(values[:, :, i])
    return out


def _group_effects(posterior: xr.Dataset, blocks: list, dpar: str, level_dim: str, name: str):
    """One predictor's effects of a grouping factor, its blocks side by side, terms labelled as
    that predictor names them."""
    parts = []
    for block in blocks:
        columns = block.columns(dpar)
        if not columns:
            continue
        r = posterior[f"r_{block.id}"].rename({f"level_{block.id}": level_dim})
        r = r.rename({f"term_{block.id}": "t"})
        if len(columns) < len(block.terms):
            r = r.isel(t=columns)
        r = r.assign_coords(t=[block.term_name(k) for k in columns])
        parts.append(r)
    r = parts[0] if len(parts) == 1 else xr.concat(parts, dim="t")  # one block: no copy
    return r.rename({"t": f"{name[2:]}__term"})


def _scalar(values) -> xr.DataArray:
    return xr.DataArray(values, dims=("chain", "draw"))


def _by_group(blocks) -> dict[str, list]:
    groups: dict[str, list] = {}
    for block in blocks:
        groups.setdefault(block.group, []).append(block)
    return groups


def autocor_draws(model: Model, posterior) -> dict:
    """The autocorrelation parameters under brms's names, each as (chain, draw)."""
    design = model.design
    if design.autocor is None:
        return {}
    out = {}
    for variable, names in autocor.draw_names(design.autocor.term).items():
        values = posterior[variable].values
        if values.ndim == 2:
            out[names[0]] = values
        else:
            for k, name in enumerate(names):
                out[name] = values[:, :, k]
    return out

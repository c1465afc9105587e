"""The tables a brms user reads: fixef, ranef, coef and varcorr, computed from the draws.

Every summary works draw by draw on (chain, draw) arrays; R-hat and ESS are ArviZ's estimators
(mixfit/results/convergence.py). A draw that is not finite (a generated quantity that overflowed)
is left out of the estimates, which count the finite draws only; the diagnostics say how many were
left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice

import numpy as np
import pandas as pd

from mixfit.model.program import Model
from mixfit.model.terms import category_specific, gp, monotonic, smooth
from mixfit.results import arviz_api


def interval_columns(prob: float) -> tuple[str, str]:
    low, high = (1 - prob) / 2 * 100, (1 + prob) / 2 * 100
    return f"Q{low:g}", f"Q{high:g}"


def describe(values: np.ndarray, prob: float) -> dict:
    """Estimate, Est.Error and the central interval of the finite draws of a (chain, draw) array."""
    low, high = interval_columns(prob)
    flat = values.reshape(-1)
    flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        return {"Estimate": np.nan, "Est.Error": np.nan, low: np.nan, high: np.nan}
    return {
        "Estimate": float(flat.mean()),
        "Est.Error": float(flat.std(ddof=1)),
        low: float(np.quantile(flat, (1 - prob) / 2)),
        high: float(np.quantile(flat, (1 + prob) / 2)),
    }


def convergence(quantities: dict[str, np.ndarray]) -> dict[str, dict]:
    """Rank-normalised split R-hat, bulk and tail ESS (ArviZ) of each (chain, draw) array."""
    if not quantities:
        return {}
    figures = arviz_api.convergence({"q": np.stack(list(quantities.values()), axis=-1)})["q"]
    return {
        name: {column: float(figures[column][i]) for column in ("Rhat", "Bulk_ESS", "Tail_ESS")}
        for i, name in enumerate(quantities)
    }


def _rows(keyed: Iterable[tuple[dict, np.ndarray]], prob: float, with_convergence: bool) -> list:
    """A row per (keys, draws): keys, describe()'s figures and, asked for, R-hat and ESS. The
    draws are taken a chunk at a time, so an iterator of thousands of levels' draws (coef's) is
    never all in memory at once (the 500,000-row benchmark's 10,000: 320 MB)."""
    checks = {}
    if with_convergence:
        keyed = list(keyed)
        checks = convergence({str(i): v for i, (_, v) in enumerate(keyed)})
    rows, pending = [], iter(keyed)
    while chunk := list(islice(pending, ROWS_AT_ONCE)):
        part = [values for _, values in chunk]
        described = _describe_many(
            np.stack([np.broadcast_to(v, part[0].shape) for v in part], -1), prob
        )
        for (keys, _), figures in zip(chunk, described):
            rows.append({**keys, **figures, **checks.get(str(len(rows)), {})})
    return rows


# quantities summarised in one array operation: 500 x 4,000 draws is 16 MB
ROWS_AT_ONCE = 500


def _describe_many(values: np.ndarray, prob: float) -> list[dict]:
    """describe() of each quantity of a (chain, draw, K) array, as one operation where every draw
    is finite (quantities with a non-finite draw go one by one)."""
    flat = values.reshape(-1, values.shape[-1])
    finite = np.isfinite(flat).all(axis=0)
    low, high = interval_columns(prob)
    if flat.shape[0] < 2 or not finite.any():
        return [describe(values[..., i], prob) for i in range(values.shape[-1])]
    mean = flat.mean(axis=0)
    sd = flat.std(axis=0, ddof=1)
    lower, upper = np.quantile(flat, [(1 - prob) / 2, (1 + prob) / 2], axis=0)
    return [
        {
            "Estimate": float(mean[i]),
            "Est.Error": float(sd[i]),
            low: float(lower[i]),
            high: float(upper[i]),
        }
        if finite[i]
        else describe(values[..., i], prob)
        for i in range(flat.shape[1])
    ]


def fixef_draws(model: Model, posterior) -> dict[str, np.ndarray]:
    """Population-level effects, each as (chain, draw), in brms's order: every predictor's
    intercept (``Intercept``, ``sigma_Intercept``), then every predictor's coefficients."""
    out = {}
    predictors = model.design.predictors.values()
    for predictor in predictors:
        if predictor.dpar == "mu" and model.thresholds:  # ordinal: Intercept[1], Intercept[2], ...
            for k, label in enumerate(model.thresholds):
                out[f"Intercept[{label}]"] = posterior["b_Intercept"].values[:, :, k]
        elif predictor.has_intercept:
            out[predictor.intercept_name] = posterior[f"b{predictor.suffix}_Intercept"].values
    for predictor in predictors:
        b = posterior[f"b{predictor.suffix}"].values
        for i, coef in enumerate(predictor.coefs):
            out[predictor.prefix + coef] = b[:, :, i]
        if predictor.smooth_coefs:  # its smooths' unpenalised coefficients, brms's bs_sTime_1
            bs = posterior[f"bs{predictor.suffix}"].values
            for i, coef in enumerate(predictor.smooth_coefs):
                out[predictor.prefix + coef] = bs[:, :, i]
        if predictor.monotonic:  # brms's bsp_mox, the Population-Level row mox
            bsp = posterior[f"bsp{predictor.suffix}"].values
            for i, coef in enumerate(predictor.monotonic_coefs):
                out[predictor.prefix + coef] = bsp[:, :, i]
    cs = model.design.category_specific
    if cs is not None:  # brms's z[1], z[2], ...: each cs() coefficient at each threshold
        bcs = category_specific.matrix(posterior["bcs"].values, len(cs.coefs))
        names = iter(category_specific.names(cs.coefs, len(model.thresholds)))
        for j in range(len(cs.coefs)):
            for k in range(len(model.thresholds)):
                out[next(names)] = bcs[:, :, j, k]
    return out


def smooth_draws(model: Model, posterior) -> dict[str, np.ndarray]:
    """Each smooth's SDs under brms's summary names, ``sds(sTime_1)``, as (chain, draw)."""
    out = {}
    for predictor in model.design.predictors.values():
        if predictor.smooths:
            for stan, names in smooth.draw_names(predictor).items():
                if stan.startswith("sds"):
                    out[f"sds({names[0][len('sds_') :]})"] = posterior[stan].values
    return out


def simplex_draws(model: Model, posterior) -> dict[str, np.ndarray]:
    """Each monotonic simplex's elements under brms's summary names, ``mox1[1]``."""
    out = {}
    for predictor in model.design.predictors.values():
        if predictor.monotonic:
            for stan, names in monotonic.draw_names(predictor).items():
                if stan.startswith("simo"):
                    values = posterior[stan].values
                    label = names[0][len("simo_") :]
                    for k in range(values.shape[2]):
                        out[f"{label}[{k + 1}]"] = values[:, :, k]
    return out


def simplexes(model: Model, posterior, prob: float = 0.95) -> pd.DataFrame:
    """brms's "Simplex Parameters": the monotonic effects' simplexes, a row per element."""
    keyed = [({"param": t}, v) for t, v in simplex_draws(model, posterior).items()]
    rows = _rows(keyed, prob, True)
    return pd.DataFrame(rows, columns=_columns(["param"], prob, True))


def smooths(model: Model, posterior, prob: float = 0.95) -> pd.DataFrame:
    """brms's "Smooth Terms": the SD of each smooth's penalised blocks."""
    keyed = [({"param": t}, v) for t, v in smooth_draws(model, posterior).items()]
    rows = _rows(keyed, prob, True)
    return pd.DataFrame(rows, columns=_columns(["param"], prob, True))


def gp_draws(model: Model, posterior) -> dict[str, np.ndarray]:
    """Each GP's SD and length-scale under brms's summary names, ``sdgp(gpx)``, ``lscale(gpx)``,
    as (chain, draw): brms's rows, the SDs of every GP, then the length-scales, per term."""
    out = {}
    for predictor in model.design.predictors.values():
        for stan, names in gp.draw_names(predictor).items():
            if stan.startswith(("sdgp", "lscale")):
                values = posterior[stan].values
                for i, name in enumerate(names):
                    cls, _, rest = name.partition("_")
                    out[f"{cls}({rest})"] = values[:, :, i]
    return out


def gps(model: Model, posterior, prob: float = 0.95) -> pd.DataFrame:
    """brms's "Gaussian Process Terms": each GP's SD and length-scale."""
    keyed = [({"param": t}, v) for t, v in gp_draws(model, posterior).items()]
    rows = _rows(keyed, prob, True)
    return pd.DataFrame(rows, columns=_columns(["param"], prob, True))


def fixef(model: Model, posterior, prob: float = 0.95) -> pd.DataFrame:
    keyed = [({"term": t}, v) for t, v in fixef_draws(model, posterior).items()]
    rows = _rows(keyed, prob, True)
    return pd.DataFrame(rows, columns=_columns(["term"], prob, True))


def ranef(model: Model, posterior, prob: float = 0.95) -> pd.DataFrame:
    """Each level's deviation from the population-level effect, as brms's ranef."""
    keyed = []
    for block in model.design.blocks:
        r = posterior[f"r_{block.id}"].values  # chain, draw, level, term
        for j, level in enumerate(block.levels):
            for m, term in enumerate(block.terms):
                keyed.append(({"group": block.group, "level": level, "term": term}, r[:, :, j, m]))
    rows = _rows(keyed, prob, False)
    return pd.DataFrame(rows, columns=_columns(["group", "level", "term"], prob, False))


def coef(model: Model, posterior, prob: float = 0.95) -> pd.DataFrame:
    """Each level's own coefficients: population effect plus deviation, combined draw by draw."""
    population = fixef_draws(model, posterior)
    keyed = (  # a generator: _rows takes a chunk of levels' draws at a time
        ({"group": group, "level": level, "term": term}, values)
        for group, level, term, values in coef_draws(model, posterior, population)
    )
    rows = _rows(keyed, prob, False)
    return pd.DataFrame(rows, columns=_columns(["group", "level", "term"], prob, False))


def coef_draws(model: Model, posterior, population: dict[str, np.ndarray]):
    """(group, level, term, draws) for every level and every term of its group.

    As brms's coef: for each group, the population-level effects plus the sum of that group's
    deviations for the same term (a term without a group-level part keeps its population value).
    """
    by_group: dict[str, list] = {}
    for block in model.design.blocks:
        by_group.setdefault(block.group, []).append(block)
    for group, blocks in by_group.items():
        levels = blocks[0].levels
        for j, level in enumerate(levels):
            terms = dict(population)
            for block in blocks:
                r = posterior[f"r_{block.id}"].values
                for m, term in enumerate(block.terms):
                    base = terms.get(term, 0.0)
                    terms[term] = base + r[:, :, j, m]
            for term, values in terms.items():
                yield group, level, term, np.broadcast_to(values, r.shape[:2])


def labelled_draws(model: Model, posterior) -> dict[str, dict[str, np.ndarray]]:
    """The model's scalar parameters under brms names, each as (chain, draw), grouped by kind."""
    design = model.design
    cs = design.category_specific
    cs_names = set(category_specific.names(cs.coefs, len(model.thresholds))) if cs else set()
    mo_names = {p.prefix + c for p in design.predictors.values() for c in p.monotonic_coefs}
    population = {
        f"{'bcs' if term in cs_names else 'bsp' if term in mo_names else 'b'}_{term}": values
        for term, values in fixef_draws(model, posterior).items()  # brms's bcs_z[1], bsp_mox
    }
    sd, cor = {}, {}
    for block in design.blocks:
        values = posterior[f"sd_{block.id}"].values
        for m, term in enumerate(block.terms):
            sd[f"sd_{block.group}__{term}"] = values[:, :, m]
        if block.has_cor:
            values = posterior[f"Cor_{block.id}"].values
            for a, first in enumerate(block.terms):
                for b in range(a + 1, len(block.terms)):
                    cor[f"cor_{block.group}__{first}__{block.terms[b]}"] = values[:, :, a, b]
    family = {p.name: posterior[p.name].values for p in model.scalar_params}
    from mixfit.results.naming import autocor_draws

    family |= autocor_draws(model, posterior)  # ar[1], ma[1], cosy beside the family's own
    sds = {f"sds_{name[4:-1]}": values for name, values in smooth_draws(model, posterior).items()}
    gpars = {n.replace("(", "_")[:-1]: v for n, v in gp_draws(model, posterior).items()}
    simplex = {f"simo_{t}": v for t, v in simplex_draws(model, posterior).items()}
    return {
        "population": population,
        "sd": sd | sds | gpars,
        "cor": cor,
        "family": family,
        "simplex": simplex,  # the monotonic effects' simplexes, simo_mox1[1]
    }


def level_names(block) -> list[str]:
    """brms's names of a block's group-level effects (``r_Subject[308,Intercept]``), in the order
    of its (level, term) draws."""
    return [f"r_{block.group}[{level},{term}]" for level in block.levels for term in block.terms]


# varcorr's group of the autocorrelation parameters, which brms prints as Correlation Structures
AUTOCOR_GROUP = "Correlation Structures"


def varcorr(model: Model, posterior, prob: float = 0.95) -> pd.DataFrame:
    """SDs and correlations per group, then the family's own parameters under ``Residual``."""
    keyed = []
    for block in model.design.blocks:
        sd = posterior[f"sd_{block.id}"].values
        for m, term in enumerate(block.terms):
            keyed.append(({"group": block.group, "param": f"sd({term})"}, sd[:, :, m]))
        if block.has_cor:
            cor = posterior[f"Cor_{block.id}"].values
            for a in range(len(block.terms)):
                for b in range(a + 1, len(block.terms)):
                    name = f"cor({block.terms[a]},{block.terms[b]})"
                    keyed.append(({"group": block.group, "param": name}, cor[:, :, a, b]))
    for param in model.scalar_params:  # a parameter with a formula is among fixef's rows
        keyed.append(({"group": "Residual", "param": param.name}, posterior[param.name].values))
    from mixfit.results.naming import autocor_draws

    for name, values in autocor_draws(model, posterior).items():  # ar[1], ma[1], cosy
        keyed.append(({"group": AUTOCOR_GROUP, "param": name}, values))
    rows = _rows(keyed, prob, True)
    return pd.DataFrame(rows, columns=_columns(["group", "param"], prob, True))


def _columns(keys: list[str], prob: float, convergence: bool) -> list[str]:
    low, high = interval_columns(prob)
    extra = ["Rhat", "Bulk_ESS", "Tail_ESS"] if convergence else []
    return keys + ["Estimate", "Est.Error", low, high] + extra

"""A results folder read back for what comes after the fit: its design, its run record, and its
posterior draws (brms's names in draws.nc) as numpy arrays with one row per draw."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from mixfit.errors import InputError
from mixfit.model.terms import gp, monotonic, smooth
from mixfit.readback import design_schema, results_folder


@dataclass(frozen=True)
class BlockDraws:
    columns: slice  # the block's terms among its group's
    sd: np.ndarray  # draws x terms
    cor: np.ndarray | None  # draws x terms x terms, for a correlated block of two or more terms


@dataclass(frozen=True)
class GroupDraws:
    name: str
    r: np.ndarray  # draws x levels x terms (every block of the group, side by side)
    blocks: list[BlockDraws]
    dpars: tuple[str, ...] = ()  # the predictor each term feeds (empty: all mu's)
    # (mo(x) | g): per mo() label of its terms, the population term's simplex, draws x D
    simplexes: dict[str, np.ndarray] = field(default_factory=dict)

    def columns(self, dpar: str) -> list[int]:
        return [
            k for k in range(self.r.shape[2]) if (self.dpars[k] if self.dpars else "mu") == dpar
        ]


@dataclass(frozen=True)
class PredictorDraws:
    """One predictor's population-level effects: mu's, or a distributional parameter's."""

    link: str
    intercept: np.ndarray | None  # draws
    b: np.ndarray  # draws x coefficients, in design.json's order, then its smooths' (bs, s),
    # its GPs', then its mo() terms' steps
    gp_scales: tuple = ()  # per GP, its draws of sdgp and lscale (an exact GP at new rows)


@dataclass(frozen=True)
class Posterior:
    """Every draw (chains one after another) of the parameters a prediction needs."""

    chains: int
    predictors: dict[str, PredictorDraws]  # mu's first, then each parameter's with a formula
    thresholds: np.ndarray | None  # draws x (categories - 1), ordinal families
    family: dict[str, np.ndarray]  # the family's parameters without a formula: draws
    groups: list[GroupDraws]
    cs: np.ndarray | None = None  # cs(): draws x (Kcs * nthres), to_matrix's order (Stan's bcs)

    @property
    def mu(self) -> PredictorDraws:
        """mu's; a categorical model's first category's (it has one predictor per category)."""
        return self.predictors.get("mu") or next(iter(self.predictors.values()))

    @property
    def intercept(self) -> np.ndarray | None:
        return self.mu.intercept

    @property
    def b(self) -> np.ndarray:
        return self.mu.b

    @property
    def size(self) -> int:
        return len(self.b)

    def take(self, keep: np.ndarray) -> Posterior:
        """The draws numbered ``keep``, as one chain."""

        def pick(values):
            return None if values is None else values[keep]

        return Posterior(
            chains=1,
            predictors={
                d: PredictorDraws(
                    p.link,
                    pick(p.intercept),
                    p.b[keep],
                    tuple((s[keep], ls[keep]) for s, ls in p.gp_scales),
                )
                for d, p in self.predictors.items()
            },
            thresholds=pick(self.thresholds),
            cs=pick(self.cs),
            family={name: values[keep] for name, values in self.family.items()},
            groups=[
                GroupDraws(
                    g.name,
                    g.r[keep],
                    [BlockDraws(b.columns, b.sd[keep], pick(b.cor)) for b in g.blocks],
                    g.dpars,
                    {label: simo[keep] for label, simo in g.simplexes.items()},
                )
                for g in self.groups
            ],
        )


@dataclass(frozen=True)
class SavedFit:
    outdir: Path
    design: dict
    run: dict
    posterior: Posterior


def load(outdir: Path) -> SavedFit:
    """Read ``outdir``'s design.json, run.json and draws.nc posterior; errors name what is missing."""
    if not outdir.is_dir():
        raise InputError(f"results folder {str(outdir)!r} does not exist")
    for name in ("draws.nc", "run.json"):
        if not (outdir / name).is_file():
            raise InputError(f"{str(outdir)!r} is not a mixfit results folder (no {name})")
    # a results folder is untrusted input: each file checked, and held against the others
    design = results_folder.read_design(outdir)
    run = results_folder.read_run(outdir, design)
    posterior = posterior_draws(results_folder.read_posterior(outdir, design), design)
    return SavedFit(outdir, design, run, posterior)


def posterior_draws(dataset: xr.Dataset, design: dict) -> Posterior:
    """The arrays of a brms-named posterior (mixfit/results/naming.py) a design needs."""

    def flat(name: str) -> np.ndarray:
        if name not in dataset:
            raise InputError(f"draws.nc has no variable {name!r}: it does not match design.json")
        values = dataset[name].values
        return values.reshape(-1, *values.shape[2:])

    from mixfit.analysis.newdata import predictor_parts

    ordinal = bool(design["response"]["categories"]) and design["family"] != "categorical"
    size = dataset.sizes["chain"] * dataset.sizes["draw"]
    parts = predictor_parts(design)
    predictors = {}
    for dpar, part in parts.items():
        prefix = "" if dpar == "mu" else f"{dpar}_"
        coefs = [flat(f"b_{prefix}{c}") for c in part["coefs"]]
        for name, k in smooth.coefficient_names(part.get("smooths", []), prefix):
            coefs.append(flat(name) if k is None else flat(name)[:, k])
        for block in gp.coefficients(part.get("gps", []), flat, prefix):  # per draw, per GP
            coefs += list(block.T)
        # mo(): bsp * D * simo[k] per step k, multiplying newdata's indicators [x >= k]
        coefs += monotonic.coefficient_draws(part.get("monotonic", []), prefix, flat)
        has_intercept = part["intercept"] and not (ordinal and dpar == "mu")
        predictors[dpar] = PredictorDraws(
            link=design["link"] if dpar == "mu" else part["link"],
            intercept=flat(f"b_{prefix}Intercept") if has_intercept else None,
            b=np.stack(coefs, axis=1) if coefs else np.zeros((size, 0)),
            gp_scales=tuple(gp.scales(part.get("gps", []), flat, prefix)),
        )
    return Posterior(
        chains=dataset.sizes["chain"],
        predictors=predictors,
        thresholds=flat("b_Intercept") if ordinal else None,
        family={
            p.name: flat(p.name) for p in design_schema.params(design) if p.name not in predictors
        },
        groups=[_group_draws(group, flat, size) for group in design["groups"]],
        cs=_cs_draws(design, flat),
    )


def _cs_draws(design: dict, flat) -> np.ndarray | None:
    """brms's bcs_z (draws x thresholds) per cs() coefficient, flattened as the Stan program's
    bcs: threshold by threshold, the coefficients within each."""
    coefs = design.get("category_specific", {}).get("coefs", [])
    if not coefs:
        return None
    per_coef = np.stack([flat(f"bcs_{c}") for c in coefs], axis=1)  # draws x Kcs x nthres
    return np.swapaxes(per_coef, 1, 2).reshape(len(per_coef), -1)


def _group_draws(group: dict, flat, size: int) -> GroupDraws:
    """A grouping factor's effects (r_g for mu's terms, r_g__sigma for sigma's), SDs and
    correlations, its terms in design.json's order."""
    name = group["group"]
    entries = group["blocks"]
    by_block: dict[int, list[dict]] = {}
    for entry in entries:
        by_block.setdefault(entry.get("id", len(by_block) + 1), []).append(entry)
    columns, dpars, blocks, start = [], [], [], 0
    taken: dict[str, int] = {}
    for members in by_block.values():
        terms = [t for entry in members for t in entry["terms"]]
        sd = np.stack([flat(f"sd_{name}__{t}") for t in terms], axis=1)
        cor = None
        if members[0]["correlated"] and len(terms) > 1:
            cor = np.broadcast_to(np.eye(len(terms)), (size, len(terms), len(terms))).copy()
            for a in range(len(terms)):
                for b in range(a + 1, len(terms)):
                    cor[:, a, b] = cor[:, b, a] = flat(f"cor_{name}__{terms[a]}__{terms[b]}")
        blocks.append(BlockDraws(slice(start, start + len(terms)), sd, cor))
        start += len(terms)
        for entry in members:
            dpar = entry.get("dpar", "mu")
            variable = f"r_{name}" if dpar == "mu" else f"r_{name}__{dpar}"
            first = taken.get(variable, 0)
            r = flat(variable)
            columns.append(r[:, :, first : first + len(entry["terms"])])
            taken[variable] = first + len(entry["terms"])
            dpars += [dpar] * len(entry["terms"])
    r = columns[0] if len(columns) == 1 else np.concatenate(columns, axis=2)
    simplexes = {
        label: flat(f"simo_{label}1").reshape(size, -1)
        for entry in entries
        for label in entry.get("monotonic", [])
    }
    return GroupDraws(name, r, blocks, tuple(dpars), simplexes)

"""A results folder read back for what comes after the fit: its design, its run record, and its
posterior draws (brms's names in draws.nc) as numpy arrays with one row per draw."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from mixfit.errors import InputError
from mixfit.model.families import FAMILIES
from mixfit.readback import results_folder


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


@dataclass(frozen=True)
class Posterior:
    """Every draw (chains one after another) of the parameters a prediction needs."""

    chains: int
    intercept: np.ndarray | None  # draws
    thresholds: np.ndarray | None  # draws x (categories - 1), ordinal families
    b: np.ndarray  # draws x coefficients, in design.json's order
    family: dict[str, np.ndarray]  # sigma, shape, ...: draws
    groups: list[GroupDraws]

    @property
    def size(self) -> int:
        return len(self.b)

    def take(self, keep: np.ndarray) -> Posterior:
        """The draws numbered ``keep``, as one chain."""

        def pick(values):
            return None if values is None else values[keep]

        return Posterior(
            chains=1,
            intercept=pick(self.intercept),
            thresholds=pick(self.thresholds),
            b=self.b[keep],
            family={name: values[keep] for name, values in self.family.items()},
            groups=[
                GroupDraws(
                    g.name,
                    g.r[keep],
                    [BlockDraws(b.columns, b.sd[keep], pick(b.cor)) for b in g.blocks],
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

    population = design["population"]
    ordinal = bool(design["response"]["categories"])
    size = dataset.sizes["chain"] * dataset.sizes["draw"]
    coefs = [flat(f"b_{c}") for c in population["coefs"]]
    groups = []
    for group in design["groups"]:
        name, blocks, start = group["group"], [], 0
        for block in group["blocks"]:
            terms = block["terms"]
            sd = np.stack([flat(f"sd_{name}__{t}") for t in terms], axis=1)
            cor = None
            if block["correlated"] and len(terms) > 1:
                cor = np.broadcast_to(np.eye(len(terms)), (size, len(terms), len(terms))).copy()
                for a in range(len(terms)):
                    for b in range(a + 1, len(terms)):
                        cor[:, a, b] = cor[:, b, a] = flat(f"cor_{name}__{terms[a]}__{terms[b]}")
            blocks.append(BlockDraws(slice(start, start + len(terms)), sd, cor))
            start += len(terms)
        groups.append(GroupDraws(name, flat(f"r_{name}"), blocks))
    return Posterior(
        chains=dataset.sizes["chain"],
        intercept=flat("b_Intercept") if population["intercept"] and not ordinal else None,
        thresholds=flat("b_Intercept") if ordinal else None,
        b=np.stack(coefs, axis=1) if coefs else np.zeros((size, 0)),
        family={p.name: flat(p.name) for p in FAMILIES[design["family"]].params},
        groups=groups,
    )

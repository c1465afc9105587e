"""Category-specific effects of mu's predictor (brms 2.18's ``stan_cs``/``data_cs``): ``cs(z)``
gives z a coefficient per threshold of an ordinal family, bcs (Kcs x nthres), whose products
with the rows, mucs (N x nthres), are taken off the thresholds: brms's ``thres - mucs[n]'``.

brms allows them for sratio, cratio and acat (and, with ordered thresholds it does not check,
experimentally for cumulative, which mixfit refuses). Xcs is the model matrix of the cs terms
without its intercept column (R's treatment coding of a factor), and is not centred, as brms's.
The Stan parameter is the matrix flattened column by column (``to_matrix(bcs, Kcs, nthres)``
is brms's bcs) so that each element can carry its own prior, as every slot's do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mixfit.errors import InputError
from mixfit.model.priors import Slot

TEMPLATE = "terms/category_specific.stan"
FAMILIES = ("sratio", "cratio", "acat")  # brms 2.18's families with the "cs" special


@dataclass(frozen=True)
class CategorySpecific:
    """mu's cs() terms: one formulae right-hand side, its matrix and column names."""

    formula: str  # "1 + z + w": the cs terms, whose intercept column is dropped
    X: np.ndarray  # rows x Kcs
    coefs: list[str]  # brms's names of X's columns


def rhs(terms) -> str:
    """The cs() terms as one right-hand side, an intercept first so that a factor is coded
    against its reference level (R's model.matrix then dropping "(Intercept)", as brms)."""
    return " + ".join(["1"] + [f"({_argument(t)})" for t in terms])


def _argument(term) -> str:
    if len(term.positional) != 1 or term.keywords:
        raise InputError(f"{term.text}: cs() takes one expression of predictors, e.g. cs(x)")
    return term.positional[0].text


def check_family(terms, family: str, dpar: str) -> None:
    """brms: cs() for mu of sratio, cratio and acat only."""
    if not terms:
        return
    if dpar != "mu":
        raise InputError(
            f"{terms[0].text}: category-specific effects belong in the formula of mu, not {dpar}'s"
        )
    if family not in FAMILIES:
        raise InputError(
            f"{terms[0].text}: category-specific effects (cs()) need family sratio, cratio or "
            f"acat, not {family} (write the predictor alone for one effect on every threshold)"
        )


def present(design, predictor=None) -> bool:
    """Has the model cs() terms (in mu's predictor, the only one that takes them)?"""
    return design.category_specific is not None and (predictor is None or predictor.dpar == "mu")


def context(design, predictor=None) -> dict:
    """What the snippet needs: names only (sizes are data)."""
    return {"s": "", "of": ""}


def thresholds(design, index: str = "n") -> str:
    """Row ``index``'s thresholds as the family's lpmf takes them: brms's ``thres - mucs[n]'``."""
    if not present(design):
        return "Intercept"
    return f"Intercept - transpose(mucs[{index}])"


def stan_data(cs: CategorySpecific) -> dict:
    return {"Kcs": cs.X.shape[1], "Xcs": cs.X}


def shared(p: dict) -> list[tuple[str, str]]:
    """What a reduce_sum slice would need of it (the ratio families have no threads yet)."""
    return [("data matrix", "Xcs"), ("vector", "bcs")]


def slots(design) -> list[Slot]:
    """One prior slot, class b as brms's: element (k - 1) * Kcs + j is column j's coefficient at
    threshold k, so ``normal(0, 1) : b : z`` reaches z's coefficient at every threshold."""
    cs = design.category_specific
    if cs is None:
        return []
    nthres = len(design.response.categories) - 1
    labels = [(c, "") for _ in range(nthres) for c in cs.coefs]
    return [Slot("bcs", "b", None, None, labels)]


def names(coefs: list[str], nthres: int) -> list[str]:
    """brms's summary names, z[1], z[2], ..., each coefficient's thresholds together."""
    return [f"{c}[{k}]" for c in coefs for k in range(1, nthres + 1)]


def matrix(flat: np.ndarray, kcs: int) -> np.ndarray:
    """The flattened draws (..., Kcs * nthres) as brms's bcs (..., Kcs, nthres)."""
    nthres = flat.shape[-1] // kcs
    return np.swapaxes(flat.reshape(*flat.shape[:-1], nthres, kcs), -1, -2)


def shifts(X: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """mucs per draw: rows ``X`` (rows x Kcs) times each draw's bcs (draws x Kcs * nthres
    flattened), as draws x rows x nthres; the thresholds less these are each row's own."""
    return np.einsum("nj,djk->dnk", X, matrix(flat, X.shape[1]))

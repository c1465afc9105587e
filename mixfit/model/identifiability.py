"""Population-level effects the data can't pin down, found before sampling.

Under flat priors (brms's default on ``b``) a coefficient the data can't tell apart from others
has no posterior: the chains wander, R-hat ends near 2, and "run more iterations" never helps.
A constant predictor beside the intercept, ``x`` beside ``I(2 * x)``, or more coefficients than
rows are refused here, naming the predictors. With proper priors on them the model is
identified by its priors, and is left alone.
"""

from __future__ import annotations

import warnings

import numpy as np

from mixfit.errors import InputError, MixfitWarning
from mixfit.model.design import Design
from mixfit.model.priors import Slot

WIDE_TERM = 100  # a term with this many flat-prior coefficients is worth a warning
TOLERANCE = 1e-9  # of a unit-norm column's squared residual on the ones before it
GRAM_BUDGET = 5e10  # rows x columns^2: past this, the full check would cost more than it saves


def flat_coefficients(slots: list[Slot]) -> set[str]:
    return {
        coef
        for slot in slots
        if slot.cls == "b"
        for (coef, _), prior in zip(slot.labels, slot.priors)
        if prior.distribution == "flat"
    }


def check_identified(design: Design, slots: list[Slot]) -> None:
    """Refuse population-level coefficients with flat priors that the data can't separate."""
    flat = flat_coefficients(slots)
    names = design.coefs
    if not names or not flat & set(names):
        return
    X = design.X
    rows = len(X)
    intercept = design.has_intercept or design.family.family.ordinal
    total = len(names) + intercept
    if total > rows:
        raise InputError(
            f"the model has {total:,} population-level coefficients for {rows:,} rows, "
            f"{len(flat & set(names)):,} of them with flat priors: they can't all be estimated; "
            "drop predictors, move a factor of many levels into a group-level term (1 | g), or "
            'set a prior, e.g. --prior "normal(0, 1) : b"'
        )
    A = X - X.mean(axis=0) if intercept else X
    norms = np.linalg.norm(A, axis=0)
    for k in np.flatnonzero(norms == 0):
        if names[k] in flat:
            what = f"constant ({X[0, k]:g} in every row)" if intercept else "zero in every row"
            raise InputError(
                f"predictor {names[k]!r} is {what}: its coefficient can't be estimated "
                f"(its prior is flat); drop it"
            )
    keep = np.flatnonzero(norms > 0)  # the zero columns left have proper priors
    S = A[:, keep] / norms[keep]
    if rows > 4 * len(keep) + 2000:  # full rank on some rows implies it on all: cheap, and usual
        sample = np.random.default_rng(0).choice(rows, 4 * len(keep) + 2000, replace=False)
        if _rank(_unit_gram(S[np.sort(sample)]))[2] == len(keep):
            return
    if rows * len(keep) ** 2 > GRAM_BUDGET:
        return
    _name_dependence(_unit_gram(S), [names[k] for k in keep], flat)


def _unit_gram(S: np.ndarray) -> np.ndarray:
    gram = S.T @ S
    d = np.sqrt(np.diag(gram))
    return gram / np.outer(d, d).clip(min=1e-300)


def _rank(gram: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """A pivoted Cholesky factor of a Gram matrix (LAPACK's dpstrf), its pivots and its rank."""
    from scipy.linalg import lapack

    factor, pivots, rank, _ = lapack.dpstrf(gram, lower=1, tol=TOLERANCE)
    return np.tril(factor)[:rank, :rank], pivots[:rank] - 1, int(rank)


def _name_dependence(gram: np.ndarray, names: list[str], flat: set[str]) -> None:
    """Name the first column (in the formula's order) that the others explain and that has a
    flat prior itself or through the columns it is a combination of."""
    from scipy.linalg import cho_solve

    factor, basis, rank = _rank(gram)
    if rank == len(names):
        return
    for j in sorted(set(range(len(names))) - set(basis)):
        weights = cho_solve((factor, True), gram[basis, j])
        involved = [int(basis[i]) for i in np.flatnonzero(np.abs(weights) > 1e-6)]
        involved.sort()
        if names[j] not in flat and not flat & {names[i] for i in involved}:
            continue
        others = ", ".join(repr(names[i]) for i in involved[:3])
        more = f" and {len(involved) - 3} more" if len(involved) > 3 else ""
        raise InputError(
            f"predictor {names[j]!r} is a linear combination of {others}{more} (beside the "
            "intercept): their coefficients can't be told apart under flat priors; drop one, or "
            'set priors, e.g. --prior "normal(0, 1) : b"'
        )


def warn_wide_terms(design: Design, slots: list[Slot]) -> None:
    """A factor of hundreds of levels as a population-level term samples slowly, each level a
    flat-prior coefficient; usually (1 | g) was meant."""
    flat = flat_coefficients(slots)
    for term, coefs in design.terms.items():
        count = sum(c in flat for c in coefs)
        if count >= WIDE_TERM:
            warnings.warn(
                f"the term {term!r} brings {count:,} population-level coefficients with flat "
                f"priors, which can take long to sample; if {term} groups the rows, write "
                f'(1 | {term}) instead, or set a prior (--prior "normal(0, 1) : b")',
                MixfitWarning,
                stacklevel=2,
            )

"""The classical fit of an ``se()`` model: a random-effects meta-analysis by REML (or ML), as
metafor's ``rma(yi, sei = sei, mods = ..., method = "REML")`` makes it.

The fit is PyMARE's (its variance-based likelihood estimator, with Wald standard errors, as
metafor's default ``test = "z"``). Its model has one random effect per row: ``yi | se(sei) ~ 1 +
(1 | trial)`` with a level of ``trial`` per row, tau being brms's ``sd(Intercept)``; the
population-level terms are the moderators. tau's standard error is the delta method's from
tau²'s, the inverse of the REML (or ML) information, as metafor reports ``se.tau2``.
"""

from __future__ import annotations

import time
from importlib.metadata import version

import numpy as np
import pandas as pd

from mixfit.classical.verdict import BOUNDARY_TOL, SINGULAR, Verdict
from mixfit.errors import InputError
from mixfit.model.design import Design


def is_meta_analysis(design: Design) -> bool:
    return design.response.se is not None


def check_supported(design: Design) -> None:
    """rma's model: known SEs, no residual SD besides them, one effect per row and no weights."""
    additions = design.formula.additions
    refuse = None
    blocks = design.blocks
    if design.family.family.name != "gaussian":
        refuse = f"family {design.family.family.name} (rma's model is gaussian)"
    elif additions.se_sigma:
        refuse = "se(..., sigma = TRUE) (rma has no residual SD besides the known SEs)"
    elif additions.weights is not None:
        refuse = "weights() (rma weighs the rows by their SEs)"
    elif design.dpars:
        refuse = "a formula for a family parameter"
    elif (
        len(blocks) != 1
        or blocks[0].terms != ["Intercept"]
        or len(blocks[0].levels) != design.n
        or not design.has_intercept
    ):
        refuse = "anything but one (1 | g) with a level of g per row, beside an intercept"
    if refuse is not None:
        raise InputError(
            "the classical fit of an se() model is a random-effects meta-analysis (metafor's "
            f"rma, by PyMARE), which does not take {refuse}"
        )


def fit_meta_analysis(design: Design, method: str):
    """REML (or ML) estimates of the coefficients and tau, as a ClassicalFit."""
    from pymare import Dataset
    from pymare.estimators import VarianceBasedLikelihoodEstimator

    started = time.perf_counter()
    library = f"PyMARE {version('pymare')}"
    y = np.asarray(design.response.values, dtype=float)
    v = np.asarray(design.response.se, dtype=float) ** 2
    X = np.column_stack([np.ones(design.n), design.X])
    estimator = VarianceBasedLikelihoodEstimator(
        method=method, small_sample_correction="wald"
    ).fit_dataset(Dataset(y=y, v=v, X=X, add_intercept=False))
    params = estimator.params_
    beta = np.asarray(params["fe_params"], dtype=float)[:, 0]
    tau2 = float(np.asarray(params["tau2"]).ravel()[0])
    se_beta, se_tau2 = _standard_errors(X, v, tau2, method)
    tau = float(np.sqrt(max(tau2, 0.0)))
    fixef = pd.DataFrame(
        {"term": ["Intercept", *design.coefs], "Estimate": beta, "Std.Error": se_beta}
    )
    block = design.blocks[0]
    se_tau = se_tau2 / (2 * tau) if tau > 0 else np.nan
    varcorr = pd.DataFrame(
        [(block.group, "sd(Intercept)", tau, se_tau)],
        columns=["group", "param", "Estimate", "Std.Error"],
    )
    singular = bool(tau < BOUNDARY_TOL)
    verdict = Verdict(
        method=method,
        status="converged",
        library=library,
        seconds=time.perf_counter() - started,
        singular=singular,
        boundary=[{"group": block.group, "param": "sd(Intercept)", "at": "0"}] if singular else [],
        messages=[SINGULAR] if singular else [],
        gradient_check="not computed (PyMARE's one-dimensional search for tau²)",
    )
    return fixef, varcorr, verdict


def _standard_errors(
    X: np.ndarray, v: np.ndarray, tau2: float, method: str
) -> tuple[np.ndarray, float]:
    """Wald SEs of the coefficients, (X' W X)^-1 with W = 1 / (v + tau²), and tau²'s from the
    information: tr(P P) / 2 for REML (P = W - W X (X' W X)^-1 X' W), sum(W²) / 2 for ML."""
    w = 1 / (v + tau2)
    covariance = np.linalg.inv(X.T @ (w[:, None] * X))
    W = np.diag(w)
    if method == "REML":
        P = W - W @ X @ covariance @ X.T @ W
        information = np.trace(P @ P) / 2
    else:
        information = np.sum(w**2) / 2
    return np.sqrt(np.diag(covariance)), float(np.sqrt(1 / information))

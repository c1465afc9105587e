"""Bayesian R² (Gelman, Goodrich, Gabry and Vehtari 2019), as brms's bayes_R2.

Per draw, var(ypred) / (var(ypred) + var(y - ypred)), with ypred the expected response of every
fitted row (posterior_epred, all group-level effects); an ordinal model's expected category
number stands for its response, as brms does. The variances are accumulated over chunks of rows
(Chan's pairwise update), so memory stays bounded; past MAX_VALUES draws x rows, an evenly spaced
subset of draws is used.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mixfit.analysis.newdata import Rows
from mixfit.analysis.predict import Effects, FamilyLink, chunks, draws_of
from mixfit.analysis.saved_fit import Posterior
from mixfit.errors import InputError
from mixfit.results.summaries import interval_columns

MAX_VALUES = 100_000_000


def bayes_r2_draws(
    model: FamilyLink, posterior: Posterior, rows: Rows, y: np.ndarray
) -> np.ndarray:
    """R² per draw (or per draw of an evenly spaced subset, past MAX_VALUES values)."""
    keep = max(1, MAX_VALUES // max(1, rows.n))
    if posterior.size > keep:
        posterior = posterior.take(np.linspace(0, posterior.size - 1, keep).astype(int))
    effects = Effects(posterior, rows, "uncertainty", seed=0)  # fitted levels only: no draws
    fitted, residual = _Variance(), _Variance()
    rng = np.random.default_rng(0)
    for chunk in chunks(posterior, rows):
        ypred = draws_of("epred", model, posterior, rows, chunk, effects, rng)
        if model.ordinal:
            ypred = ypred @ np.arange(1, ypred.shape[-1] + 1)
        fitted.add(ypred)
        residual.add(y[chunk, None] - ypred)
    return fitted.value() / (fitted.value() + residual.value())


def bayes_r2_arma(
    model: FamilyLink,
    posterior: Posterior,
    rows: Rows,
    y: np.ndarray,
    arma: tuple[np.ndarray | None, np.ndarray | None, np.ndarray],
) -> np.ndarray:
    """R² per draw of an ARMA model (residual form): brms's posterior_epred adds the ARMA terms
    to each row's mean, which take the residuals of the series' earlier rows, so all rows at
    once. ``arma``: the ar and ma draws (draws x order, or None) and J_lag."""
    from mixfit.model.terms.autocor import arma_mu

    ar, ma, J_lag = arma
    keep = np.arange(posterior.size)
    if posterior.size * rows.n > MAX_VALUES:
        keep = np.linspace(0, posterior.size - 1, max(1, MAX_VALUES // rows.n)).astype(int)
        posterior = posterior.take(keep)
    effects = Effects(posterior, rows, "uncertainty", seed=0)
    rng = np.random.default_rng(0)
    eta = np.empty((posterior.size, rows.n))
    for chunk in chunks(posterior, rows):
        eta[:, chunk] = draws_of("epred", model, posterior, rows, chunk, effects, rng).T
    pick = lambda v: None if v is None else v[keep]
    mu = arma_mu(eta, y, J_lag, pick(ar), pick(ma))
    fitted = mu.var(axis=1, ddof=1)
    return fitted / (fitted + (y - mu).var(axis=1, ddof=1))


def check_family(outdir) -> None:
    """brms's bayes_R2 refuses a categorical model (its response has no mean): so does mixfit."""
    from mixfit.readback.results_folder import read_design

    family = read_design(outdir)["family"]
    if family == "categorical":
        raise InputError(
            "Bayesian R2 is not defined for family categorical (brms's bayes_R2 refuses it too: "
            "its categories have no mean); compare fits with mixfit loo"
        )


def bayes_r2_table(r2: np.ndarray, prob: float = 0.95) -> pd.DataFrame:
    """brms's bayes_R2 columns: Estimate, Est.Error and the central interval."""
    low, high = interval_columns(prob)
    return pd.DataFrame(
        {
            "Estimate": [r2.mean()],
            "Est.Error": [r2.std(ddof=1)],
            low: [np.quantile(r2, (1 - prob) / 2)],
            high: [np.quantile(r2, (1 + prob) / 2)],
        }
    )


class _Variance:
    """Per draw, the sample variance over rows seen so far, merged chunk by chunk."""

    def __init__(self):
        self.n, self.mean, self.m2 = 0, 0.0, 0.0

    def add(self, values: np.ndarray) -> None:
        """``values``: rows x draws."""
        count = values.shape[0]
        mean = values.mean(axis=0)
        m2 = ((values - mean) ** 2).sum(axis=0)
        total = self.n + count
        delta = mean - self.mean
        self.m2 = self.m2 + m2 + delta**2 * self.n * count / total
        self.mean = self.mean + delta * count / total
        self.n = total

    def value(self) -> np.ndarray:
        return self.m2 / (self.n - 1)

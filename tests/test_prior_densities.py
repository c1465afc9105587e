"""The SD plot's prior densities (numpy, no scipy.stats import) are scipy.stats' densities, and
the rank plot's ranks are scipy's rankdata."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from mixfit.model.priors import Prior
from mixfit.results.plots import _ranks
from mixfit.results.prior_densities import DENSITIES, prior_density

X = np.r_[-3.0, -1e-9, 0.0, np.linspace(1e-6, 60, 500), 0.3, 1.0, 1.5]
SCIPY = {  # the frozen scipy.stats distribution of each prior, in Stan's parameterisation
    "normal": lambda mu, sigma: stats.norm(mu, sigma),
    "student_t": lambda nu, mu, sigma: stats.t(nu, mu, sigma),
    "cauchy": lambda mu, sigma: stats.cauchy(mu, sigma),
    "logistic": lambda mu, sigma: stats.logistic(mu, sigma),
    "exponential": lambda rate: stats.expon(scale=1 / rate),
    "gamma": lambda shape, rate: stats.gamma(shape, scale=1 / rate),
    "inv_gamma": lambda shape, scale: stats.invgamma(shape, scale=scale),
    "lognormal": lambda mu, sigma: stats.lognorm(sigma, scale=math.exp(mu)),
    "beta": lambda a, b: stats.beta(a, b),
    "uniform": lambda low, high: stats.uniform(low, high - low),
}
PRIORS = [
    Prior("normal", (2, 3)),
    Prior("student_t", (3, 0, 59.3)),
    Prior("student_t", (5, -1, 10)),
    Prior("cauchy", (1, 2)),
    Prior("logistic", (0.5, 2)),
    Prior("exponential", (2,)),
    Prior("gamma", (0.5, 2)),
    Prior("gamma", (1, 2)),
    Prior("gamma", (3, 0.5)),
    Prior("inv_gamma", (2, 3)),
    Prior("lognormal", (0.5, 1)),
    Prior("beta", (2, 3)),
    Prior("beta", (0.5, 0.5)),
    Prior("uniform", (0, 50)),
]


def test_every_prior_distribution_has_a_density():
    assert set(DENSITIES) == set(SCIPY)


@pytest.mark.parametrize("prior", PRIORS, ids=str)
@pytest.mark.parametrize("lower", [0.0, None, 1.0])
def test_the_density_is_scipys(prior, lower):
    frozen = SCIPY[prior.distribution](*prior.args)
    expected = frozen.pdf(X)
    if lower is not None and prior.distribution in {"normal", "student_t", "cauchy", "logistic"}:
        expected = np.where(X >= lower, expected / frozen.sf(lower), 0.0)
    np.testing.assert_allclose(prior_density(prior, X, lower), expected, rtol=1e-10)


@pytest.mark.parametrize(
    "values",
    [
        np.random.default_rng(0).normal(size=(4, 1000)),
        np.random.default_rng(1).integers(0, 5, (3, 50)).astype(float),
        np.array([[1.0, np.nan, 2, 2], [np.inf, -np.inf, 1, np.nan]]),
    ],
)
def test_ranks_are_rankdatas(values):
    expected = stats.rankdata(values, axis=None, nan_policy="omit").reshape(values.shape)
    np.testing.assert_array_equal(_ranks(values), expected)

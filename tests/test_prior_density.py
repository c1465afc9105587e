"""The priors' densities in the plots against scipy.stats's, in Stan's parameterisations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from mixfit.model.priors import Prior
from mixfit.results.prior_density import DENSITIES, prior_density

CASES = {
    "normal": ((1.0, 2.0), stats.norm(1, 2)),
    "student_t": ((3.0, 0.5, 2.5), stats.t(3, 0.5, 2.5)),
    "cauchy": ((0.0, 1.5), stats.cauchy(0, 1.5)),
    "logistic": ((0.3, 0.7), stats.logistic(0.3, 0.7)),
    "exponential": ((2.0,), stats.expon(scale=1 / 2)),
    "gamma": ((2.5, 0.5), stats.gamma(2.5, scale=1 / 0.5)),  # Stan's beta is a rate
    "inv_gamma": ((3.0, 2.0), stats.invgamma(3, scale=2)),
    "lognormal": ((0.2, 0.8), stats.lognorm(0.8, scale=math.exp(0.2))),
    "beta": ((2.0, 5.0), stats.beta(2, 5)),
    "uniform": ((-1.0, 3.0), stats.uniform(-1, 4)),
}


def test_densities_at_the_ends_of_their_support_are_scipys():
    at = np.array([0.0, 1.0])
    for name, args, frozen in [
        ("gamma", (1.0, 2.0), stats.gamma(1, scale=0.5)),  # the rate at 0
        ("beta", (1.0, 3.0), stats.beta(1, 3)),  # b at 0, 0 at 1
        ("beta", (2.0, 1.0), stats.beta(2, 1)),  # 0 at 0, a at 1
    ]:
        np.testing.assert_allclose(prior_density(Prior(name, args), at, lower=None), frozen.pdf(at))


def test_every_distribution_has_a_case():
    assert set(CASES) == set(DENSITIES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_density_is_scipys(name):
    args, frozen = CASES[name]
    x = np.concatenate([np.linspace(-3, 8, 2001), [0.0, 1.0]])  # the ends of the supports too
    ours = prior_density(Prior(name, args), x, lower=None)
    np.testing.assert_allclose(ours, frozen.pdf(x), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("name", ["normal", "student_t", "cauchy", "logistic"])
def test_a_real_prior_is_truncated_at_the_lower_bound(name):
    args, frozen = CASES[name]
    x = np.linspace(-3, 8, 2001)
    expected = np.where(x >= 0.5, frozen.pdf(x) / frozen.sf(0.5), 0.0)
    np.testing.assert_allclose(prior_density(Prior(name, args), x, lower=0.5), expected, rtol=1e-10)

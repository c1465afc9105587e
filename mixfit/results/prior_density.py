"""The priors' densities the plots draw beside the posterior, in Stan's parameterisations.

Written over scipy.special (which the convergence figures load anyway) rather than taken from
scipy.stats: importing scipy.stats took half a second of every fit with plots, for ten densities
(tests/test_prior_density.py checks each against scipy.stats's).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import special

from mixfit.model.priors import DISTRIBUTIONS, Prior

LOG_ROOT_2PI = 0.5 * math.log(2 * math.pi)


def prior_density(prior: Prior, x: np.ndarray, lower: float | None = 0.0) -> np.ndarray | None:
    """The prior's density at ``x``, truncated below at ``lower`` as Stan does for bounded
    parameters (a half student_t for an SD); None for a flat prior."""
    if prior.distribution == "flat":
        return None
    x = np.asarray(x, dtype=float)
    pdf, sf = DENSITIES[prior.distribution](*prior.args)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        density = pdf(x)
        if lower is not None and DISTRIBUTIONS[prior.distribution].support == "real":
            density = np.where(x >= lower, density / sf(lower), 0.0)
    return density


Density = tuple[Callable[[np.ndarray], np.ndarray], Callable[[float], float]]


def _normal(mu: float, sigma: float) -> Density:
    def pdf(x):
        return np.exp(-0.5 * ((x - mu) / sigma) ** 2 - LOG_ROOT_2PI) / sigma

    return pdf, lambda q: special.ndtr((mu - q) / sigma)


def _student_t(nu: float, mu: float, sigma: float) -> Density:
    log_c = special.gammaln((nu + 1) / 2) - special.gammaln(nu / 2) - 0.5 * math.log(nu * math.pi)

    def pdf(x):
        z = (x - mu) / sigma
        return np.exp(log_c - (nu + 1) / 2 * np.log1p(z * z / nu)) / sigma

    return pdf, lambda q: special.stdtr(nu, (mu - q) / sigma)


def _cauchy(mu: float, sigma: float) -> Density:
    def pdf(x):
        return 1 / (math.pi * sigma * (1 + ((x - mu) / sigma) ** 2))

    return pdf, lambda q: 0.5 - math.atan((q - mu) / sigma) / math.pi


def _logistic(mu: float, sigma: float) -> Density:
    def pdf(x):
        z = -np.abs((x - mu) / sigma)  # symmetric: the form that cannot overflow
        return np.exp(z) / (sigma * (1 + np.exp(z)) ** 2)

    return pdf, lambda q: special.expit((mu - q) / sigma)


def _on(support: Callable[[np.ndarray], np.ndarray], log_pdf: Callable) -> Callable:
    """A density that is ``exp(log_pdf)`` where ``support`` holds, else 0."""

    def pdf(x):
        inside = support(x)
        return np.where(inside, np.exp(log_pdf(np.where(inside, x, 0.5))), 0.0)

    return pdf


def _positive(log_pdf: Callable, at_zero: bool = False) -> Density:
    """A density on x > 0, or x >= 0 ``at_zero`` (where it can be positive there)."""
    support = (lambda x: x >= 0) if at_zero else (lambda x: x > 0)
    return _on(support, log_pdf), lambda q: 1.0


def _exponential(rate: float) -> Density:
    return _positive(lambda x: math.log(rate) - rate * x, at_zero=True)


def _gamma(alpha: float, rate: float) -> Density:  # Stan's gamma(alpha, beta): beta a rate
    # xlogy: (alpha - 1) log x is 0 at x = 0 for alpha = 1, the density there the rate
    return _positive(
        lambda x: (
            alpha * math.log(rate) + special.xlogy(alpha - 1, x) - rate * x - special.gammaln(alpha)
        ),
        at_zero=True,
    )


def _inv_gamma(alpha: float, scale: float) -> Density:
    return _positive(
        lambda x: (
            alpha * math.log(scale) - (alpha + 1) * np.log(x) - scale / x - special.gammaln(alpha)
        )
    )


def _lognormal(mu: float, sigma: float) -> Density:
    return _positive(
        lambda x: (
            -0.5 * ((np.log(x) - mu) / sigma) ** 2 - LOG_ROOT_2PI - math.log(sigma) - np.log(x)
        )
    )


def _beta(a: float, b: float) -> Density:
    def log_pdf(x):
        return special.xlogy(a - 1, x) + special.xlog1py(b - 1, -x) - special.betaln(a, b)

    return _on(lambda x: (x >= 0) & (x <= 1), log_pdf), lambda q: 1.0


def _uniform(low: float, high: float) -> Density:
    def pdf(x):
        return np.where((x >= low) & (x <= high), 1 / (high - low), 0.0)

    return pdf, lambda q: 1.0


DENSITIES: dict[str, Callable[..., Density]] = {
    "normal": _normal,
    "student_t": _student_t,
    "cauchy": _cauchy,
    "logistic": _logistic,
    "exponential": _exponential,
    "gamma": _gamma,
    "inv_gamma": _inv_gamma,
    "lognormal": _lognormal,
    "beta": _beta,
    "uniform": _uniform,
}

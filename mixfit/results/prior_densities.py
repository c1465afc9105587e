"""The priors' densities the SD plot draws, in numpy (and scipy.special for Student's t tail).

scipy.stats, which the plot took them from, costs half a second to import in a warm fit that needs
nothing else of it; these are the same densities as its frozen distributions' ``pdf`` and ``sf``,
with Stan's parameterisations (gamma and exponential by rate, inv_gamma by scale).
"""

from __future__ import annotations

import math

import numpy as np

from mixfit.model.priors import DISTRIBUTIONS, Prior


def prior_density(prior: Prior, x: np.ndarray, lower: float | None = 0.0) -> np.ndarray | None:
    """The prior's density at ``x``, truncated below at ``lower`` as Stan does for bounded
    parameters (a half student_t for an SD); None for a flat prior."""
    if prior.distribution == "flat":
        return None
    x = np.asarray(x, dtype=float)
    pdf, sf = DENSITIES[prior.distribution]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        density = pdf(x, *prior.args)
    if lower is not None and DISTRIBUTIONS[prior.distribution].support == "real":
        density = np.where(x >= lower, density / sf(lower, *prior.args), 0.0)
    return density


def _normal(x, mu, sigma):
    z = (x - mu) / sigma
    return np.exp(-0.5 * z**2) / (sigma * math.sqrt(2 * math.pi))


def _normal_sf(x, mu, sigma):
    return 0.5 * math.erfc((x - mu) / (sigma * math.sqrt(2)))


def _student_t(x, nu, mu, sigma):
    z = (x - mu) / sigma
    log_norm = math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2) - 0.5 * math.log(nu * math.pi)
    return np.exp(log_norm - (nu + 1) / 2 * np.log1p(z**2 / nu)) / sigma


def _student_t_sf(x, nu, mu, sigma):
    from scipy.special import stdtr  # scipy.special alone imports in a tenth of scipy.stats' time

    return float(stdtr(nu, -(x - mu) / sigma))


def _cauchy(x, mu, sigma):
    return 1 / (math.pi * sigma * (1 + ((x - mu) / sigma) ** 2))


def _cauchy_sf(x, mu, sigma):
    return 0.5 - math.atan((x - mu) / sigma) / math.pi


def _logistic(x, mu, sigma):
    return 1 / (4 * sigma * np.cosh((x - mu) / (2 * sigma)) ** 2)


def _logistic_sf(x, mu, sigma):
    return 1 / (1 + math.exp((x - mu) / sigma))


def _exponential(x, rate):
    return np.where(x >= 0, rate * np.exp(-rate * np.maximum(x, 0)), 0.0)


def _gamma(x, shape, rate):
    inside = np.maximum(x, 0.0)
    log_density = shape * math.log(rate) + _xlogy(shape - 1, inside) - rate * inside
    return np.where(x >= 0, np.exp(log_density - math.lgamma(shape)), 0.0)


def _inv_gamma(x, shape, scale):
    safe = np.where(x > 0, x, 1.0)
    log_density = shape * math.log(scale) - (shape + 1) * np.log(safe) - scale / safe
    return np.where(x > 0, np.exp(log_density - math.lgamma(shape)), 0.0)


def _lognormal(x, mu, sigma):
    safe = np.where(x > 0, x, 1.0)
    density = np.exp(-((np.log(safe) - mu) ** 2) / (2 * sigma**2)) / (
        safe * sigma * math.sqrt(2 * math.pi)
    )
    return np.where(x > 0, density, 0.0)


def _beta(x, a, b):
    log_beta = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    inside = np.clip(x, 0.0, 1.0)
    log_density = _xlogy(a - 1, inside) + _xlogy(b - 1, 1 - inside) - log_beta
    return np.where((x >= 0) & (x <= 1), np.exp(log_density), 0.0)


def _xlogy(a: float, v: np.ndarray) -> np.ndarray:
    """a * log(v), 0 where a is 0 (a density's x^0 at x = 0)."""
    return np.zeros_like(v) if a == 0 else a * np.log(v)


def _uniform(x, low, high):
    return np.where((x >= low) & (x <= high), 1 / (high - low), 0.0)


DENSITIES = {  # name: (pdf, sf for the real-valued ones, which an SD's prior is truncated at 0)
    "normal": (_normal, _normal_sf),
    "student_t": (_student_t, _student_t_sf),
    "cauchy": (_cauchy, _cauchy_sf),
    "logistic": (_logistic, _logistic_sf),
    "exponential": (_exponential, None),
    "gamma": (_gamma, None),
    "inv_gamma": (_inv_gamma, None),
    "lognormal": (_lognormal, None),
    "beta": (_beta, None),
    "uniform": (_uniform, None),
}

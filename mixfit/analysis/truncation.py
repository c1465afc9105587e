"""trunc() and rate() in numpy: a truncated family's log-likelihood, draws and mean, as the
Stan program's (stan_templates/terms/truncation.stan) and brms 2.18's.

A count's lower bound is inclusive (brms's Stan code reads lb - 1): the rows' probability is
P(lb <= Y <= ub). Draws come from the inverse CDF at a uniform draw between the bounds'
probabilities (brms's posterior_predict does so for continuous families, and rejects for counts;
the inverse CDF is exact for both). Means are brms's posterior_epred_trunc_* closed forms; for
counts, sum x p(x) over the bounds is mu times a probability of the shifted distribution
(x p(x; mu) = mu p(x - 1; mu) for the poisson, and for the negative binomial the same with its
size plus 1), which brms sums term by term up to 3 max(mu).
"""

from __future__ import annotations

import numpy as np
from scipy import special

COUNTS = ("poisson", "negbinomial")


def _stats():
    from scipy import stats

    return stats


def distribution(family: str, mu: np.ndarray, p: dict):
    """The family's scipy distribution for mean (or location) ``mu`` and parameters ``p``."""
    stats = _stats()
    if family == "gaussian":
        return stats.norm(mu, p["sigma"])
    if family == "student":
        return stats.t(p["nu"], mu, p["sigma"])
    if family == "lognormal":
        return stats.lognorm(p["sigma"], scale=np.exp(mu))
    if family == "Gamma":
        return stats.gamma(p["shape"], scale=mu / p["shape"])
    if family == "weibull":
        return stats.weibull_min(p["shape"], scale=mu / special.gamma(1 + 1 / p["shape"]))
    if family == "exponential":
        return stats.expon(scale=mu)
    if family == "poisson":
        return stats.poisson(mu)
    if family == "negbinomial":
        return stats.nbinom(p["shape"], p["shape"] / (p["shape"] + mu))
    raise KeyError(family)


def _lower(family: str, lb: np.ndarray) -> np.ndarray:
    return lb - 1 if family in COUNTS else lb


def log_probability(family: str, mu: np.ndarray, p: dict, lb, ub) -> np.ndarray:
    """log P(lb <= Y <= ub), each bound -inf or inf where there is none."""
    dist = distribution(family, mu, p)
    low = _lower(family, lb)
    log_upper = dist.logcdf(ub)
    log_lower = dist.logcdf(low)
    above = dist.logsf(low)  # the lower bound alone, in the tail that keeps its precision
    with np.errstate(divide="ignore", invalid="ignore"):
        both = log_upper + np.log1p(-np.exp(log_lower - log_upper))
    return np.where(np.isinf(ub), above, np.where(np.isinf(low), log_upper, both))


def log_lik(family: str, density: np.ndarray, mu, p, lb, ub) -> np.ndarray:
    """A truncated row's log-likelihood: its density less the log probability of its bounds."""
    return density - log_probability(family, mu, p, lb, ub)


def draw(family: str, mu, p, lb, ub, rng: np.random.Generator) -> np.ndarray:
    """A response per row and draw from the truncated distribution, by the inverse CDF."""
    dist = distribution(family, mu, p)
    low = dist.cdf(_lower(family, lb))
    high = dist.cdf(ub)
    u = low + (high - low) * rng.random(np.broadcast_shapes(np.shape(mu), np.shape(lb)))
    out = dist.ppf(u)
    return np.clip(out, lb, ub)  # a bound's own probability rounding past it


def mean(family: str, mu, p, lb, ub) -> np.ndarray:
    """brms's posterior_epred of a truncated model: E[Y | lb <= Y <= ub]."""
    dist = distribution(family, mu, p)
    low = _lower(family, lb)
    mass = dist.cdf(ub) - dist.cdf(low)
    if family in COUNTS:
        shifted = _shifted(family, mu, p)  # x p(x) = mu q(x - 1)
        return mu * (shifted.cdf(ub - 1) - shifted.cdf(low - 1)) / mass
    if family == "gaussian":
        sigma = p["sigma"]
        a, b = (lb - mu) / sigma, (ub - mu) / sigma
        return mu + sigma * (_norm_pdf(a) - _norm_pdf(b)) / mass
    if family == "student":  # Kim 2008, as brms
        nu, sigma = p["nu"], p["sigma"]
        a, b = (lb - mu) / sigma, (ub - mu) / sigma
        g1 = np.exp(
            special.gammaln((nu - 1) / 2)
            + nu / 2 * np.log(nu)
            - special.gammaln(nu / 2)
            - special.gammaln(0.5)
        ) / (2 * mass)
        with np.errstate(divide="ignore", over="ignore"):
            edge = lambda z: np.where(np.isinf(z), 0.0, (nu + z**2) ** (-(nu - 1) / 2))
        return mu + sigma * g1 * (edge(a) - edge(b))
    if family == "lognormal":
        sigma = p["sigma"]
        with np.errstate(divide="ignore"):
            za, zb = (np.log(np.maximum(lb, 0)) - mu) / sigma, (np.log(ub) - mu) / sigma
        return (
            np.exp(mu + sigma**2 / 2) * (special.ndtr(zb - sigma) - special.ndtr(za - sigma)) / mass
        )
    lb0 = np.maximum(lb, 0)
    if family == "Gamma":  # Jawitz 2004, as brms
        shape = p["shape"]
        scale = mu / shape
        part = special.gammainc(1 + shape, ub / scale) - special.gammainc(1 + shape, lb0 / scale)
        return scale * shape * part / mass
    if family == "exponential":
        return mu * (special.gammainc(2, ub / mu) - special.gammainc(2, lb0 / mu)) / mass
    if family == "weibull":
        shape = p["shape"]
        a = 1 + 1 / shape
        scale = mu / special.gamma(a)
        part = special.gammainc(a, (ub / scale) ** shape) - special.gammainc(
            a, (lb0 / scale) ** shape
        )
        return scale * special.gamma(a) * part / mass
    raise KeyError(family)


def _shifted(family: str, mu, p):
    stats = _stats()
    if family == "poisson":
        return stats.poisson(mu)
    shape = p["shape"]
    return stats.nbinom(shape + 1, shape / (shape + mu))


def _norm_pdf(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return np.where(
            np.isinf(z), 0.0, np.exp(-0.5 * np.minimum(z**2, 1e300)) / np.sqrt(2 * np.pi)
        )


def with_rate(family: str, mu: np.ndarray, p: dict, denom: np.ndarray | None):
    """rate(n): the mean times each row's denominator, and negbinomial's shape too (brms's
    multiply_dpar_rate_denom)."""
    if denom is None:
        return mu, p
    if family == "negbinomial":
        p = p | {"shape": p["shape"] * denom}
    return mu * denom, p

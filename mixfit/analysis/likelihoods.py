"""Each family's mean, random draws and log-likelihood given the linear predictor, as a table.

The same distributions as the Stan templates (stan_templates/families/*.stan), computed on arrays
of rows x draws: ``mu`` is the inverse link of the linear predictor, ``params`` the family's
parameters (one value per draw), ``trials`` a binomial's trials as a column (rows x 1). Means
are brms's posterior_epred (lognormal: exp(mu + sigma^2 / 2); zero-inflated: (1 - zi) mu; hurdle:
(1 - hu) mu / (1 - exp(-mu)); binomial and beta_binomial: trials p; zero_inflated_binomial:
trials p (1 - zi); weibull and exponential: mu); ordinal families give each category's
probability, as a last axis. The continuous families with a point mass at 0
(hurdle_gamma, hurdle_lognormal, zero_inflated_beta) have (1 - hu) times the rest's mean, and
zero_one_inflated_beta zoi coi + (1 - zoi) mu.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special

from mixfit.analysis.ordinal import log_probabilities

INVERSE_LINKS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "identity": lambda eta: eta,
    "log": np.exp,
    "logm1": lambda eta: 1 + np.exp(eta),  # brms's link for student's nu >= 1
    "logit": special.expit,
    "probit": special.ndtr,
    "cloglog": lambda eta: -np.expm1(-np.exp(eta)),
}


def _stats():
    """scipy.stats takes about a second to import: only log-likelihoods need it."""
    from scipy import stats

    return stats


@dataclass(frozen=True)
class Likelihood:
    mean: Callable  # (mu, params, trials) -> E[y]
    draw: Callable  # (mu, params, trials, rng) -> y
    log_lik: Callable  # (y, mu, params, trials) -> log p(y)


def _zero_inflated(count: Likelihood, p_zero: Callable) -> Likelihood:
    """A structural zero with probability zi, else the count distribution."""

    def log_lik(y, mu, p, n):
        zi = p["zi"]
        counted = np.log1p(-zi) + count.log_lik(y, mu, p, n)
        return np.where(y == 0, np.logaddexp(np.log(zi), np.log1p(-zi) + p_zero(mu, p)), counted)

    return Likelihood(
        mean=lambda mu, p, n: (1 - p["zi"]) * mu,
        draw=lambda mu, p, n, rng: np.where(
            rng.random(mu.shape) < p["zi"], 0, count.draw(mu, p, n, rng)
        ),
        log_lik=log_lik,
    )


def truncated_poisson(mu: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A poisson count above 0, of mean ``mu`` before the truncation."""
    return _above_zero(rng, rng.poisson, lambda m: _stats().poisson(m), mu)


def truncated_negbinomial(mu: np.ndarray, shape: np.ndarray, rng: np.random.Generator):
    """A negative binomial count above 0 (mean ``mu`` before the truncation, and ``shape``)."""

    def draw(m, k):  # the gamma-poisson mixture, as Stan's neg_binomial_2_rng
        return rng.poisson(rng.gamma(k, m / k))

    return _above_zero(rng, draw, lambda m, k: _stats().nbinom(k, k / (k + m)), mu, shape)


def _above_zero(rng: np.random.Generator, draw: Callable, dist: Callable, *params) -> np.ndarray:
    """Counts above 0: zeros drawn again a few times (exact, and fast where the mean is not
    small), then for what is left the inverse of the CDF (``dist``'s) at a uniform draw above
    P(0)."""
    shape = np.broadcast_shapes(*(np.shape(p) for p in params))
    flat = [np.broadcast_to(np.asarray(p, dtype=float), shape).ravel() for p in params]
    out = draw(*flat).astype(float)
    zero = np.flatnonzero(out == 0)
    for _ in range(5):
        if not len(zero):
            break
        out[zero] = draw(*(p[zero] for p in flat))
        zero = zero[out[zero] == 0]
    if len(zero):
        rest = dist(*(p[zero] for p in flat))
        out[zero] = rest.ppf(rng.uniform(rest.cdf(0), 1.0))
    return np.maximum(out, 1.0).reshape(shape)


def _hurdle(count: Likelihood, log_p_zero: Callable, draw_above_zero: Callable) -> Likelihood:
    """brms's hurdle families: a 0 with probability hu, else the count distribution truncated at
    0 (its probabilities divided by 1 - P(0))."""

    def log_lik(y, mu, p, n):
        with np.errstate(divide="ignore"):
            above = np.log(-np.expm1(log_p_zero(mu, p)))
            counted = np.log1p(-p["hu"]) + count.log_lik(y, mu, p, n) - above
        return np.where(y == 0, np.log(p["hu"]), counted)

    return Likelihood(
        mean=lambda mu, p, n: (1 - p["hu"]) * mu / -np.expm1(log_p_zero(mu, p)),
        draw=lambda mu, p, n, rng: np.where(
            rng.random(mu.shape) < p["hu"], 0, draw_above_zero(mu, p, rng)
        ),
        log_lik=log_lik,
    )


def _point_at_zero(rest: Likelihood, name: str) -> Likelihood:
    """brms's hurdle_gamma, hurdle_lognormal and zero_inflated_beta: a 0 with probability
    ``name`` (hu or zi), else ``rest``, which puts no mass at 0 (so nothing is truncated)."""

    def log_lik(y, mu, p, n):
        with np.errstate(divide="ignore", invalid="ignore"):  # rest's density at the zeros, unused
            above = np.log1p(-p[name]) + rest.log_lik(y, mu, p, n)
        return np.where(y == 0, np.log(p[name]), above)

    return Likelihood(
        mean=lambda mu, p, n: (1 - p[name]) * rest.mean(mu, p, n),
        draw=lambda mu, p, n, rng: np.where(
            rng.random(np.shape(mu)) < p[name], 0.0, rest.draw(mu, p, n, rng)
        ),
        log_lik=log_lik,
    )


def _zero_one_inflated(beta: Likelihood) -> Likelihood:
    """brms's zero_one_inflated_beta: a 0 or a 1 with probability zoi, a 1 among them with
    probability coi, else the beta."""

    def log_lik(y, mu, p, n):
        zoi, coi = p["zoi"], p["coi"]
        with np.errstate(divide="ignore", invalid="ignore"):  # the beta at 0 and 1, unused
            between = np.log1p(-zoi) + beta.log_lik(y, mu, p, n)
            ends = np.log(zoi) + np.where(y == 1, np.log(coi), np.log1p(-coi))
        return np.where((y == 0) | (y == 1), ends, between)

    def draw(mu, p, n, rng):
        shape = np.shape(mu)
        end = (rng.random(shape) < p["coi"]).astype(float)
        return np.where(rng.random(shape) < p["zoi"], end, beta.draw(mu, p, n, rng))

    return Likelihood(
        mean=lambda mu, p, n: p["zoi"] * p["coi"] + (1 - p["zoi"]) * mu,
        draw=draw,
        log_lik=log_lik,
    )


POISSON = Likelihood(
    mean=lambda mu, p, n: mu,
    draw=lambda mu, p, n, rng: rng.poisson(mu),
    log_lik=lambda y, mu, p, n: _stats().poisson.logpmf(y, mu),
)
NEGBINOMIAL = Likelihood(
    mean=lambda mu, p, n: mu,
    draw=lambda mu, p, n, rng: rng.poisson(rng.gamma(p["shape"], mu / p["shape"])),
    log_lik=lambda y, mu, p, n: _stats().nbinom.logpmf(
        y, p["shape"], p["shape"] / (p["shape"] + mu)
    ),
)


def _weibull_scale(mu, p):
    """brms's weibull: mu is the mean, so the scale is mu / gamma(1 + 1 / shape)."""
    return mu / special.gamma(1 + 1 / p["shape"])


WEIBULL = Likelihood(
    mean=lambda mu, p, n: mu,
    draw=lambda mu, p, n, rng: _weibull_scale(mu, p) * rng.weibull(p["shape"], mu.shape),
    log_lik=lambda y, mu, p, n: _stats().weibull_min.logpdf(
        y, p["shape"], scale=_weibull_scale(mu, p)
    ),
)
EXPONENTIAL = Likelihood(
    mean=lambda mu, p, n: mu,
    draw=lambda mu, p, n, rng: rng.exponential(mu),
    log_lik=lambda y, mu, p, n: -np.log(mu) - y / mu,
)


def _zero_inflated_binomial_log_lik(y, mu, p, n):
    """brms's zero_inflated_binomial_lpmf: log(zi + (1 - zi) (1 - mu)^trials) for a zero, else
    log(1 - zi) and the binomial's."""
    zi = p["zi"]
    with np.errstate(divide="ignore"):
        zero = np.logaddexp(np.log(zi), np.log1p(-zi) + n * np.log1p(-mu))
    return np.where(y == 0, zero, np.log1p(-zi) + _stats().binom.logpmf(y, n, mu))


def beta_binomial_lpmf(y, n, a, b):
    """Stan's beta_binomial_lpmf(y | n, a, b): log C(n, y) + log B(y + a, n - y + b) - log B(a, b)."""
    choose = special.gammaln(n + 1) - special.gammaln(y + 1) - special.gammaln(n - y + 1)
    return choose + special.betaln(y + a, n - y + b) - special.betaln(a, b)


LIKELIHOODS: dict[str, Likelihood] = {
    "gaussian": Likelihood(
        mean=lambda mu, p, n: mu,
        draw=lambda mu, p, n, rng: rng.normal(mu, p["sigma"]),
        log_lik=lambda y, mu, p, n: _stats().norm.logpdf(y, mu, p["sigma"]),
    ),
    "student": Likelihood(
        mean=lambda mu, p, n: mu,
        draw=lambda mu, p, n, rng: mu + p["sigma"] * rng.standard_t(p["nu"], mu.shape),
        log_lik=lambda y, mu, p, n: _stats().t.logpdf(y, p["nu"], mu, p["sigma"]),
    ),
    "lognormal": Likelihood(
        mean=lambda mu, p, n: np.exp(mu + p["sigma"] ** 2 / 2),
        draw=lambda mu, p, n, rng: rng.lognormal(mu, p["sigma"]),
        log_lik=lambda y, mu, p, n: _stats().norm.logpdf(np.log(y), mu, p["sigma"]) - np.log(y),
    ),
    "Gamma": Likelihood(
        mean=lambda mu, p, n: mu,
        draw=lambda mu, p, n, rng: rng.gamma(p["shape"], mu / p["shape"]),
        log_lik=lambda y, mu, p, n: _stats().gamma.logpdf(y, p["shape"], scale=mu / p["shape"]),
    ),
    "beta": Likelihood(
        mean=lambda mu, p, n: mu,
        draw=lambda mu, p, n, rng: rng.beta(mu * p["phi"], (1 - mu) * p["phi"]),
        log_lik=lambda y, mu, p, n: _stats().beta.logpdf(y, mu * p["phi"], (1 - mu) * p["phi"]),
    ),
    "bernoulli": Likelihood(
        mean=lambda mu, p, n: mu,
        draw=lambda mu, p, n, rng: (rng.random(mu.shape) < mu).astype(np.int64),
        log_lik=lambda y, mu, p, n: np.where(y == 1, np.log(mu), np.log1p(-mu)),
    ),
    "binomial": Likelihood(
        mean=lambda mu, p, n: n * mu,
        draw=lambda mu, p, n, rng: rng.binomial(np.broadcast_to(n, mu.shape), mu),
        log_lik=lambda y, mu, p, n: _stats().binom.logpmf(y, n, mu),
    ),
    "poisson": POISSON,
    "negbinomial": NEGBINOMIAL,
    "zero_inflated_poisson": _zero_inflated(POISSON, lambda mu, p: -mu),
    "zero_inflated_negbinomial": _zero_inflated(
        NEGBINOMIAL, lambda mu, p: -p["shape"] * np.log1p(mu / p["shape"])
    ),
    "weibull": WEIBULL,
    "exponential": EXPONENTIAL,
    "hurdle_poisson": _hurdle(
        POISSON, lambda mu, p: -mu, lambda mu, p, rng: truncated_poisson(mu, rng)
    ),
    "hurdle_negbinomial": _hurdle(
        NEGBINOMIAL,
        lambda mu, p: -p["shape"] * np.log1p(mu / p["shape"]),
        lambda mu, p, rng: truncated_negbinomial(mu, p["shape"], rng),
    ),
    "zero_inflated_binomial": Likelihood(
        mean=lambda mu, p, n: n * mu * (1 - p["zi"]),
        draw=lambda mu, p, n, rng: np.where(
            rng.random(mu.shape) < p["zi"], 0, rng.binomial(np.broadcast_to(n, mu.shape), mu)
        ),
        log_lik=_zero_inflated_binomial_log_lik,
    ),
    "beta_binomial": Likelihood(
        mean=lambda mu, p, n: n * mu,  # the beta's mean is mu: brms's posterior_epred
        draw=lambda mu, p, n, rng: rng.binomial(
            np.broadcast_to(n, mu.shape), rng.beta(mu * p["phi"], (1 - mu) * p["phi"])
        ),
        log_lik=lambda y, mu, p, n: beta_binomial_lpmf(y, n, mu * p["phi"], (1 - mu) * p["phi"]),
    ),
}

# the point-mass families: their continuous part is the row above of the same distribution
LIKELIHOODS |= {
    "hurdle_gamma": _point_at_zero(LIKELIHOODS["Gamma"], "hu"),
    "hurdle_lognormal": _point_at_zero(LIKELIHOODS["lognormal"], "hu"),
    "zero_inflated_beta": _point_at_zero(LIKELIHOODS["beta"], "zi"),
    "zero_one_inflated_beta": _zero_one_inflated(LIKELIHOODS["beta"]),
}


# cens(): per family, log P(Y <= y) and log P(Y > y), as the templates' lcdf and lccdf
LOG_CDFS: dict[str, Callable] = {
    "gaussian": lambda y, mu, p: (
        _stats().norm.logcdf(y, mu, p["sigma"]),
        _stats().norm.logsf(y, mu, p["sigma"]),
    ),
    "student": lambda y, mu, p: (
        _stats().t.logcdf(y, p["nu"], mu, p["sigma"]),
        _stats().t.logsf(y, p["nu"], mu, p["sigma"]),
    ),
    "lognormal": lambda y, mu, p: (
        _stats().norm.logcdf(np.log(y), mu, p["sigma"]),
        _stats().norm.logsf(np.log(y), mu, p["sigma"]),
    ),
    "weibull": lambda y, mu, p: (
        _stats().weibull_min.logcdf(y, p["shape"], scale=_weibull_scale(mu, p)),
        _stats().weibull_min.logsf(y, p["shape"], scale=_weibull_scale(mu, p)),
    ),
    "exponential": lambda y, mu, p: (np.log(-np.expm1(-y / mu)), -y / mu),
}


def censored_log_lik(
    family: str, density: np.ndarray, y, y2, codes, mu: np.ndarray, params: dict
) -> np.ndarray:
    """brms's log-likelihood of censored rows (``codes``: -1 left, 0 none, 1 right, 2 interval,
    rows x 1, as ``y`` and ``y2``), the uncensored rows' ``density`` kept."""
    below, above = LOG_CDFS[family](y, mu, params)
    out = np.where(codes == 1, above, np.where(codes == -1, below, density))
    interval = codes == 2
    if np.any(interval):
        upper, _ = LOG_CDFS[family](np.where(interval, y2, y), mu, params)
        with np.errstate(divide="ignore", invalid="ignore"):
            between = upper + np.log1p(-np.exp(below - upper))  # log_diff_exp(upper, below)
        out = np.where(interval, between, out)
    return out


def category_probabilities(
    eta: np.ndarray, thresholds: np.ndarray, link: str, family: str = "cumulative"
) -> np.ndarray:
    """Ordinal: P(y = k) for k = 1..K, as rows x draws x K, cumulative's from P(y <= k) =
    F(threshold_k - eta), the others' from mixfit/analysis/ordinal.py; ``thresholds`` is
    draws x (K - 1), or rows x draws x (K - 1) where each row has its own (cs())."""
    if thresholds.ndim == 2:
        thresholds = thresholds[None, :, :]
    if family != "cumulative":
        return np.exp(log_probabilities(family, link, eta, thresholds))
    cdf = INVERSE_LINKS[link](thresholds - eta[:, :, None])
    shape = (*eta.shape, 1)
    return np.diff(np.concatenate([np.zeros(shape), cdf, np.ones(shape)], axis=-1), axis=-1)


def ordinal_draw(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A category 1..K per row and draw."""
    u = rng.random(probabilities.shape[:-1])[..., None]
    return (np.cumsum(probabilities, axis=-1)[..., :-1] < u).sum(axis=-1) + 1

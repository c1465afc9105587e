"""The category probabilities of brms 2.18's sequential and adjacent-category ordinal families, in
numpy and on the log scale: what log_lik, y_rep, predict, effects and R² take from the draws.

With x_k = thres_k - eta (sratio) or eta - thres_k (cratio, acat) and F the link's inverse:

- sratio (stopping ratio): P(Y = k | Y >= k) = F(thres_k - eta);
- cratio (continuation ratio): P(Y > k | Y >= k) = F(eta - thres_k);
- acat (adjacent category): P(Y = k + 1) / (P(Y = k) + P(Y = k + 1)) = F(eta - thres_k).

Each is the Stan function of its template (stan_templates/families/NAME.stan, brms's
NAME_LINK_lpmf with disc 1), tested equal to it; cumulative's are in mixfit/analysis/likelihoods.py.
"""

from __future__ import annotations

import numpy as np
from scipy import special


def _cloglog_log_cdf(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return np.log(-np.expm1(-np.exp(x)))  # log(1 - exp(-exp(x)))


def _cloglog_log_ccdf(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return -np.exp(x)


# per link: log F(x) and log(1 - F(x)), each kept precise in its own tail
LOG_CDFS = {
    "logit": (lambda x: -np.logaddexp(0.0, -x), lambda x: -np.logaddexp(0.0, x)),
    "probit": (special.log_ndtr, lambda x: special.log_ndtr(-x)),
    "cloglog": (_cloglog_log_cdf, _cloglog_log_ccdf),
}


def _sequential(stop: np.ndarray, go: np.ndarray) -> np.ndarray:
    """log P(Y = k) = log P(stop at k) + sum over j < k of log P(go on past j); the last category
    is reached by going on past every threshold."""
    zeros = np.zeros((*stop.shape[:-1], 1))
    return np.concatenate([stop, zeros], axis=-1) + np.concatenate(
        [zeros, np.cumsum(go, axis=-1)], axis=-1
    )


def _sratio(log_cdf, log_ccdf, eta: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    x = thresholds - eta
    return _sequential(log_cdf(x), log_ccdf(x))


def _cratio(log_cdf, log_ccdf, eta: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    x = eta - thresholds
    return _sequential(log_ccdf(x), log_cdf(x))


def _acat(log_cdf, log_ccdf, eta: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """P(Y = k) in proportion to the product of F(x_j) over j < k and of 1 - F(x_j) over j >= k
    (with the logit link: exp of the sum of x_j over j < k, brms's cumulative_sum form)."""
    x = eta - thresholds
    up, down = log_cdf(x), log_ccdf(x)
    zeros = np.zeros((*x.shape[:-1], 1))
    below = np.concatenate([zeros, np.cumsum(up, axis=-1)], axis=-1)
    above = np.concatenate([np.cumsum(down[..., ::-1], axis=-1)[..., ::-1], zeros], axis=-1)
    unnormalised = below + above
    return unnormalised - special.logsumexp(unnormalised, axis=-1, keepdims=True)


LOG_PROBABILITIES = {"sratio": _sratio, "cratio": _cratio, "acat": _acat}


def log_probabilities(
    family: str, link: str, eta: np.ndarray, thresholds: np.ndarray
) -> np.ndarray:
    """log P(Y = k) for k = 1..K on a new last axis: ``eta`` of any shape, ``thresholds`` with the
    K - 1 thresholds on its last axis, broadcasting against ``eta[..., None]``."""
    eta = np.asarray(eta, dtype=float)[..., None]
    return LOG_PROBABILITIES[family](*LOG_CDFS[link], eta, np.asarray(thresholds, dtype=float))

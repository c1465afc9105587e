"""log_lik and y_rep from the draws, in numpy, for the families whose generated quantities stanli
cannot compile: it has no ``ordered_logistic_rng``, ``ordered_probit_rng``,
``beta_proportion_rng``, ``frechet_rng``, ``skew_normal_rng`` or ``exp_mod_normal_rng``, and runs
the zero-inflated (binomial too) and hurdle families' ``bernoulli_rng(zi) ? 0 : ...`` through its
interpreter, far slower than the sampling. The other ordinal families (sratio, cratio, acat) go the way of
cumulative: their category probabilities are those predict uses for new rows
(mixfit/analysis/ordinal.py). A censored row's log_lik is its CDF's, as in the template.

On stanli the program leaves them out (``Model.python_predictions``) and this module computes them
after sampling, as mixfit/results/marginal_draws.py does for the gaussian marginal path and as
brms computes them in R. Each is the density the family's template uses in Stan, and a replicated
data set from its distribution; a count whose rate is past Stan's own limit for an _rng (2^30) is
NaN, where Stan would fail the draw.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import special

from mixfit.analysis.likelihoods import (
    INVERSE_LINKS,
    LIKELIHOODS,
    censored_log_lik,
    ordinal_draw,
    truncated_negbinomial,
    truncated_poisson,
)
from mixfit.analysis.ordinal import log_probabilities
from mixfit.model.design import Design, Predictor
from mixfit.model.program import Model
from mixfit.model.terms import category_specific, gp, smooth

# values (draws x rows x categories) worked on at once: bounds the working memory at ~100 MB
CHUNK = 4_000_000
RATE_LIMIT = 2.0**30  # Stan's largest poisson rate for an _rng


def wanted(model: Model) -> bool:
    """Should this model's log_lik and y_rep come from Python on stanli?"""
    return model.predictions and not model.marginal and model.family.name in FAMILIES


def complete(model: Model, posterior: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    """log_lik and y_rep, each of shape (chains, draws, rows), from the posterior draws."""
    design = model.design
    rng = np.random.default_rng(seed)
    family = FAMILIES[model.family.name]
    eta = _linear_predictor(design, design.mu, posterior, model.family.ordinal)
    chains, draws, n = eta.shape
    flat_eta = eta.reshape(chains * draws, n)
    # one value per draw (draws x 1, or draws x thresholds), or per draw and row with a formula
    params = {}
    for name in family.params:
        if name in design.predictors:
            predictor = design.predictors[name]
            values = _linear_predictor(design, predictor, posterior, False)
            params[name] = INVERSE_LINKS[predictor.link](values.reshape(chains * draws, n))
        else:
            values = posterior[name].reshape(chains * draws, *posterior[name].shape[2:])
            params[name] = values[:, None] if values.ndim == 1 else values
    log_lik = np.empty_like(flat_eta)
    y_rep = np.empty_like(flat_eta)
    width = n * max(1, len(design.response.categories))
    step = max(1, CHUNK // width)
    y = design.response.values
    cs = design.category_specific
    bcs = None if cs is None else posterior["bcs"].reshape(chains * draws, -1)
    for start in range(0, chains * draws, step):
        part = slice(start, start + step)
        chunk = {name: values[part] for name, values in params.items()}
        if design.response.trials is not None:  # a binomial family's, one per row
            chunk["trials"] = design.response.trials
        if bcs is not None:  # cs(): each row's thresholds, draws x rows x thresholds
            shifts = category_specific.shifts(cs.X, bcs[part])
            chunk["b_Intercept"] = chunk["b_Intercept"][:, None, :] - shifts
        log_lik[part], y_rep[part] = family.compute(
            y, flat_eta[part], chunk, design.family.link, rng
        )
        if design.response.cens is not None:  # cens(): a censored row's CDF, as in Stan
            mu = INVERSE_LINKS[design.family.link](flat_eta[part])
            y2 = y if design.response.y2 is None else design.response.y2
            codes = design.response.cens
            log_lik[part] = censored_log_lik(
                model.family.name, log_lik[part], y, y2, codes, mu, chunk
            )
    if design.response.weights is not None:  # brms's log_lik of a weighted model
        log_lik *= design.response.weights
    return {"log_lik": log_lik.reshape(eta.shape), "y_rep": y_rep.reshape(eta.shape)}


def _linear_predictor(
    design: Design, predictor: Predictor, posterior: dict[str, np.ndarray], ordinal: bool
) -> np.ndarray:
    """A predictor's value for each row and draw, on the predictors' own scale; for an ordinal
    family without the thresholds, which its likelihood takes apart."""
    s = predictor.suffix
    eta = posterior[f"b{s}"] @ predictor.X.T
    if predictor.has_intercept and not ordinal:
        eta += posterior[f"b{s}_Intercept"][..., None]
    if predictor.offset is not None:
        eta += predictor.offset
    for block in design.blocks:
        r = posterior[f"r_{block.id}"]
        for term in block.columns(predictor.dpar):
            if block.terms[term] not in block.monotonic:  # mo()'s: with the population's
                eta += r[:, :, block.J - 1, term] * block.Z[:, term]
    eta = eta + _monotonic_part(design, predictor, posterior)
    return _gp_part(predictor, posterior, _smooth_part(predictor, posterior, eta))


def _smooth_part(predictor: Predictor, posterior: dict, eta: np.ndarray) -> np.ndarray:
    """eta with the s()/t2() terms added as the program adds them: Xs * bs + Zs_i_j * s_i_j."""
    if not smooth.present(None, predictor):
        return eta
    s, data = predictor.suffix, smooth.stan_data(predictor)
    eta = eta + posterior[f"bs{s}"] @ data[f"Xs{s}"].T
    for sm in smooth.context(None, predictor)["smooths"]:
        for j in sm["blocks"]:
            eta = eta + posterior[f"s{sm['i']}_{j}"] @ data[f"Zs{sm['i']}_{j}"].T
    return eta


def _gp_part(predictor: Predictor, posterior: dict, eta: np.ndarray) -> np.ndarray:
    """eta with the gp() terms added as the program adds them: each GP at its points (gp_pred),
    taken to the rows through Jgp, and with by = f to its level's rows (Igp) times Cgp."""
    if not gp.present(None, predictor):
        return eta
    data, eta = gp.stan_data(predictor), eta.copy()
    for term in gp.context(None, predictor)["gps"]:
        for sfx in (
            [term["i"]] if term["levels"] is None else [f"{term['i']}_{j}" for j in term["levels"]]
        ):
            values = posterior[f"gp_pred{sfx}"]
            if term["gr"]:
                values = values[..., np.asarray(data[f"Jgp{sfx}"]) - 1]
            if term["levels"] is None:
                eta += values
            else:
                rows = np.asarray(data[f"Igp{sfx}"]) - 1
                eta[..., rows] += np.asarray(data[f"Cgp{sfx}"]) * values
    return eta


def _monotonic_part(design: Design, predictor: Predictor, posterior: dict) -> np.ndarray | float:
    """The mo() terms' share, as the program's: (bsp[i] + r_k[J_k[n], m]) * mo(simo_i, Xmo_i[n]),
    the group-level part where (mo(x) | g) varies it; chains x draws x rows."""
    s, out = predictor.suffix, 0.0
    for i, term in enumerate(predictor.monotonic, start=1):
        simo = posterior[f"simo{s}_{i}"]  # chains x draws x D
        steps = term.D * np.cumsum(simo, axis=-1)
        mo = np.concatenate([np.zeros((*simo.shape[:2], 1)), steps], axis=-1)[..., term.values]
        slope = posterior[f"bsp{s}"][..., i - 1, None]
        for block in design.blocks:
            if term.label in block.monotonic and predictor.dpar == "mu":
                k = block.terms.index(term.label)
                slope = slope + posterior[f"r_{block.id}"][:, :, block.J - 1, k]
        out = out + slope * mo
    return out


class Family:
    def __init__(self, params: tuple[str, ...], compute: Callable):
        self.params = params
        self.compute = compute


def _poisson_lpmf(y: np.ndarray, eta: np.ndarray) -> np.ndarray:
    return y * eta - np.exp(eta) - special.gammaln(y + 1)


def _negbinomial_lpmf(y: np.ndarray, eta: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """neg_binomial_2_log_lpmf: mean exp(eta), variance mu + mu^2 / shape."""
    log_shape = np.log(shape)
    log_total = np.logaddexp(eta, log_shape)  # log(mu + shape)
    return (
        special.gammaln(y + shape)
        - special.gammaln(shape)
        - special.gammaln(y + 1)
        + shape * (log_shape - log_total)
        + y * (eta - log_total)
    )


def _counts(rng: np.random.Generator, rate: np.ndarray) -> np.ndarray:
    ok = np.isfinite(rate) & (rate < RATE_LIMIT)
    out = np.full(rate.shape, np.nan)
    out[ok] = rng.poisson(rate[ok])
    return out


def _zero_inflated(y, eta, params, count_lpmf, count_rate, rng):
    """A zero is structural (probability zi) or the count distribution's."""
    zi = params["zi"]
    lp_count = count_lpmf(y, eta)
    log_lik = np.where(
        y == 0, np.logaddexp(np.log(zi), np.log1p(-zi) + lp_count), np.log1p(-zi) + lp_count
    )
    counts = _counts(rng, count_rate(eta))
    structural = rng.random(eta.shape) < zi
    return log_lik, np.where(structural, 0.0, counts)


def _zero_inflated_poisson(y, eta, params, link, rng):
    return _zero_inflated(y, eta, params, _poisson_lpmf, np.exp, rng)


def _zero_inflated_negbinomial(y, eta, params, link, rng):
    shape = params["shape"]

    def lpmf(y, eta):
        return _negbinomial_lpmf(y, eta, shape)

    def rate(eta):  # the gamma-poisson mixture, as Stan's neg_binomial_2_log_rng draws it
        return rng.gamma(shape, np.exp(eta) / shape)

    return _zero_inflated(y, eta, params, lpmf, rate, rng)


def _hurdle(y, eta, params, log_p_zero, count_lpmf, draw_above_zero, rng):
    """A zero with probability hu, else the count distribution truncated at 0 (brms's hurdle
    families); ``log_p_zero`` is the count distribution's log P(0)."""
    hu = params["hu"]
    with np.errstate(divide="ignore"):
        counted = np.log1p(-hu) + count_lpmf(y, eta) - np.log(-np.expm1(log_p_zero))
    log_lik = np.where(y == 0, np.log(hu), counted)
    rate = np.exp(eta)
    ok = np.isfinite(rate) & (rate < RATE_LIMIT)
    counts = np.full(rate.shape, np.nan)
    counts[ok] = draw_above_zero(rate, ok)
    return log_lik, np.where(rng.random(eta.shape) < hu, 0.0, counts)


def _hurdle_poisson(y, eta, params, link, rng):
    return _hurdle(
        y, eta, params, -np.exp(eta), _poisson_lpmf,
        lambda rate, ok: truncated_poisson(rate[ok], rng), rng,
    )  # fmt: skip


def _hurdle_negbinomial(y, eta, params, link, rng):
    shape = np.broadcast_to(params["shape"], eta.shape)

    def lpmf(y, eta):
        return _negbinomial_lpmf(y, eta, shape)

    def draw(rate, ok):
        return truncated_negbinomial(rate[ok], shape[ok], rng)

    return _hurdle(y, eta, params, lpmf(0, eta), lpmf, draw, rng)


def _zero_inflated_binomial(y, eta, params, link, rng):
    """A zero is structural (probability zi) or the binomial's (brms's zero_inflated_binomial)."""
    zi, trials = params["zi"], params["trials"]
    p = INVERSE_LINKS[link](eta)
    with np.errstate(divide="ignore"):
        log1m_p = _LOG1M_P[link](eta)
        zero = np.logaddexp(np.log(zi), np.log1p(-zi) + trials * log1m_p)
        choose = (
            special.gammaln(trials + 1) - special.gammaln(y + 1) - special.gammaln(trials - y + 1)
        )
        failures = np.where(trials > y, (trials - y) * log1m_p, 0.0)  # p = 1: 0 failures, log 0
        counted = np.log1p(-zi) + choose + special.xlogy(y, p) + failures
    log_lik = np.where(y == 0, zero, counted)
    draws = rng.binomial(np.broadcast_to(trials, eta.shape), p)
    return log_lik, np.where(rng.random(eta.shape) < zi, 0.0, draws)


# log(1 - p) of each binomial link's p, in the template's exact forms
_LOG1M_P = {
    "logit": lambda eta: -np.logaddexp(0.0, eta),
    "probit": lambda eta: special.log_ndtr(-eta),
    "cloglog": lambda eta: -np.exp(eta),
}


def _beta(y, eta, params, link, rng):
    """beta_proportion: mean inv_logit(eta), precision phi."""
    phi = params["phi"]
    mu = special.expit(eta)
    a, b = mu * phi, (1 - mu) * phi
    log_lik = (a - 1) * np.log(y) + (b - 1) * np.log1p(-y) - special.betaln(a, b)
    return log_lik, rng.beta(a, b)


def _with_zero(y, p_zero, log_density, draws, rng):
    """A 0 with probability ``p_zero``, else a continuous distribution of ``log_density`` (at the
    rows above 0) and ``draws``: brms's hurdle_gamma, hurdle_lognormal, zero_inflated_beta."""
    with np.errstate(divide="ignore"):
        log_lik = np.where(y == 0, np.log(p_zero), np.log1p(-p_zero) + log_density)
    return log_lik, np.where(rng.random(np.shape(log_lik)) < p_zero, 0.0, draws)


def _hurdle_gamma(y, eta, params, link, rng):
    """gamma of mean exp(eta) and shape: rate shape / mean."""
    shape = params["shape"]
    mean = np.exp(eta)
    rate = shape / mean
    y_above = np.where(y > 0, y, 1.0)  # the zeros' density is not used
    log_density = (
        shape * np.log(rate) + (shape - 1) * np.log(y_above) - rate * y_above
    ) - special.gammaln(shape)
    return _with_zero(y, params["hu"], log_density, rng.gamma(shape, mean / shape), rng)


def _hurdle_lognormal(y, eta, params, link, rng):
    """lognormal of meanlog eta and sdlog sigma."""
    sigma = params["sigma"]
    log_y = np.log(np.where(y > 0, y, 1.0))
    z = (log_y - eta) / sigma
    log_density = -0.5 * z**2 - np.log(sigma) - 0.5 * np.log(2 * np.pi) - log_y
    return _with_zero(y, params["hu"], log_density, rng.lognormal(eta, sigma), rng)


def _beta_parts(y, eta, phi, inside):
    """beta_proportion's log density at ``y`` where ``inside`` (0.5 elsewhere, unused), and its
    two shapes."""
    mu = special.expit(eta)
    a, b = mu * phi, (1 - mu) * phi
    y_in = np.where(inside, y, 0.5)
    return (a - 1) * np.log(y_in) + (b - 1) * np.log1p(-y_in) - special.betaln(a, b), a, b


def _zero_inflated_beta(y, eta, params, link, rng):
    log_density, a, b = _beta_parts(y, eta, params["phi"], y > 0)
    return _with_zero(y, params["zi"], log_density, rng.beta(a, b), rng)


def _zero_one_inflated_beta(y, eta, params, link, rng):
    """A 0 or 1 with probability zoi (a 1 with probability coi among them), else the beta."""
    zoi, coi = params["zoi"], params["coi"]
    log_density, a, b = _beta_parts(y, eta, params["phi"], (y > 0) & (y < 1))
    with np.errstate(divide="ignore"):
        end = np.log(zoi) + np.where(y == 1, np.log(coi), np.log1p(-coi))
        log_lik = np.where((y == 0) | (y == 1), end, np.log1p(-zoi) + log_density)
    ends = (rng.random(eta.shape) < coi).astype(float)
    return log_lik, np.where(rng.random(eta.shape) < zoi, ends, rng.beta(a, b))


# log F for the cumulative family's links: F the logistic or the standard normal CDF
_LOG_CDF = {"logit": lambda x: -np.logaddexp(0.0, -x), "probit": special.log_ndtr}


def _cumulative(y, eta, params, link, rng):
    """P(y <= k) = F(threshold_k - eta); the thresholds are b_Intercept."""
    log_cdf = _LOG_CDF[link]
    thresholds = params["b_Intercept"]  # (draws, K - 1)
    bounds = np.concatenate(
        [np.full((len(thresholds), 1), -np.inf), thresholds, np.full((len(thresholds), 1), np.inf)],
        axis=1,
    )
    index = np.asarray(y, dtype=np.int64)
    upper = np.take_along_axis(bounds, np.broadcast_to(index, eta.shape), axis=1) - eta
    lower = np.take_along_axis(bounds, np.broadcast_to(index - 1, eta.shape), axis=1) - eta
    log_lik = _log_cdf_difference(log_cdf, upper, lower)
    cumulative = np.exp(log_cdf(thresholds[:, None, :] - eta[:, :, None]))  # (draws, rows, K - 1)
    u = rng.random(eta.shape)
    return log_lik, 1.0 + np.sum(cumulative < u[:, :, None], axis=2)


def _log_cdf_difference(log_cdf, upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """log(F(upper) - F(lower)) for upper > lower, in whichever tail keeps its precision: F of
    symmetric distributions gives F(u) - F(l) = F(-l) - F(-u)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        low_tail = log_cdf(upper) + np.log1p(-np.exp(log_cdf(lower) - log_cdf(upper)))
        high_tail = log_cdf(-lower) + np.log1p(-np.exp(log_cdf(-upper) - log_cdf(-lower)))
    return np.where(upper + lower <= 0, low_tail, high_tail)


def _ratio_family(name: str) -> Callable:
    """sratio, cratio, acat: each category's probability from mixfit/analysis/ordinal.py; the
    thresholds are b_Intercept, less each row's category-specific effects (cs())."""

    def compute(y, eta, params, link, rng):
        thresholds = params["b_Intercept"]  # draws x thresholds, or x rows too with cs()
        if thresholds.ndim == 2:
            thresholds = thresholds[:, None, :]
        log_p = log_probabilities(name, link, eta, thresholds)
        index = np.broadcast_to(np.asarray(y, dtype=np.int64) - 1, eta.shape)[..., None]
        log_lik = np.take_along_axis(log_p, index, axis=-1)[..., 0]
        return log_lik, ordinal_draw(np.exp(log_p), rng).astype(float)

    return compute


def _continuous(name: str) -> Callable:
    """A family stanli has no _rng for but whose numpy density and draws are predict's
    (mixfit/analysis/likelihoods.py): frechet, skew_normal, exgaussian."""
    likelihood = LIKELIHOODS[name]

    def compute(y, eta, params, link, rng):
        mu = INVERSE_LINKS[link](eta)
        return likelihood.log_lik(y, mu, params, None), likelihood.draw(mu, params, None, rng)

    return compute


FAMILIES = {
    "zero_inflated_poisson": Family(("zi",), _zero_inflated_poisson),
    "zero_inflated_negbinomial": Family(("shape", "zi"), _zero_inflated_negbinomial),
    "beta": Family(("phi",), _beta),
    "cumulative": Family(("b_Intercept",), _cumulative),
    "sratio": Family(("b_Intercept",), _ratio_family("sratio")),
    "cratio": Family(("b_Intercept",), _ratio_family("cratio")),
    "acat": Family(("b_Intercept",), _ratio_family("acat")),
    "hurdle_poisson": Family(("hu",), _hurdle_poisson),
    "hurdle_negbinomial": Family(("shape", "hu"), _hurdle_negbinomial),
    "zero_inflated_binomial": Family(("zi",), _zero_inflated_binomial),
    "hurdle_gamma": Family(("shape", "hu"), _hurdle_gamma),
    "hurdle_lognormal": Family(("sigma", "hu"), _hurdle_lognormal),
    "zero_inflated_beta": Family(("phi", "zi"), _zero_inflated_beta),
    "zero_one_inflated_beta": Family(("phi", "zoi", "coi"), _zero_one_inflated_beta),
    "frechet": Family(("nu",), _continuous("frechet")),
    "skew_normal": Family(("sigma", "alpha"), _continuous("skew_normal")),
    "exgaussian": Family(("sigma", "beta"), _continuous("exgaussian")),
}

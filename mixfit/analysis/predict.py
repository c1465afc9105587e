"""Predictions for new rows from a results folder: brms's posterior_epred, posterior_predict and
posterior_linpred, and the pointwise log-likelihood of held-out rows.

Rows are handled a chunk at a time (about CHUNK_VALUES draws x rows), so memory stays bounded
whatever the number of rows; a new level's effects are drawn from a generator seeded by the seed,
the group and the level's number, so they are the same in every chunk that holds the level, and
rows are taken in the order of their new levels, so that few chunks hold the same one.

New levels of a grouping factor (``allow_new_levels``), as brms's ``sample_new_levels``:
``uncertainty`` (default): in each draw, the effects of an existing level picked at random, anew
per draw; ``gaussian``: drawn from the normal distribution with that draw's SDs and correlations;
``old_levels``: one existing level picked at random, the same in every draw.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mixfit.analysis import truncation
from mixfit.analysis.likelihoods import (
    INVERSE_LINKS,
    LIKELIHOODS,
    category_probabilities,
    censored_log_lik,
    ordinal_draw,
)
from mixfit.analysis.limits import check_draw_inputs, check_finite
from mixfit.analysis.newdata import Rows, new_rows, response
from mixfit.analysis.saved_fit import GroupDraws, Posterior, SavedFit, load
from mixfit.errors import InputError
from mixfit.model.terms import category_specific, gp, monotonic

CHUNK_VALUES = 2_000_000  # draws x rows per chunk: 16 MB per array of doubles
TYPES = ("epred", "prediction", "linpred")
NEW_LEVELS = ("uncertainty", "gaussian", "old_levels")
# families whose predictions are whole numbers, stored as such in a draws file
COUNTS = {
    "bernoulli",
    "binomial",
    "poisson",
    "negbinomial",
    "zero_inflated_poisson",
    "zero_inflated_negbinomial",
    "hurdle_poisson",
    "hurdle_negbinomial",
    "zero_inflated_binomial",
    "beta_binomial",
}


@dataclass(frozen=True)
class FamilyLink:
    """What turns a linear predictor into predictions: family, link, ordinal categories."""

    family: str
    link: str
    categories: list[str]
    dpar: str = "mu"  # the parameter predicted: mu (the response), or one with a formula
    se: str | None = None  # se(): the column of known standard errors
    cens: str | None = None  # cens(): the column of censoring codes
    trunc: tuple[str | None, str | None] = (None, None)  # trunc(): lb and ub, numbers or columns
    rate: str | None = None  # rate(): the column of denominators

    @classmethod
    def of(cls, design: dict, dpar: str | None = None) -> FamilyLink:
        chosen = dpar or "mu"
        if chosen != "mu" and chosen not in design.get("dpars", {}):
            have = ", ".join(design.get("dpars", {})) or "none has"
            raise InputError(
                f"--dpar {chosen!r}: the model has no formula for it (parameters with a "
                f"formula: {have})"
            )
        categories = design["response"]["categories"] if chosen == "mu" else []
        response = design["response"]
        return cls(
            design["family"],
            design["link"],
            categories,
            chosen,
            response.get("se"),
            response.get("cens"),
            (response.get("trunc_lb"), response.get("trunc_ub")),
            response.get("rate"),
        )

    @property
    def truncated(self) -> bool:
        return self.trunc != (None, None)

    @property
    def ordinal(self) -> bool:
        return bool(self.categories)


class Effects:
    """The group-level effects of the rows' levels, fitted or new, per draw."""

    def __init__(self, posterior: Posterior, rows: Rows, how: str, seed: int | None):
        self.posterior = posterior
        self.rows = rows
        self.how = how
        self.seed = seed if seed is not None else np.random.SeedSequence().entropy
        # terms x levels x draws: a row's effects are then one contiguous gather
        self.r = [np.ascontiguousarray(g.r.transpose(2, 1, 0)) for g in posterior.groups]
        self._factors: dict[tuple[int, int], np.ndarray] = {}

    def add_to(self, eta: np.ndarray, rows: np.ndarray, dpar: str = "mu") -> None:
        """eta (rows of the chunk x draws) += each group's effects on predictor ``dpar`` times
        their predictors."""
        for g, (group, grows) in enumerate(zip(self.posterior.groups, self.rows.groups)):
            columns = group.columns(dpar)
            if grows is None or not columns:
                continue
            index = grows.index[rows]
            levels = group.r.shape[1]
            r = self.r[g]
            new = np.unique(index[index >= levels])
            if len(new):
                r = np.concatenate([r, self._new(g, group, new - levels)], axis=1)
                index = np.where(index >= levels, levels + np.searchsorted(new, index), index)
            Z = grows.Z[rows]
            for t in columns:
                effect = r[t][index]
                if t in grows.mo:  # (mo(x) | g): its predictor is mo(simo, x), draw by draw
                    label, x = grows.mo[t]
                    effect *= monotonic.mo_at(group.simplexes[label], x[rows])
                elif not (Z[:, t] == 1).all():  # an intercept's predictor is 1: no product
                    effect *= Z[:, t, None]
                eta += effect

    def _new(self, g: int, group: GroupDraws, numbers: np.ndarray) -> np.ndarray:
        """Terms x new levels x draws: the effects of new levels ``numbers`` of group ``g``."""
        size, levels, terms = group.r.shape
        generators = [np.random.default_rng([self.seed, g, int(n)]) for n in numbers]
        if self.how == "gaussian":
            out = np.empty((terms, len(numbers), size))
            for b, block in enumerate(group.blocks):
                factor = self._factor(g, b, block)  # draws x terms x terms, lower triangular
                m = factor.shape[1]
                z = np.stack([rng.standard_normal((m, size)) for rng in generators], axis=1)
                for i in range(m):
                    out[block.columns.start + i] = sum(factor[:, i, j] * z[j] for j in range(i + 1))
            return out
        if self.how == "uncertainty":
            picks = np.stack([rng.integers(levels, size=size) for rng in generators])
        else:  # old_levels: one level for every draw
            picks = np.stack([np.full(size, rng.integers(levels)) for rng in generators])
        return self.r[g][:, picks, np.arange(size)]

    def _factor(self, g: int, b: int, block) -> np.ndarray:
        """diag(sd) L per draw, L the Cholesky factor of the block's correlation matrix."""
        if (g, b) not in self._factors:
            if block.cor is None:
                factor = block.sd[:, :, None] * np.eye(block.sd.shape[1])
            else:
                factor = block.sd[:, :, None] * np.linalg.cholesky(block.cor)
            self._factors[(g, b)] = factor
        return self._factors[(g, b)]


def linear_predictor(
    posterior: Posterior,
    rows: Rows,
    chunk: np.ndarray,
    effects: Effects | None,
    dpar: str = "mu",
) -> np.ndarray:
    """Rows of the chunk x draws: the linear predictor of ``dpar`` (mu's: thresholds left aside,
    for an ordinal family)."""
    draws, part = posterior.predictors[dpar], rows.predictors[dpar]
    eta = part.X[chunk] @ draws.b.T
    if part.exact_gps:  # exact GPs at new rows: drawn given their fitted values, once
        key = id(draws)  # the draws are kept beside their values, so the id stays theirs
        if key not in part.cache:
            values = gp.exact_at_rows(part.exact_gps, draws.b, draws.gp_scales, len(part.X))
            part.cache[key] = (draws, values)
        eta += part.cache[key][1][:, chunk].T
    if draws.intercept is not None:
        eta += draws.intercept
    if part.offset is not None:
        eta += part.offset[chunk, None]
    if effects is not None:
        effects.add_to(eta, chunk, dpar)
    return eta


def thresholds(posterior: Posterior, rows: Rows, chunk: np.ndarray) -> np.ndarray:
    """An ordinal family's thresholds: draws x (K - 1), or with cs() each row's own, rows of the
    chunk x draws x (K - 1) (the thresholds less the row's category-specific effects)."""
    if posterior.cs is None:
        return posterior.thresholds
    if rows.cs is None:
        raise InputError("design.json does not match the draws' category-specific effects")
    shifts = category_specific.shifts(rows.cs[chunk], posterior.cs)  # draws x rows x K - 1
    return posterior.thresholds[None, :, :] - np.swapaxes(shifts, 0, 1)


def family_parameters(
    posterior: Posterior, rows: Rows, chunk: np.ndarray, effects: Effects | None
) -> dict[str, np.ndarray]:
    """The family's parameters for the chunk's rows: one value per draw for those without a
    formula, rows x draws (through their inverse link) for those with one."""
    params = dict(posterior.family)
    for dpar, draws in posterior.predictors.items():
        if dpar != "mu":
            eta = linear_predictor(posterior, rows, chunk, effects, dpar)
            params[dpar] = INVERSE_LINKS[draws.link](eta)
    return params


def with_known_se(
    model: FamilyLink, params: dict[str, np.ndarray], rows: Rows, chunk: np.ndarray
) -> dict[str, np.ndarray]:
    """se(): the rows' SD is their known SE (brms's sigma is 0), or sqrt(sigma^2 + se^2) with
    sigma = TRUE; a response's draw or likelihood needs the SE column in the rows."""
    if model.se is None:
        return params
    if rows.se is None:
        raise InputError(
            f"the new data lack the column {model.se!r} of known standard errors that se() needs "
            "to predict a response or its likelihood"
        )
    se = rows.se[chunk, None]
    sigma = params.get("sigma")
    return params | {"sigma": se if sigma is None else np.sqrt(sigma**2 + se**2)}


def chunks(posterior: Posterior, rows: Rows) -> Iterator[np.ndarray]:
    """Row numbers, ascending, a chunk at a time; the rows of a new level close together."""
    order = np.arange(rows.n)
    grouped = [g for g in rows.groups if g is not None and g.new_levels]
    if grouped:
        order = np.argsort(grouped[0].index, kind="stable")
    step = max(1, CHUNK_VALUES // max(1, posterior.size))
    for start in range(0, rows.n, step):
        yield np.sort(order[start : start + step])


def draws_of(
    kind: str,
    model: FamilyLink,
    posterior: Posterior,
    rows: Rows,
    chunk: np.ndarray,
    effects: Effects | None,
    rng: np.random.Generator,
) -> np.ndarray:
    """Rows x draws (x categories for an ordinal epred) of one kind of prediction."""
    if model.dpar != "mu":  # brms's posterior_epred(dpar = ...): the parameter itself
        eta = linear_predictor(posterior, rows, chunk, effects, model.dpar)
        return (
            eta if kind == "linpred" else INVERSE_LINKS[posterior.predictors[model.dpar].link](eta)
        )
    if model.family == "categorical":
        if kind == "linpred":
            raise InputError(
                "a categorical model has a linear predictor per category: give one with --dpar "
                f"({', '.join(posterior.predictors)})"
            )
        probabilities = row_probabilities(model, posterior, rows, chunk, effects)
        return probabilities if kind == "epred" else ordinal_draw(probabilities, rng)
    eta = linear_predictor(posterior, rows, chunk, effects)
    if kind == "linpred":
        return eta
    params = family_parameters(posterior, rows, chunk, effects)
    if model.ordinal:
        probabilities = category_probabilities(
            eta, thresholds(posterior, rows, chunk), model.link, model.family
        )
        return probabilities if kind == "epred" else ordinal_draw(probabilities, rng)
    trials = rows.trials[chunk, None] if rows.trials is not None else None
    mu, params = truncation.with_rate(
        model.family, INVERSE_LINKS[model.link](eta), params, _denom(model, rows, chunk)
    )
    likelihood = LIKELIHOODS[model.family]
    if model.truncated:  # brms's posterior_epred_trunc and truncated posterior_predict
        lb, ub = _bounds(model, rows, chunk)
        if kind == "epred":
            return truncation.mean(model.family, mu, params, lb, ub)
        check_draw_inputs(model.family, mu)
        params = with_known_se(model, params, rows, chunk)
        return truncation.draw(model.family, mu, params, lb, ub, rng)
    if kind == "epred":
        return likelihood.mean(mu, params, trials)
    check_draw_inputs(model.family, mu)
    return likelihood.draw(mu, with_known_se(model, params, rows, chunk), trials, rng)


def _denom(model: FamilyLink, rows: Rows, chunk: np.ndarray) -> np.ndarray | None:
    """rate(): the rows' denominators, which every prediction of the response needs."""
    if model.rate is None:
        return None
    if rows.denom is None:
        raise InputError(
            f"the new data lack the rate() column {model.rate!r} that the model's mean needs"
        )
    return rows.denom[chunk, None]


def _bounds(model: FamilyLink, rows: Rows, chunk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """trunc(): the rows' bounds, which a truncated model's predictions need."""
    if rows.lb is None:
        missing = ", ".join(repr(b) for b in model.trunc if b is not None)
        raise InputError(
            f"the new data lack the trunc() bound column(s) {missing} that the truncated "
            "model's predictions need"
        )
    return rows.lb[chunk, None], rows.ub[chunk, None]


def row_probabilities(
    model: FamilyLink,
    posterior: Posterior,
    rows: Rows,
    chunk: np.ndarray,
    effects: Effects | None,
) -> np.ndarray:
    """Rows of the chunk x draws x K: P(y = k), an ordinal family's or a categorical one's (the
    softmax of [0, mu2..muK], brms's categorical_logit; its predictors in design.json's order)."""
    if model.family == "categorical":
        etas = [linear_predictor(posterior, rows, chunk, effects, d) for d in posterior.predictors]
        return softmax_probabilities(np.stack(etas, axis=-1))
    eta = linear_predictor(posterior, rows, chunk, effects)
    return category_probabilities(eta, thresholds(posterior, rows, chunk), model.link, model.family)


def softmax_probabilities(etas: np.ndarray) -> np.ndarray:
    """(...) x (K - 1) linear predictors of the categories but the reference -> (...) x K."""
    full = np.concatenate([np.zeros((*etas.shape[:-1], 1)), etas], axis=-1)
    full -= full.max(axis=-1, keepdims=True)  # exp never overflows
    weights = np.exp(full)
    return weights / weights.sum(axis=-1, keepdims=True)


def interval_columns(prob: float) -> tuple[str, str]:
    """Q2.5 and Q97.5 for 95%: the names fixef.csv uses (results/summaries.py, which imports
    ArviZ, a second this command does without)."""
    low, high = (1 - prob) / 2 * 100, (1 + prob) / 2 * 100
    return f"Q{low:g}", f"Q{high:g}"


def summarise(draws: np.ndarray, prob: float) -> np.ndarray:
    """Rows x 4: mean, SD and the central interval of each row's draws."""
    low, high = np.quantile(draws, [(1 - prob) / 2, (1 + prob) / 2], axis=1)
    return np.column_stack([draws.mean(axis=1), draws.std(axis=1, ddof=1), low, high])


def predict(
    fit: SavedFit,
    frame: pd.DataFrame,
    source: str,
    *,
    kind: str = "epred",
    groups: bool = True,
    allow_new_levels: bool = False,
    sample_new_levels: str = "uncertainty",
    prob: float = 0.95,
    seed: int | None = None,
    draws_file: Path | None = None,
    dpar: str | None = None,
) -> pd.DataFrame:
    """brms's summary columns (fitted / predict), a row per row of ``frame``; with ``dpar``, of
    that distributional parameter (brms's ``posterior_epred(dpar = )``)."""
    check_choices(kind, sample_new_levels)
    if dpar and kind == "prediction":
        raise InputError(
            f"--dpar {dpar!r} gives a parameter's draws (--type epred, or linpred on its link's "
            "scale); new responses (--type prediction) come from every parameter at once"
        )
    model = FamilyLink.of(fit.design, dpar)
    rows = new_rows(
        fit.design,
        frame,
        source,
        groups=groups,
        allow_new_levels=allow_new_levels,
        trials=kind != "linpred",
    )
    posterior = fit.posterior
    effects = Effects(posterior, rows, sample_new_levels, seed) if groups else None
    rng = np.random.default_rng(seed)
    low, high = interval_columns(prob)
    stats = ["Estimate", "Est.Error", low, high]
    if model.ordinal and kind == "epred":
        columns = [f"{s}.P(Y = {c})" for c in model.categories for s in stats]
    elif model.ordinal and kind == "prediction":
        columns = [f"P(Y = {c})" for c in model.categories]
    else:
        columns = stats
    table = np.empty((rows.n, len(columns)))
    writer = _DrawsFile(draws_file, kind, model, posterior, rows.n) if draws_file else None
    arma = cosy = None
    autocor = fit.design.get("autocor")
    if autocor and autocor["class"] == "arma" and model.dpar == "mu":
        arma = arma_means(fit, frame, source, rows, effects)
    elif autocor and kind == "prediction":  # cosy's epred is mu, brms's (the rows' own mean)
        cosy = cosy_predictions(fit, model, frame, rows, effects, rng)
    try:
        for chunk in chunks(posterior, rows):
            if cosy is not None:
                values = cosy[:, chunk].T
            elif arma is not None:
                values = _arma_draws(kind, model, posterior, rows, chunk, effects, rng, arma)
            else:
                values = draws_of(kind, model, posterior, rows, chunk, effects, rng)
            if writer:
                writer.write(chunk, values)
            if model.ordinal and kind == "epred":
                parts = [summarise(values[:, :, k], prob) for k in range(values.shape[-1])]
                table[chunk] = np.concatenate(parts, axis=1)
            elif model.ordinal and kind == "prediction":
                categories = np.arange(1, len(model.categories) + 1)
                table[chunk] = (values[:, :, None] == categories).mean(axis=1)
            else:
                table[chunk] = summarise(values, prob)
    finally:
        if writer:
            writer.close()
    check_finite(table, source)
    return pd.DataFrame(table, columns=columns)


def log_lik(
    outdir: Path,
    newdata: pd.DataFrame,
    *,
    allow_new_levels: bool,
    sample_new_levels: str,
    seed: int,
) -> np.ndarray:
    """The pointwise log-likelihood of ``newdata``'s rows (response included) under the fit in
    ``outdir``: draws (chains one after another) x rows, with the family's likelihood."""
    check_choices("epred", sample_new_levels)
    fit = load(outdir)
    model = FamilyLink.of(fit.design)
    source = "the new data"
    rows = new_rows(fit.design, newdata, source, allow_new_levels=allow_new_levels)
    y = response(fit.design, newdata, source)
    posterior = fit.posterior
    effects = Effects(posterior, rows, sample_new_levels, seed)
    autocor = fit.design.get("autocor")
    if autocor and autocor["class"] == "cosy":  # each row given the other new rows of its series
        return cosy_log_lik(fit, model, newdata, y, rows, effects)
    arma = arma_means(fit, newdata, source, rows, effects) if autocor else None
    out = np.empty((posterior.size, rows.n))
    for chunk in chunks(posterior, rows):
        observed = y[chunk, None]
        if model.ordinal:  # and categorical: the observed category's probability
            probabilities = row_probabilities(model, posterior, rows, chunk, effects)
            shape = probabilities.shape[:-1]
            picked = np.take_along_axis(
                probabilities, np.broadcast_to(observed - 1, shape)[..., None], axis=-1
            )
            out[:, chunk] = np.log(picked[..., 0]).T
        else:
            if arma is not None:  # gaussian or student, identity link: the mean is the predictor
                eta = arma[chunk]
            else:
                eta = linear_predictor(posterior, rows, chunk, effects)
            trials = rows.trials[chunk, None] if rows.trials is not None else None
            likelihood = LIKELIHOODS[model.family]
            params = with_known_se(
                model, family_parameters(posterior, rows, chunk, effects), rows, chunk
            )
            mu, params = truncation.with_rate(
                model.family, INVERSE_LINKS[model.link](eta), params, _denom(model, rows, chunk)
            )
            density = likelihood.log_lik(observed, mu, params, trials)
            if model.cens is not None:
                density = censored_log_lik(
                    model.family, density, observed, _y2(rows, chunk), _codes(model, rows, chunk),
                    mu, params,
                )  # fmt: skip
            if model.truncated:  # less the log probability of the bounds, as the Stan program
                lb, ub = _bounds(model, rows, chunk)
                density = truncation.log_lik(model.family, density, mu, params, lb, ub)
            out[:, chunk] = density.T
        if fit.design["response"].get("weights") is not None:  # brms's log_lik: times the weight
            if rows.weights is None:
                raise InputError(
                    f"the new data lack the weights column {fit.design['response']['weights']!r} "
                    "that the weighted likelihood needs"
                )
            out[:, chunk] *= rows.weights[chunk]
    return out


def _codes(model: FamilyLink, rows: Rows, chunk: np.ndarray) -> np.ndarray:
    if rows.cens is None:
        raise InputError(
            f"the new data lack the censoring column {model.cens!r} that the likelihood of a "
            "cens() model needs"
        )
    return rows.cens[chunk, None]


def _y2(rows: Rows, chunk: np.ndarray) -> np.ndarray | None:
    return None if rows.y2 is None else rows.y2[chunk, None]


class _DrawsFile:
    """Every draw of the predictions, written chunk by chunk into a netCDF file (h5netcdf)."""

    def __init__(self, path: Path, kind: str, model: FamilyLink, posterior: Posterior, n: int):
        import h5netcdf.legacyapi as netcdf

        self.file = netcdf.Dataset(str(path), "w")
        chains = posterior.chains
        self.shape = (chains, posterior.size // chains)
        self.file.createDimension("chain", chains)
        self.file.createDimension("draw", self.shape[1])
        self.file.createDimension("obs", n)
        dims = ("chain", "draw", "obs")
        if model.ordinal and kind == "epred":
            self.file.createDimension("category", len(model.categories))
            self.file.createVariable("category", str, ("category",))[:] = np.array(
                model.categories, dtype=object
            )
            dims += ("category",)
        for name in ("chain", "draw", "obs"):
            variable = self.file.createVariable(name, "i8", (name,))
            variable[:] = np.arange(self.file.dimensions[name].size)
        integer = kind == "prediction" and (model.ordinal or model.family in COUNTS)
        self.values = self.file.createVariable(kind, "i8" if integer else "f8", dims)

    def write(self, chunk: np.ndarray, values: np.ndarray) -> None:
        draws_first = np.swapaxes(values, 0, 1)  # rows x draws (x categories) -> draws x rows
        where = chunk
        if chunk[-1] - chunk[0] + 1 == len(chunk):  # a run of rows: one slice, far faster in HDF5
            where = slice(int(chunk[0]), int(chunk[-1]) + 1)
        self.values[:, :, where] = draws_first.reshape(*self.shape, *draws_first.shape[1:])

    def close(self) -> None:
        self.file.close()


def arma_means(
    fit: SavedFit, frame: pd.DataFrame, source: str, rows: Rows, effects: Effects | None
) -> np.ndarray:
    """Rows x draws: each new row's mean with the ARMA terms, as brms's .predictor_arma on new
    data: the rows sorted by series and time, each taking the residuals of its series' earlier
    rows, which needs their responses (in ``frame``, under the response's name)."""
    import xarray as xr

    from mixfit.model.terms.autocor import AutocorTerm, arma_mu, build, order_rows

    info = fit.design["autocor"]
    name = fit.design["response"]["name"]
    if name not in frame.columns:
        raise InputError(
            f"{source} lacks the response {name!r}: a new row's ARMA terms take the residuals "
            "of its series' earlier rows, as brms's"
        )
    term = AutocorTerm("arma", info["p"], info["q"], info["time"], info["gr"], "the ARMA term")
    numbered = frame.assign(_row=np.arange(len(frame)))
    ordered = order_rows(term, numbered)
    order = ordered["_row"].to_numpy()
    J_lag = build(term, ordered).J_lag
    y = response(fit.design, frame, source)
    posterior = fit.posterior
    eta = np.empty((posterior.size, rows.n))
    for chunk in chunks(posterior, rows):
        eta[:, chunk] = linear_predictor(posterior, rows, chunk, effects).T
    with xr.open_dataset(fit.outdir / "draws.nc", group="posterior", engine="h5netcdf") as saved:
        ar, ma = (
            np.stack([saved[f"{k}[{j}]"].values.reshape(-1) for j in range(1, n + 1)], 1)
            if n
            else None
            for k, n in (("ar", info["p"]), ("ma", info["q"]))
        )
    mu = np.empty_like(eta)
    mu[:, order] = arma_mu(eta[:, order], y[order], J_lag, ar, ma)
    return mu.T


def _arma_draws(
    kind: str,
    model: FamilyLink,
    posterior: Posterior,
    rows: Rows,
    chunk: np.ndarray,
    effects: Effects | None,
    rng: np.random.Generator,
    arma: np.ndarray,
) -> np.ndarray:
    """draws_of for an ARMA model (gaussian or student, identity link): the mean is arma's."""
    mu = arma[chunk]
    if kind != "prediction":
        return mu
    params = family_parameters(posterior, rows, chunk, effects)
    return LIKELIHOODS[model.family].draw(mu, params, None, rng)


def _cosy_inputs(
    fit: SavedFit, model: FamilyLink, frame: pd.DataFrame, rows: Rows, effects: Effects | None
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """cosy() at new rows, as brms's prepare_predictions_ac on newdata: each row's mean (draws x
    rows), the draws of sigma, cosy and (student) nu, and each row's series among the new
    data's own rows (by the term's gr and time, sorted as the fit sorted its rows)."""
    import xarray as xr

    from mixfit.model.terms.autocor import AutocorTerm, cosy_series

    info = fit.design["autocor"]
    named = [f"{k} = {info[k]}" for k in ("time", "gr") if info.get(k)]
    term = AutocorTerm("cosy", 0, 0, info["time"], info["gr"], f"cosy({', '.join(named)})")
    series = cosy_series(term, frame)
    posterior = fit.posterior
    mu = np.empty((posterior.size, rows.n))
    for chunk in chunks(posterior, rows):
        eta = linear_predictor(posterior, rows, chunk, effects)
        mu[:, chunk] = INVERSE_LINKS[model.link](eta).T
    with xr.open_dataset(fit.outdir / "draws.nc", group="posterior", engine="h5netcdf") as saved:
        cosy = saved["cosy"].values.reshape(-1)
    params = {"sigma": posterior.family["sigma"], "cosy": cosy}
    if "nu" in posterior.family:
        params["nu"] = posterior.family["nu"]
    return mu, params, series


def cosy_predictions(
    fit: SavedFit,
    model: FamilyLink,
    frame: pd.DataFrame,
    rows: Rows,
    effects: Effects | None,
    rng: np.random.Generator,
) -> np.ndarray:
    """Draws x rows: new responses of a cosy() model, each new series drawn as a whole (brms's
    posterior_predict_gaussian_time / _student_time)."""
    from mixfit.model.terms.autocor import cosy_draws

    mu, params, series = _cosy_inputs(fit, model, frame, rows, effects)
    check_draw_inputs(model.family, mu)
    return cosy_draws(mu, params["sigma"], params["cosy"], series, rng, params.get("nu"))


def cosy_log_lik(
    fit: SavedFit,
    model: FamilyLink,
    frame: pd.DataFrame,
    y: np.ndarray,
    rows: Rows,
    effects: Effects | None,
) -> np.ndarray:
    """Draws x rows: the log-likelihood of a cosy() model's new rows, each given the other new
    rows of its series (brms's log_lik_gaussian_time / _student_time)."""
    from mixfit.model.terms.autocor import cosy_log_lik as conditional

    mu, params, series = _cosy_inputs(fit, model, frame, rows, effects)
    return conditional(y, mu, params["sigma"], params["cosy"], series, params.get("nu"))


def check_choices(kind: str, sample_new_levels: str) -> None:
    if kind not in TYPES:
        raise InputError(f"unknown prediction type {kind!r} (types: {', '.join(TYPES)})")
    if sample_new_levels not in NEW_LEVELS:
        raise InputError(
            f"unknown --sample-new-levels {sample_new_levels!r} (choices: {', '.join(NEW_LEVELS)})"
        )

"""Gaussian process terms of one predictor, ``gp(x)`` and ``gp(x, k = 20, c = 5/4)`` (brms's
``stan_gp``/``data_gp``, R/stan-predictor.R and R/data-predictor.R).

Each term is one GP, or one per level of its ``by`` factor, built by gp_basis. Term i of a
predictor has ``sdgp_<i>`` and ``lscale_<i>`` (one element per GP; prior classes sdgp and
lscale) and per GP standardised latent variables ``zgp_<i>`` (``zgp_<i>_<j>`` for by-level j).
The exact GP's function at its (unique) points is ``cholesky(K + 1e-12 I) * zgp``; the
approximate one's is ``Xgp * (sqrt(spd(slambda)) .* zgp)``, with the exp_quad kernel's spectral
density. Either way the program keeps it as ``gp_pred_<i>`` and adds it to each row's predictor
through ``Jgp`` (the row's point).

For draws read back the function is linear per draw: the approximate GP's columns are the basis
at the rows and its coefficients ``sqrt(spd) .* zgp``; the exact GP's columns pick each row's
fitted point and its coefficients are the function's values there. New points of an exact GP
are drawn as brms's ``.predictor_gp_new``: from the normal of its values at the rows' (unique)
points given its values at the fitted ones (``ExactAtRows``; their columns are zero).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mixfit.errors import InputError
from mixfit.model.priors import Prior, Slot
from mixfit.model.special_terms import SpecialTerm
from mixfit.model.terms.covariates import covariate_columns
from mixfit.model.terms.gp_basis import (
    EXACT_NUGGET,
    GPBasis,
    GPSpec,
    build_gp,
    cov_exp_quad,
    evaluate_gp,
    exact_gp_new_draw,
    gp_stan_data,
    lscale_priors,
    spd_cov_exp_quad,
    sqrt_eigenvalues,
)

TEMPLATE = "terms/gp.stan"
KEYWORDS = {"k", "c", "by", "cov", "gr", "scale", "iso"}
FALLBACK_LSCALE = Prior("normal", (0.0, 0.5))  # brms's where its inv_gamma equations fail


@dataclass(frozen=True)
class GPTerm:
    """One ``gp()`` as written, with its GPs' data at the fitted rows."""

    text: str
    spec: GPSpec
    basis: GPBasis

    @property
    def columns(self) -> list[str]:
        return list(self.spec.covariates) + ([self.spec.by] if self.spec.by else [])

    @property
    def approximate(self) -> bool:
        return self.spec.k is not None


def spec_of(special: SpecialTerm) -> GPSpec:
    """``gp(x, k = 20, c = 5/4, by = f)`` as a GPSpec; options mixfit does not build are refused."""
    special.check_keywords(KEYWORDS)
    covariates = tuple(special.column(a) for a in special.positional)
    if not covariates:
        raise InputError(f"{special.text}: name the covariate, e.g. gp(x)")
    cov = special.keyword("cov")
    if cov is not None and special.string(cov) != "exp_quad":
        raise InputError(
            f"{special.text}: cov = {special.string(cov)!r} is not supported; brms 2.18's gp() "
            "has the exp_quad kernel only"
        )
    iso = special.keyword("iso")
    if iso is not None and not special.logical(iso) and len(covariates) > 1:
        raise InputError(
            f"{special.text}: iso = FALSE (a length-scale per covariate) is not supported yet"
        )
    k_arg, c_arg, by_arg = (special.keyword(n) for n in ("k", "c", "by"))
    k = None
    if k_arg is not None:
        value = special.number(k_arg)
        if value != int(value) or value < 1:
            raise InputError(f"{special.text}: k must be a whole number >= 1, not {k_arg.text}")
        k = int(value)
    c = None
    if c_arg is not None:
        values = tuple(special.number(a) for a in special.vector(c_arg))
        if any(v <= 0 for v in values):
            raise InputError(f"{special.text}: c must be positive, not {c_arg.text}")
        c = values[0] if len(values) == 1 else values
    if k is not None and c is None:
        raise InputError(
            f"{special.text}: an approximate GP (k = ...) needs c, the boundary factor, e.g. "
            "c = 5/4 (as brms)"
        )
    if k is None and c is not None:
        raise InputError(f"{special.text}: c is the approximate GP's boundary factor: give k too")
    flags = {
        name: special.logical(special.keyword(name))
        for name in ("gr", "scale")
        if special.keyword(name) is not None
    }
    by = None if by_arg is None else special.column(by_arg)
    return GPSpec(covariates=covariates, k=k, c=c, by=by, **flags)


def columns_of(special: SpecialTerm) -> list[str]:
    """The data columns a gp term reads (before any data is looked at)."""
    spec = spec_of(special)
    return list(spec.covariates) + ([spec.by] if spec.by else [])


def build_terms(specials: Sequence[SpecialTerm], frame: pd.DataFrame) -> tuple[GPTerm, ...]:
    """Every gp term of one formula, built on the fitted rows; a bad term is one InputError."""
    out = []
    for special in specials:
        spec = spec_of(special)
        data = _columns(frame, spec, special.text)
        levels = None
        if spec.by is not None:
            observed = set(frame[spec.by].astype(str))
            levels = [str(c) for c in frame[spec.by].cat.categories if str(c) in observed]
        try:
            basis = build_gp(spec, data, by_levels=levels)
        except InputError as err:
            message = (
                str(err).removeprefix("gp(): ").removeprefix(f"gp({', '.join(spec.covariates)}): ")
            )
            raise InputError(f"{special.text}: {message}") from None
        out.append(GPTerm(special.text, spec, basis))
    labels = [sfx for term in out for sfx in term.basis.sfx1]
    for term in out:
        for sfx in term.basis.sfx1:
            if labels.count(sfx) > 1:  # brms's names of their draws would clash
                raise InputError(
                    f"{term.text}: another gp() of the formula has the same covariates (both "
                    f"named {sfx}): join them in one term, or give one a by factor"
                )
    return tuple(out)


def _columns(frame: pd.DataFrame, spec: GPSpec, text: str) -> dict[str, Any]:
    return covariate_columns(
        frame, spec.covariates, spec.by, text,
        needs="a Gaussian process needs a numeric covariate",
        numeric_by="a numeric by",
    )  # fmt: skip


# --- the program: data, snippet context, priors --------------------------------------------------


def present(design, predictor) -> bool:
    return bool(getattr(predictor, "gps", ()))


def terms(predictor) -> Iterator[tuple[int, GPTerm]]:
    """The predictor's gp terms with brms's numbers (1, 2, ... per predictor)."""
    return enumerate(getattr(predictor, "gps", ()), start=1)


def context(design, predictor) -> dict:
    """What the snippet needs: each term's number, kind and by levels' count, never data."""
    s = predictor.suffix
    return {
        "s": s,
        "eta": predictor.dpar,
        "of": "" if predictor.dpar == "mu" else f" of {predictor.dpar}",
        "gps": [
            {
                "i": f"{s}_{i}",
                "label": term.basis.label,
                "approx": term.approximate,
                "gr": term.spec.gr,
                "levels": list(range(1, len(term.basis.parts) + 1)) if term.spec.by else None,
            }
            for i, term in terms(predictor)
        ],
    }


def stan_data(predictor) -> dict:
    """brms's Dgp, Kgp, NBgp, Nsubgp, Jgp, Xgp, slambda (and Ngp, Igp, Cgp with by) per term."""
    out: dict = {}
    for i, term in terms(predictor):
        out |= gp_stan_data(term.basis.parts, i, term.basis.state, predictor.suffix)
    return out


def shared(p: dict) -> list[tuple[str, str]]:
    """What a reduce_sum slice needs: the GPs' values at their points and the rows' indices."""
    args: list[tuple[str, str]] = []
    for gp in p["gps"]:
        if gp["levels"] is None:
            args.append(("vector", f"gp_pred{gp['i']}"))
            if gp["gr"]:
                args.append(("data array[] int", f"Jgp{gp['i']}"))
            continue
        args.append(("data array[] int", f"Ngp{gp['i']}"))
        for j in gp["levels"]:
            sfx = f"{gp['i']}_{j}"
            args += [("vector", f"gp_pred{sfx}"), ("data array[] int", f"Igp{sfx}")]
            args.append(("data vector", f"Cgp{sfx}"))
            if gp["gr"]:
                args.append(("data array[] int", f"Jgp{sfx}"))
    return args


def slots(predictor) -> list[Slot]:
    """Prior slots: sdgp (class sdgp) and lscale (class lscale), an element per GP, coef brms's
    suffix of the GP (``gpx``, ``gpxfaca``)."""
    s, dpar = predictor.suffix, predictor.dpar
    out = []
    for i, term in terms(predictor):
        labels = [(sfx, "") for sfx in term.basis.sfx1]
        out.append(Slot(f"sdgp{s}_{i}", "sdgp", 0.0, None, labels, dpar=dpar))
        out.append(Slot(f"lscale{s}_{i}", "lscale", 0.0, None, list(labels), dpar=dpar))
    return out


def default_lscale(predictor) -> dict[tuple[str, str, str], Prior]:
    """brms's data-derived default of each GP's length-scale: (class, dpar, coef) -> prior."""
    out = {}
    for _, term in terms(predictor):
        for sfx, pars in zip(term.basis.sfx1, lscale_priors(term.basis), strict=True):
            prior = FALLBACK_LSCALE if pars is None else Prior("inv_gamma", pars)
            out[("lscale", predictor.dpar, sfx)] = prior
    return out


# --- brms's names of the draws, and the GPs at rows of saved fits --------------------------------


def draw_names(predictor) -> dict[str, list[str]]:
    """Stan's variable -> brms's names: ``sdgp_1`` -> [sdgp_gpx] (one per GP), ``lscale_1`` ->
    [lscale_gpx], ``zgp_1`` -> [zgp_gpx] (a vector; ``zgp_1_j`` per by level)."""
    s, prefix = predictor.suffix, predictor.prefix
    out: dict[str, list[str]] = {}
    for i, term in terms(predictor):
        sfx1 = term.basis.sfx1
        out[f"sdgp{s}_{i}"] = [f"sdgp_{prefix}{x}" for x in sfx1]
        out[f"lscale{s}_{i}"] = [f"lscale_{prefix}{x}" for x in sfx1]
        if term.spec.by is None:
            out[f"zgp{s}_{i}"] = [f"zgp_{prefix}{sfx1[0]}"]
        else:
            for j, x in enumerate(sfx1, start=1):
                out[f"zgp{s}_{i}_{j}"] = [f"zgp_{prefix}{x}"]
    return out


def internal_names(predictor) -> set[str]:
    """The program's intermediate values (not brms's draws): gp_pred, rgp."""
    s = predictor.suffix
    out = set()
    for i, term in terms(predictor):
        sfxs = [f"{s}_{i}"]
        if term.spec.by is not None:
            sfxs = [f"{s}_{i}_{j}" for j in range(1, len(term.basis.parts) + 1)]
        out |= {f"gp_pred{x}" for x in sfxs} | {f"rgp{x}" for x in sfxs}
    return out


def describe(predictor) -> list[dict]:
    """design.json's entry per term: the state that rebuilds its GPs at new rows, and each GP's
    brms suffix and size (basis functions, or the exact GP's fitted points)."""
    return [
        {
            "text": term.text,
            "columns": term.columns,
            "state": term.basis.state,
            "gps": [
                {
                    "label": sfx,
                    "size": int(part.Xgp.shape[1] if term.approximate else len(part.Xgp)),
                }
                for sfx, part in zip(term.basis.sfx1, term.basis.parts, strict=True)
            ],
        }
        for _, term in terms(predictor)
    ]


@dataclass(frozen=True)
class ExactAtRows:
    """An exact GP at new rows: drawn given its values at the fitted points (brms's
    ``.predictor_gp_new``), which are the predictor's columns ``start:start + len(fitted)``."""

    gp: int  # the GP's number among the predictor's GPs (0-based; by levels count one each)
    start: int  # its first column among the predictor's
    rows: np.ndarray  # the rows of its level (0-based)
    points: np.ndarray  # their unique scaled points
    index: np.ndarray  # each row's point (0-based)
    fitted: np.ndarray  # the fitted scaled points


def columns_at(
    entries: Sequence[Mapping], data: Mapping[str, Any], n: int, offset: int = 0
) -> tuple[np.ndarray, list[ExactAtRows]]:
    """The GPs' columns at rows, in the order of ``coefficients``: per GP, the basis functions at
    the rows of its level (approximate), or zeros for an exact GP, whose values at the rows are
    drawn apart (the ExactAtRows; ``offset`` is the columns before these in the predictor's)."""
    blocks: list[np.ndarray] = []
    exact: list[ExactAtRows] = []
    width = offset
    number = 0
    for entry in entries:
        state = entry["state"]
        for part, fitted in zip(evaluate_gp(state, data), state["fitted"], strict=True):
            rows = np.arange(n) if part.Igp is None else part.Igp - 1
            if state["k"] is not None:
                values = part.Xgp if part.Jgp is None else part.Xgp[part.Jgp - 1]
            else:
                points = np.asarray(fitted["points"], float)
                values = np.zeros((len(rows), len(points)))
                index = np.arange(len(rows)) if part.Jgp is None else part.Jgp - 1
                exact.append(ExactAtRows(number, width, rows, part.Xgp, index, points))
            block = np.zeros((n, values.shape[1]))
            block[rows] = values
            blocks.append(block)
            width += values.shape[1]
            number += 1
    return (np.column_stack(blocks) if blocks else np.zeros((n, 0))), exact


def exact_at_rows(
    exact: Sequence[ExactAtRows], b: np.ndarray, scales: Sequence[tuple], n: int
) -> np.ndarray:
    """The exact GPs' draws at n new rows (draws x rows), each drawn from its conditional normal
    given its fitted values (``b``'s columns) per draw, as brms; seeded, so that a prediction's
    chunks and repeated runs agree."""
    rng = np.random.default_rng(20221)
    out = np.zeros((len(b), n))
    for gp in exact:
        if not len(gp.rows):
            continue
        sdgp, lscale = scales[gp.gp]
        f = b[:, gp.start : gp.start + len(gp.fitted)]
        # a new point at a fitted one has that value (the conditional normal's, of variance 0,
        # which the solves would blur in an ill-conditioned kernel); only the others are drawn
        same = np.all(np.isclose(gp.points[:, None, :], gp.fitted[None, :, :], atol=1e-12), axis=2)
        known = same.any(axis=1)
        values = np.zeros((len(b), len(gp.points)))
        values[:, known] = f[:, same[known].argmax(axis=1)]
        if not known.all():
            new = gp.points[~known]
            values[:, ~known] = np.stack(
                [_new_draw(new, gp.fitted, f[s], sdgp[s], lscale[s], rng) for s in range(len(b))]
            )
        out[:, gp.rows] += values[:, gp.index]
    return out


def fitted_columns(predictor) -> np.ndarray:
    """The fitted rows' GP columns of a predictor, in ``columns_at``'s order."""
    n = len(predictor.X)
    blocks = []
    for _, term in terms(predictor):
        for part in term.basis.parts:
            rows = np.arange(n) if part.Igp is None else part.Igp - 1
            if term.approximate:
                values = part.Xgp if part.Jgp is None else part.Xgp[part.Jgp - 1]
            else:
                size = len(part.Xgp)
                index = np.arange(size) if part.Jgp is None else part.Jgp - 1
                values = np.eye(size)[index]
            block = np.zeros((n, values.shape[1]))
            block[rows] = values
            blocks.append(block)
    return np.column_stack(blocks) if blocks else np.zeros((n, 0))


def coefficients(entries: Sequence[Mapping], flat, prefix: str) -> list[np.ndarray]:
    """Per GP, the draws x columns that multiply ``columns_at``'s: ``sqrt(spd) .* zgp``
    (approximate) or the function at the fitted points, ``cholesky(K) zgp`` (exact).
    ``flat(name)`` gives a brms-named variable's draws (draws x elements)."""
    out = []
    for entry in entries:
        state = entry["state"]
        for gp, fitted in zip(entry["gps"], state["fitted"], strict=True):
            sdgp = flat(f"sdgp_{prefix}{gp['label']}").reshape(-1)
            lscale = flat(f"lscale_{prefix}{gp['label']}").reshape(-1)
            zgp = flat(f"zgp_{prefix}{gp['label']}").reshape(len(sdgp), -1)
            if state["k"] is not None:
                d = len(state["covariates"])
                slambda = sqrt_eigenvalues(np.asarray(fitted["L"], float), state["k"], d)
                out.append(np.sqrt(spd_cov_exp_quad(slambda, sdgp, lscale)) * zgp)
            else:
                points = np.asarray(fitted["points"], float)
                out.append(_exact_values(points, sdgp, lscale, zgp))
    return out


def _new_draw(x_new, x, f, sdgp, lscale, rng: np.random.Generator) -> np.ndarray:
    """brms's .predictor_gp_new for one draw; where the conditional covariance is not positive
    definite in floating point (an ill-conditioned kernel), its square root from its eigenvalues
    clipped at zero, rather than an error after the fit has run."""
    try:
        return exact_gp_new_draw(x_new, x, f, sdgp, lscale, rng)
    except np.linalg.LinAlgError:
        K = cov_exp_quad(x, None, sdgp, lscale) + EXACT_NUGGET * np.eye(len(x))
        cross = cov_exp_quad(x, x_new, sdgp, lscale)
        mean = cross.T @ np.linalg.lstsq(K, f, rcond=None)[0]
        cov = cov_exp_quad(x_new, None, sdgp, lscale) - cross.T @ np.linalg.pinv(K) @ cross
        values, vectors = np.linalg.eigh((cov + cov.T) / 2)
        root = vectors * np.sqrt(np.clip(values, 0, None))
        return mean + root @ rng.standard_normal(len(x_new))


def scales(entries: Sequence[Mapping], flat, prefix: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per GP (in ``coefficients``' order), its draws of sdgp and lscale."""
    return [
        (
            flat(f"sdgp_{prefix}{gp['label']}").reshape(-1),
            flat(f"lscale_{prefix}{gp['label']}").reshape(-1),
        )
        for entry in entries
        for gp in entry["gps"]
    ]


def _exact_values(points: np.ndarray, sdgp, lscale, zgp) -> np.ndarray:
    eye = EXACT_NUGGET * np.eye(len(points))
    return np.stack(
        [
            np.linalg.cholesky(cov_exp_quad(points, None, s, ls) + eye) @ z
            for s, ls, z in zip(sdgp, lscale, zgp, strict=True)
        ]
    )


def expected_draws(entries: Sequence[Mapping], prefix: str) -> dict[str, tuple[int, ...]]:
    """Each brms-named variable of the GPs with its dimensions past chain and draw."""
    out: dict[str, tuple[int, ...]] = {}
    for entry in entries:
        for gp in entry["gps"]:
            out[f"sdgp_{prefix}{gp['label']}"] = ()
            out[f"lscale_{prefix}{gp['label']}"] = ()
            out[f"zgp_{prefix}{gp['label']}"] = (gp["size"],)
    return out

"""Gaussian process terms' Stan data as brms 2.18 builds it (`gp()`, R/formula-gp.R; `data_gp` and
`.data_gp`, R/data-predictor.R), the exp_quad kernel and its spectral density in numpy (for
predictions from saved draws), and brms's default inverse-gamma prior of the length-scale
(`def_lscale_prior`, R/priors.R).

`gp(x)` is exact: the Stan program builds the covariance `sdgp^2 exp(-d^2 / (2 lscale^2))` of the
points `Xgp`. `gp(x, k = 20, c = 5/4)` is the Hilbert-space approximation: `Xgp` holds k (k^D for D
covariates) sine eigenfunctions on [-L, L] and `slambda` the square roots of their eigenvalues; the
latent function is `Xgp (sqrt(spd(slambda)) .* zgp)`.

brms's preparation: with `gr = TRUE` (the default) only the unique covariate points enter, `Jgp`
mapping each row to its point; with `scale = TRUE` the points are divided by their largest
distance (`dmax`); the approximation centres them (`cmeans`) and sets L = c * max(1, range),
the range over all the centred values. A `by` factor gives one GP per level (`Igp`: its rows).

For new data the fitted dmax, cmeans and L are used. (brms 2.18 recomputes L from the new data,
a bug it fixed later; mixfit keeps the fitted L so that new points lie on the fitted basis.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import product
from typing import Any

import numpy as np
from scipy import special

from mixfit.errors import InputError

STATE_TYPE = "brms_gp"
STATE_VERSION = 1
EXACT_NUGGET = 1e-12  # brms's Stan function gp() adds it to the covariance's diagonal
NEW_DATA_NUGGET = 1e-8  # brms's nug for the covariance of new points given the fitted ones


@dataclass(frozen=True)
class GPSpec:
    """One `gp()` term as written: `gp(x)`, `gp(x, k = 20, c = 5/4)`, `gp(x1, x2, by = f)`."""

    covariates: tuple[str, ...]
    k: int | None = None  # basis functions per dimension: the approximate GP
    c: float | tuple[float, ...] | None = None  # boundary factor(s), required with k
    by: str | None = None
    scale: bool = True
    gr: bool = True
    iso: bool = True


@dataclass
class GPPart:
    """One GP's Stan data (one per level of a `by` factor)."""

    level: str | None
    Xgp: np.ndarray  # exact: the (unique, scaled) points; approximate: eigenfunctions at them
    slambda: np.ndarray | None  # approximate: NB x D square roots of the eigenvalues
    Jgp: np.ndarray | None  # gr: each row's point, 1-based (Stan's indexing)
    Igp: np.ndarray | None  # by: the level's rows, 1-based
    Xgp_prior: np.ndarray  # the scaled points the lscale prior is computed from


@dataclass
class GPBasis:
    parts: list[GPPart]
    label: str  # brms's label, e.g. "gpx", "gpx1x2", "gpxfac"
    sfx1: list[str]  # brms's suffixes of sdgp / zgp per part: "gpx", or "gpxfaca", ...
    state: dict = field(repr=False)


def _covariates(data: Mapping[str, Any], names: Sequence[str]) -> np.ndarray:
    columns = []
    for name in names:
        if name not in data:
            raise InputError(f"gp(): no column '{name}' in the data")
        values = np.asarray(data[name])
        if values.dtype.kind not in "iuf":
            raise InputError(f"gp(): '{name}' is not numeric (a Gaussian process needs numbers)")
        values = values.astype(float)
        if not np.all(np.isfinite(values)):
            raise InputError(f"gp(): '{name}' has missing or infinite values")
        columns.append(values)
    return np.column_stack(columns)


def squared_distances(x: np.ndarray, x_new: np.ndarray | None = None) -> np.ndarray:
    """brms's `diff_quad`: squared Euclidean distances between the rows of x and of x_new."""
    x_new = x if x_new is None else x_new
    return np.sum((x[:, None, :] - x_new[None, :, :]) ** 2, axis=2)


def _unique_points(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """brms's gr = TRUE: the unique rows in order of first appearance, and each row's (0-based) one."""
    _, first, inverse = np.unique(x, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return x[first[order]], rank[inverse.reshape(-1)]


def boundary(x_centred: np.ndarray, c: np.ndarray) -> np.ndarray:
    """brms's `choose_L`: c * max(1, max - min over all centred values)."""
    span = float(np.max(x_centred) - np.min(x_centred)) if x_centred.size else 1.0
    return c * max(1.0, span)


def basis_indices(k: int, d: int) -> np.ndarray:
    """brms's `expand.grid(1:k, ..., 1:k)`: k^d x d indices, the first dimension varying fastest."""
    return np.array([tup[::-1] for tup in product(range(1, k + 1), repeat=d)])


def eigenfunctions(x_centred: np.ndarray, L: np.ndarray, k: int) -> np.ndarray:
    """brms's `eigen_fun_cov_exp_quad` for every basis index: N x k^D."""
    m = basis_indices(k, x_centred.shape[1])
    waves = np.sin(m[None, :, :] * np.pi / (2 * L) * (x_centred[:, None, :] + L)) / np.sqrt(L)
    return np.prod(waves, axis=2)


def sqrt_eigenvalues(L: np.ndarray, k: int, d: int) -> np.ndarray:
    """brms's `slambda`: sqrt of `eigen_val_cov_exp_quad`, m pi / (2 L), k^D x D."""
    return basis_indices(k, d) * np.pi / (2 * L)


def _level_rows(
    data: Mapping[str, Any], by: str | None, levels: Sequence[str] | None
) -> list[tuple[str | None, np.ndarray | None]]:
    if by is None:
        return [(None, None)]
    if by not in data:
        raise InputError(f"gp(): no column '{by}' (its by variable) in the data")
    raw = np.asarray(data[by])
    if raw.dtype.kind in "iuf" and levels is None:
        raise InputError(f"gp(): by = {by} must be a factor (a text column, or --factor {by})")
    values = raw.astype(str)
    levels = sorted(set(values.tolist())) if levels is None else list(levels)
    return [(level, np.flatnonzero(values == level)) for level in levels]


def _fit_level(x: np.ndarray, spec: GPSpec, c: np.ndarray | None) -> dict:
    """The fitted constants of one GP: dmax, cmeans, L (what new data needs)."""
    points = _unique_points(x)[0] if spec.gr else x
    dmax = 1.0
    if spec.scale:
        dmax = float(np.sqrt(np.max(squared_distances(points))))
        if not dmax > 0:
            raise InputError(
                f"gp({', '.join(spec.covariates)}): the covariate is constant, so its "
                "distances can't be scaled (brms: 'Could not scale GP covariates')"
            )
    scaled = points / dmax
    cmeans = scaled.mean(axis=0)
    out = {"dmax": dmax, "cmeans": cmeans.tolist(), "L": None}
    if spec.k is not None:
        out["L"] = boundary(scaled - cmeans, c).tolist()
    if spec.k is None:  # an exact GP's predictions condition on the fitted points
        out["points"] = scaled.tolist()
    return out


def _part(
    x: np.ndarray, rows: np.ndarray | None, level: str | None, state: dict, fitted: dict
) -> GPPart:
    """One GP's data from its rows' covariates and the fitted constants."""
    jgp = None
    if state["gr"]:
        x, index = _unique_points(x)
        jgp = index + 1
    scaled = x / fitted["dmax"]
    slambda = None
    xgp = scaled
    if state["k"] is not None:
        L = np.asarray(fitted["L"], float)
        xgp = eigenfunctions(scaled - np.asarray(fitted["cmeans"], float), L, state["k"])
        slambda = sqrt_eigenvalues(L, state["k"], x.shape[1])
    igp = None if rows is None else rows + 1
    return GPPart(level=level, Xgp=xgp, slambda=slambda, Jgp=jgp, Igp=igp, Xgp_prior=scaled)


def _labels(spec: GPSpec, levels: list[str | None]) -> tuple[str, list[str]]:
    """brms's tidy_gpef: label "gp" + covariates (+ by) and sfx1 per level (label + level)."""
    label = "gp" + _rename("".join(spec.covariates)) + (_rename(spec.by) if spec.by else "")
    return label, [label + ("" if lv is None else _rename(lv.replace(" ", ""))) for lv in levels]


def _rename(name: str) -> str:
    for pattern, replacement in (
        *((ch, "") for ch in " ()[],\"'?"),
        ("+", "P"),
        ("-", "M"),
        ("*", "MU"),
        ("/", "D"),
        ("^", "E"),
        ("=", "EQ"),
    ):
        name = name.replace(pattern, replacement)
    return name


def _check_spec(spec: GPSpec) -> np.ndarray | None:
    """The boundary factors as a vector (None for an exact GP), after brms's gp() checks."""
    if not spec.covariates or len(set(spec.covariates)) != len(spec.covariates):
        raise InputError("gp(): give distinct covariates")
    if spec.k is None:
        return None
    if isinstance(spec.k, bool) or not isinstance(spec.k, int) or spec.k < 1:
        raise InputError(f"gp(): k must be a positive whole number, not {spec.k}")
    if spec.c is None:
        raise InputError("gp(): an approximate GP (k = ...) needs c, e.g. c = 5/4")
    c = np.atleast_1d(np.asarray(spec.c, dtype=float))
    if len(c) == 1:
        c = np.repeat(c, len(spec.covariates))
    if len(c) != len(spec.covariates):
        raise InputError("gp(): c must have one value, or one per covariate")
    if not np.all(c > 0):
        raise InputError("gp(): c must be positive")
    return c


def build_gp(
    spec: GPSpec, data: Mapping[str, Any], by_levels: Sequence[str] | None = None
) -> GPBasis:
    """The Stan data of one gp() term (brms's data_gp) and the state that rebuilds it for new data."""
    c = _check_spec(spec)
    x = _covariates(data, spec.covariates)
    levels = _level_rows(data, spec.by, by_levels)
    state: dict = {
        "type": STATE_TYPE,
        "version": STATE_VERSION,
        "covariates": list(spec.covariates),
        "k": spec.k,
        "c": None if c is None else c.tolist(),
        "gr": spec.gr,
        "scale": spec.scale,
        "iso": spec.iso,
        "by": None
        if spec.by is None
        else {"variable": spec.by, "levels": [lv for lv, _ in levels]},
        "fitted": [],
    }
    parts = []
    for level, rows in levels:
        xl = x if rows is None else x[rows]
        if len(xl) == 0:
            raise InputError(f"gp(): level '{level}' of {spec.by} has no rows")
        fitted = _fit_level(xl, spec, c)
        state["fitted"].append(fitted)
        parts.append(_part(xl, rows, level, state, fitted))
    label, sfx1 = _labels(spec, [lv for lv, _ in levels])
    return GPBasis(parts=parts, label=label, sfx1=sfx1, state=state)


def evaluate_gp(state: dict, data: Mapping[str, Any]) -> list[GPPart]:
    """The term's Stan data at new rows with the fitted scaling, centring and boundary. For an
    exact GP, `Xgp` holds the new points; the fitted ones are `state["fitted"][j]["points"]`."""
    x = _covariates(data, state["covariates"])
    by = state["by"]
    levels = _level_rows(
        data, None if by is None else by["variable"], None if by is None else by["levels"]
    )
    parts = []
    for (level, rows), fitted in zip(levels, state["fitted"], strict=True):
        xl = x if rows is None else x[rows]
        if len(xl):
            parts.append(_part(xl, rows, level, state, fitted))
        else:
            parts.append(_empty_part(level, state, fitted, x.shape[1]))
    return parts


def _empty_part(level: str | None, state: dict, fitted: dict, d: int) -> GPPart:
    width = d if state["k"] is None else state["k"] ** d
    slambda = None
    if state["k"] is not None:
        slambda = sqrt_eigenvalues(np.asarray(fitted["L"], float), state["k"], d)
    empty = np.zeros(0, dtype=int)
    return GPPart(
        level,
        np.zeros((0, width)),
        slambda,
        empty if state["gr"] else None,
        empty,
        np.zeros((0, d)),
    )


def gp_stan_data(
    basis_parts: Sequence[GPPart], index: int, state: dict, prefix: str = ""
) -> dict[str, Any]:
    """brms's Stan data names for gp term number `index`: `Dgp_i`, `NBgp_i`, `Kgp_i`, and per GP
    (suffix `_i`, or `_i_j` for by-level j) `Xgp`, `slambda`, `Jgp`, `Nsubgp`, `Igp`, `Cgp`."""
    i = f"{prefix}_{index}"
    d = len(state["covariates"])
    out: dict[str, Any] = {f"Dgp{i}": d}
    if state["k"] is not None:
        out[f"NBgp{i}"] = state["k"] ** d
    out[f"Kgp{i}"] = len(basis_parts)
    by = state["by"] is not None
    if by:
        out[f"Ngp{i}"] = [len(p.Igp) for p in basis_parts]
        if state["gr"]:
            out[f"Nsubgp{i}"] = [len(p.Xgp) for p in basis_parts]
    for j, part in enumerate(basis_parts, start=1):
        sfx = f"{i}_{j}" if by else i
        if by:
            out[f"Igp{sfx}"] = part.Igp
            out[f"Cgp{sfx}"] = np.ones(len(part.Igp))
        if state["gr"]:
            if not by:
                out[f"Nsubgp{sfx}"] = len(part.Xgp)
            out[f"Jgp{sfx}"] = part.Jgp
        out[f"Xgp{sfx}"] = part.Xgp
        if part.slambda is not None:
            out[f"slambda{sfx}"] = part.slambda
    return out


# --- kernel and spectral density, vectorised over draws ----------------------------------------


def cov_exp_quad(
    x: np.ndarray, x_new: np.ndarray | None, sdgp: float, lscale: float | np.ndarray
) -> np.ndarray:
    """brms's `cov_exp_quad`: sdgp^2 exp(-d^2 / (2 lscale^2)); a vector lscale (iso = FALSE)
    multiplies one such factor per dimension."""
    x_new = x if x_new is None else x_new
    lscale = np.atleast_1d(np.asarray(lscale, float))
    if len(lscale) == 1:
        return sdgp**2 * np.exp(-squared_distances(x, x_new) / (2 * lscale[0] ** 2))
    out = np.full((len(x), len(x_new)), float(sdgp) ** 2)
    for dim, ls in enumerate(lscale):
        out *= np.exp(-squared_distances(x[:, [dim]], x_new[:, [dim]]) / (2 * ls**2))
    return out


def spd_cov_exp_quad(slambda: np.ndarray, sdgp: np.ndarray, lscale: np.ndarray) -> np.ndarray:
    """brms's `spd_cov_exp_quad` for S draws: slambda NB x D, sdgp (S,), lscale (S,) or (S, D)
    (one per dimension); returns S x NB."""
    sdgp = np.asarray(sdgp, float)
    lscale = np.asarray(lscale, float)
    d = slambda.shape[1]
    if lscale.ndim == 1 or lscale.shape[1] == 1:
        ls = lscale.reshape(-1)
        constant = sdgp**2 * (np.sqrt(2 * np.pi) * ls) ** d
        return constant[:, None] * np.exp(-0.5 * ls[:, None] ** 2 * np.sum(slambda**2, axis=1))
    constant = sdgp**2 * np.sqrt(2 * np.pi) ** d * np.prod(lscale, axis=1)
    return constant[:, None] * np.exp(-0.5 * (lscale**2) @ (slambda**2).T)


def approximate_gp_draws(
    Xgp: np.ndarray, slambda: np.ndarray, sdgp: np.ndarray, lscale: np.ndarray, zgp: np.ndarray
) -> np.ndarray:
    """brms's `.predictor_gpa`: the latent function at the rows of Xgp for S draws (S x N)."""
    return (np.sqrt(spd_cov_exp_quad(slambda, sdgp, lscale)) * zgp) @ Xgp.T


def exact_gp_draw(
    x: np.ndarray, sdgp: float, lscale: float | np.ndarray, zgp: np.ndarray
) -> np.ndarray:
    """brms's `.predictor_gp_old` for one draw: cholesky(K + 1e-12 I) zgp at the fitted points."""
    K = cov_exp_quad(x, None, sdgp, lscale) + EXACT_NUGGET * np.eye(len(x))
    return np.linalg.cholesky(K) @ zgp


def exact_gp_new_draw(
    x_new: np.ndarray,
    x: np.ndarray,
    f: np.ndarray,
    sdgp: float,
    lscale: float | np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """brms's `.predictor_gp_new` for one draw: the GP at new points given its values f at the
    fitted points, drawn from the conditional normal."""
    L = np.linalg.cholesky(cov_exp_quad(x, None, sdgp, lscale) + EXACT_NUGGET * np.eye(len(x)))
    k_cross = cov_exp_quad(x, x_new, sdgp, lscale)
    v = np.linalg.solve(L, k_cross)
    mean = v.T @ np.linalg.solve(L, f)
    cov = cov_exp_quad(x_new, None, sdgp, lscale) - v.T @ v + NEW_DATA_NUGGET * np.eye(len(x_new))
    return mean + np.linalg.cholesky(cov) @ rng.standard_normal(len(x_new))


# --- brms's default prior of lscale ------------------------------------------------------------


def lscale_prior(
    points: np.ndarray, plb: float = 0.01, pub: float = 0.01
) -> tuple[float, float] | None:
    """brms's `def_lscale_prior` for one GP: inv_gamma(alpha, beta) putting probability plb below
    the smallest and pub above the largest distance between the points (the smallest raised to
    at least 1% of the largest), rounded to 6 decimals as brms prints them; None where the equations
    have no solution found, where brms falls back to normal(0, 0.5)."""
    points = np.asarray(points, float).reshape(len(points), -1)
    dq = squared_distances(points)
    ub = float(np.sqrt(dq.max()))
    positive = dq[dq > 0]
    if not positive.size:
        return None
    lb = max(float(np.sqrt(positive.min())), 0.01 * ub)

    def equations(log_pars: np.ndarray) -> np.ndarray:
        alpha, beta = np.exp(log_pars)
        below = special.gammaincc(alpha, beta / lb)  # P(lscale < lb) of inv_gamma(alpha, beta)
        above = special.gammainc(alpha, beta / ub)  # P(lscale > ub)
        tiny = np.finfo(float).tiny  # far tails underflow; keep the solver's steps finite
        return np.log(np.maximum([below, above], tiny)) - np.log([plb, pub])

    # imported here: scipy.optimize takes a third of a second, for the models with a gp()
    from scipy import optimize

    # brms solves these with nleqslv (Broyden, double dogleg); Levenberg-Marquardt finds the same
    # root from brms's start (0, 0) where scipy's hybrid method stalls in the far tail
    result = optimize.root(equations, x0=np.zeros(2), method="lm", options={"xtol": 1e-12})
    if not result.success or not np.all(np.abs(equations(result.x)) < 1e-8):
        return None
    alpha, beta = np.exp(result.x)
    return round(float(alpha), 6), round(float(beta), 6)


def lscale_priors(basis: GPBasis) -> list[tuple[float, float] | None]:
    """The default lscale prior of each GP of a term (per dimension for iso = FALSE), in brms's
    order: by-levels vary last."""
    out: list[tuple[float, float] | None] = []
    for part in basis.parts:
        if basis.state["iso"]:
            out.append(lscale_prior(part.Xgp_prior))
        else:
            out.extend(lscale_prior(part.Xgp_prior[:, [d]]) for d in range(part.Xgp_prior.shape[1]))
    return out


# --- the state read back from a file -----------------------------------------------------------


def load_gp_state(obj: Any, where: str = "design.json") -> dict:
    """Check a gp term's state from a results folder (untrusted: types, shapes, finite numbers)."""

    def fail(what: str) -> None:
        raise InputError(f"{where}: gp state: {what}")

    keys = ("type", "version", "covariates", "k", "c", "gr", "scale", "iso", "by", "fitted")
    if not isinstance(obj, dict) or any(key not in obj for key in keys):
        fail(f"not an object with {', '.join(keys)}")
    if obj["type"] != STATE_TYPE or obj["version"] != STATE_VERSION:
        fail(f"not a {STATE_TYPE} state of version {STATE_VERSION}")
    covariates = obj["covariates"]
    if (
        not isinstance(covariates, list)
        or not covariates
        or not all(isinstance(c, str) for c in covariates)
    ):
        fail("covariates is not a list of names")
    d = len(covariates)
    for flag in ("gr", "scale", "iso"):
        if not isinstance(obj[flag], bool):
            fail(f"{flag} is not true or false")
    k = obj["k"]
    if k is not None and (
        isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 10**4 or k**d > 10**6
    ):
        fail("k is not a whole number of basis functions")
    if k is not None and _floats(obj["c"], d) is None:
        fail(f"c is not {d} positive numbers")
    n_levels = 1
    if obj["by"] is not None:
        by = obj["by"]
        if (
            not isinstance(by, dict)
            or not isinstance(by.get("variable"), str)
            or not isinstance(by.get("levels"), list)
            or not by["levels"]
            or not all(isinstance(lv, str) for lv in by["levels"])
        ):
            fail("by is not a variable with its levels")
        n_levels = len(by["levels"])
    fitted = obj["fitted"]
    if not isinstance(fitted, list) or len(fitted) != n_levels:
        fail("fitted is not one entry per GP")
    for entry in fitted:
        _check_fitted(entry, d, k, fail)
    return obj


def _floats(values: Any, length: int, positive: bool = True) -> np.ndarray | None:
    if not isinstance(values, list) or len(values) != length:
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return None
    arr = np.asarray(values, float)
    if not np.all(np.isfinite(arr)) or (positive and not np.all(arr > 0)):
        return None
    return arr


def _check_fitted(entry: Any, d: int, k: int | None, fail: Any) -> None:
    if not isinstance(entry, dict) or any(key not in entry for key in ("dmax", "cmeans", "L")):
        fail("a fitted entry lacks dmax, cmeans or L")
    if _floats([entry["dmax"]], 1) is None:
        fail("dmax is not a positive number")
    if _floats(entry["cmeans"], d, positive=False) is None:
        fail(f"cmeans is not {d} numbers")
    if k is not None and _floats(entry["L"], d) is None:
        fail(f"L is not {d} positive numbers")
    if k is None:
        points = entry.get("points")
        try:
            arr = np.asarray(points, float)
        except (TypeError, ValueError):
            arr = None
        if (
            arr is None
            or arr.ndim != 2
            or arr.shape[1] != d
            or not len(arr)
            or not np.all(np.isfinite(arr))
        ):
            fail(f"points is not a matrix of {d} columns of finite numbers")

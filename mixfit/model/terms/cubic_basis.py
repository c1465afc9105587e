"""mgcv's cubic regression spline bases: `bs = "cr"` and its shrinkage version `"cs"`
(`smooth.construct.cr.smooth.spec`, the C routines `crspl`/`getFS` in mgcv's src/mgcv.c), and the
cyclic `"cc"` (`smooth.construct.cc.smooth.spec`, `Predict.matrix.cyclic.smooth`).

A cr spline is parameterised by its values at the knots: the model matrix interpolates them with
the natural cubic spline through them (second derivatives at the knots are F' times the values),
and the penalty is the integrated squared second derivative, D'B^{-1}D. Outside the knots the
spline goes on linearly. The cc spline does the same with periodic end conditions, its last knot
identified with the first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

DEFAULT_K = 10
CS_SHRINK = 0.1  # mgcv's attr(object, "shrink") for "cs"


class CubicError(ValueError):
    """A cubic spline basis that can't be built (k too large for the data, too small)."""


@dataclass
class CubicBasis:
    X: np.ndarray  # n x k model matrix (object$X)
    S: np.ndarray  # the penalty (object$S[[1]])
    rank: int
    null_dim: int
    state: dict  # knots and F (cr, cs) or BD (cc): JSON-able


def _check_k(k: int | None, minimum: int) -> int:
    k = DEFAULT_K if k is None else int(k)
    if k < minimum:
        raise CubicError(f"basis dimension k = {k} is below the minimum {minimum} for this basis")
    return k


def cr_knots(x: np.ndarray, k: int) -> np.ndarray:
    """mgcv's default cr knots: quantiles (R's type 7) of the unique values at k even probabilities."""
    xu = np.unique(x)
    if len(xu) < k:
        raise CubicError(
            f"a smooth has {len(xu)} unique covariate values, too few to support k = {k} knots"
        )
    return np.quantile(xu, np.linspace(0.0, 1.0, k))


def cr_penalty_and_f(knots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """mgcv's `getFS`: the penalty S = D'B^{-1}D and F (n x n, F[j, :] maps the values at the knots
    to the second derivative at knot j; zero at the two end knots)."""
    n = len(knots)
    h = np.diff(knots)
    D = np.zeros((n - 2, n))
    for i in range(n - 2):
        D[i, i], D[i, i + 2] = 1 / h[i], 1 / h[i + 1]
        D[i, i + 1] = -1 / h[i] - 1 / h[i + 1]
    B = np.zeros((n - 2, n - 2))
    np.fill_diagonal(B, (h[:-1] + h[1:]) / 3)
    off = h[1:-1] / 6
    B[np.arange(n - 3), np.arange(1, n - 2)] = off
    B[np.arange(1, n - 2), np.arange(n - 3)] = off
    BinvD = np.linalg.solve(B, D)
    F = np.zeros((n, n))
    F[1:-1, :] = BinvD
    return D.T @ BinvD, F


def cr_model_matrix(x: np.ndarray, knots: np.ndarray, F: np.ndarray) -> np.ndarray:
    """mgcv's `crspl` (F supplied): the cr basis at x, linear beyond the end knots."""
    x = np.asarray(x, dtype=float)
    nk = len(knots)
    X = np.zeros((len(x), nk))
    rows = np.arange(len(x))
    inside = (x >= knots[0]) & (x <= knots[-1])
    j = np.clip(np.searchsorted(knots, x, side="left") - 1, 0, nk - 2)
    xi, ji, ri = x[inside], j[inside], rows[inside]
    h = knots[ji + 1] - knots[ji]
    am, ap = knots[ji + 1] - xi, xi - knots[ji]
    cm, cp = am * (am * am / h - h) / 6, ap * (ap * ap / h - h) / 6
    X[ri] = cm[:, None] * F[ji] + cp[:, None] * F[ji + 1]
    X[ri, ji] += am / h
    X[ri, ji + 1] += ap / h
    below, above = rows[x < knots[0]], rows[x > knots[-1]]
    if len(below):
        h0, d = knots[1] - knots[0], x[below] - knots[0]
        X[below] = (-d * h0 / 3)[:, None] * F[0] + (-d * h0 / 6)[:, None] * F[1]
        X[below, 0] += 1 - d / h0
        X[below, 1] += d / h0
    if len(above):
        h1, d = knots[-1] - knots[-2], x[above] - knots[-1]
        X[above] = (d * h1 / 6)[:, None] * F[-2] + (d * h1 / 3)[:, None] * F[-1]
        X[above, -2] -= d / h1
        X[above, -1] += 1 + d / h1
    return X


def _shrunk(S: np.ndarray, shrink: float) -> np.ndarray:
    """cs's penalty: the two zero eigenvalues of S replaced by shrink and shrink^2 times the
    smallest positive one (mgcv, with R's eigen: LAPACK dsyevr)."""
    values, vectors = sla.eigh(S, driver="evr")
    values, vectors = values[::-1].copy(), vectors[:, ::-1]
    nk = len(values)
    values[nk - 2] = values[nk - 3] * shrink
    values[nk - 1] = values[nk - 2] * shrink
    return (vectors * values) @ vectors.T


def construct_cr(x: np.ndarray, k: int | None = None, shrink: bool = False) -> CubicBasis:
    """The cr basis (cs with shrink=True) of covariate x, as mgcv builds it with knots = NULL."""
    k = _check_k(k, 3)
    knots = cr_knots(x, k)
    S, F = cr_penalty_and_f(knots)
    S = (S + S.T) / 2
    if shrink:
        S = _shrunk(S, CS_SHRINK)
    X = cr_model_matrix(x, knots, F)
    rank = k if shrink else k - 2
    state = {"knots": knots.tolist(), "F": F.tolist()}
    return CubicBasis(X=X, S=S, rank=rank, null_dim=k - rank, state=state)


def predict_cr(state: dict, x: np.ndarray) -> np.ndarray:
    return cr_model_matrix(x, np.asarray(state["knots"], float), np.asarray(state["F"], float))


def place_knots(x: np.ndarray, nk: int) -> np.ndarray:
    """mgcv's `place.knots`: nk knots spread evenly through the sorted unique values, end knots at
    the extremes."""
    xu = np.unique(x)
    n = len(xu)
    if nk > n:
        raise CubicError(
            f"a smooth has {n} unique covariate values, too few to support k = {nk} knots"
        )
    if nk == 2:
        return np.array([xu[0], xu[-1]])
    delta = (n - 1) / (nk - 1)
    steps = delta * np.arange(1, nk - 1)
    lower = np.floor(steps).astype(int)
    frac = steps - lower
    knots = np.empty(nk)
    knots[0], knots[-1] = xu[0], xu[-1]
    knots[1:-1] = xu[lower] * (1 - frac) + xu[lower + 1] * frac
    return knots


def _cyclic_bd(knots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cc's getBD: B and D of B m = D p (m second derivatives, p values at the knots but the last),
    periodic versions of Lancaster and Salkauskas's."""
    h = np.diff(knots)
    n = len(h)
    B, D = np.zeros((n, n)), np.zeros((n, n))
    for i in range(n):
        prev, nxt = (i - 1) % n, (i + 1) % n
        hp, hi = h[prev], h[i]
        B[i, prev] += hp / 6
        B[i, i] += (hp + hi) / 3
        B[i, nxt] += hi / 6
        D[i, prev] += 1 / hp
        D[i, i] += -(1 / hp + 1 / hi)
        D[i, nxt] += 1 / hi
    return B, D


def cc_model_matrix(x: np.ndarray, knots: np.ndarray, BD: np.ndarray) -> np.ndarray:
    """mgcv's `Predict.matrix.cyclic.smooth`: x outside the knots wrapped onto their period."""
    x = np.asarray(x, dtype=float)
    lo, hi = knots[0], knots[-1]
    period = hi - lo
    x = np.where(x > hi, lo + np.mod(x - hi, period), x)
    x = np.where(x < lo, hi - np.mod(lo - x, period), x)
    n = len(knots)
    h = np.diff(knots)
    j = np.clip(np.searchsorted(knots, x, side="left"), 1, n - 1)  # 1-based upper knot, as mgcv's j
    j1 = j - 1
    jw = np.where(j == n - 1, 0, j)
    hj = h[j1]
    left, right = knots[j1 + 1] - x, x - knots[j1]
    eye = np.eye(n - 1)
    return (
        BD[j1] * (left**3 / (6 * hj))[:, None]
        + BD[jw] * (right**3 / (6 * hj))[:, None]
        - BD[j1] * (hj * left / 6)[:, None]
        - BD[jw] * (hj * right / 6)[:, None]
        + eye[j1] * (left / hj)[:, None]
        + eye[jw] * (right / hj)[:, None]
    )


def construct_cc(x: np.ndarray, k: int | None = None) -> CubicBasis:
    """The cyclic cubic basis of x (k knots, k - 1 coefficients), as mgcv builds it with knots = NULL."""
    k = _check_k(k, 4)
    knots = place_knots(x, k)
    B, D = _cyclic_bd(knots)
    BD = np.linalg.solve(B, D)
    S = D.T @ BD
    X = cc_model_matrix(x, knots, BD)
    state = {"knots": knots.tolist(), "BD": BD.tolist()}
    return CubicBasis(X=X, S=(S + S.T) / 2, rank=k - 2, null_dim=1, state=state)


def predict_cc(state: dict, x: np.ndarray) -> np.ndarray:
    return cc_model_matrix(x, np.asarray(state["knots"], float), np.asarray(state["BD"], float))

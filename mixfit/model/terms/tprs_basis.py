"""mgcv's thin plate regression spline basis, `s(x, bs = "tp")`, as `smooth.construct.tp.smooth.spec`
and its C code (`tprs_setup`, `Rlanczos`, `QT`, `predict_tprs` in mgcv's src/tprs.c, mat.c, matrix.c)
build it.

The full thin plate spline has one radial function per unique covariate point plus the polynomials
spanning the penalty's null space (`T`). mgcv truncates it to the `k` eigenvectors of the radial
matrix `E` with the largest eigenvalues in magnitude (by its own Lanczos iteration), imposes
`T'U delta = 0` with Householder rotations (`QT`), and rescales every column to unit root mean
square. The parameterisation of the result decides the penalty's scale in `smoothCon` (through
the norms of X and S), so each step follows mgcv's: the order of the eigenvectors and mgcv's own
Householder rotations.

With more than `max.knots` (2000) unique points mgcv takes 2000 of them as knots, drawn with R's
`sample` under seed 1 (r_random has R's generator), for one covariate; several covariates with
that many points are not supported (`TprsError`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.sparse import linalg as sparse_linalg

from mixfit.model.terms import r_random

MAX_KNOTS = 2000  # mgcv's xt$max.knots default: beyond it mgcv samples knots with R's RNG
DENSE_EIGEN_MAX = 300  # beyond it the k eigenpairs by Lanczos iteration (ARPACK), as mgcv
DEFAULT_K = (8, 27, 100)  # mgcv's def.k: k = M + def.k[d] by default


class TprsError(ValueError):
    """A tp basis that can't be built (too few unique points, too many, a bad k)."""


@dataclass
class TprsBasis:
    """The fitted basis: model matrix, penalty, and what `predict_tprs` needs for new points."""

    X: np.ndarray  # n x k model matrix at the data (mgcv's object$X)
    S: np.ndarray  # k x k penalty (object$S[[1]]), last M rows/columns zero
    rank: int  # k - M: the penalty's rank
    null_dim: int  # M: the null space dimension (polynomials of degree < m)
    state: dict  # shift, m, k, Xu (unique points), UZ: JSON-able


def null_space_dimension(d: int, m: int) -> tuple[int, int]:
    """mgcv's `null_space_dimension`: (M, m) with m reset so that 2m > d + 1 when 2m <= d."""
    if 2 * m <= d:
        m = 1
        while 2 * m < d + 2:
            m += 1
    M = 1
    for i in range(d):
        M *= d + m - 1 - i
    for i in range(2, d + 1):
        M //= i
    return M, m


def default_k(d: int, m: int = 0) -> int:
    """mgcv's default basis dimension for a d-dimensional tp smooth: M + (8, 27, 100)[d]."""
    M, _ = null_space_dimension(d, m)
    return M + DEFAULT_K[min(d, len(DEFAULT_K)) - 1]


def _eta_const(m: int, d: int) -> float:
    """mgcv's `eta_const`: the constant of the thin plate radial function for order m, dimension d."""
    if d % 2 == 0:
        f = -1.0 if (m + 1 + d // 2) % 2 else 1.0
        f /= 2.0 ** (2 * m - 1)
        f /= math.pi ** (d // 2)
        f /= math.factorial(m - 1)
        f /= math.factorial(m - d // 2)
        return f
    f = math.sqrt(math.pi)
    for i in range(m - (d - 1) // 2):
        f /= -0.5 - i
    f /= 4.0**m
    f /= math.pi ** (d // 2)
    f /= math.sqrt(math.pi)
    f /= math.factorial(m - 1)
    return f


def _eta(r2: np.ndarray, m: int, d: int) -> np.ndarray:
    """The radial function of squared distances (mgcv's `fast_eta`), zero at distance zero."""
    f = _eta_const(m, d)
    out = np.zeros_like(r2)
    pos = r2 > 0
    r2p = r2[pos]
    if d % 2 == 0:
        out[pos] = f * 0.5 * np.log(r2p) * r2p ** (m - d // 2)
    else:
        out[pos] = f * r2p ** (m - d // 2 - 1) * np.sqrt(r2p)
    return out


def _poly_powers(M: int, m: int, d: int) -> np.ndarray:
    """mgcv's `gen_tps_poly_powers`: M x d exponents of the null space's polynomials, in mgcv's order."""
    powers = np.zeros((M, d), dtype=int)
    index = [0] * d
    for i in range(M):
        powers[i] = index
        total = sum(index)
        if total < m - 1:
            index[0] += 1
        else:
            total -= index[0]
            index[0] = 0
            for j in range(1, d):
                index[j] += 1
                total += 1
                if total == m:
                    total -= index[j]
                    index[j] = 0
                else:
                    break
    return powers


def _polynomials(x: np.ndarray, powers: np.ndarray) -> np.ndarray:
    """T: the null space polynomials at the rows of x (mgcv's `tpsT`)."""
    return np.prod(x[:, None, :] ** powers[None, :, :], axis=2)


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum((a[:, None, :] - b[None, :, :]) ** 2, axis=2)


def largest_eigenpairs(A: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k eigenvalues of symmetric A largest in magnitude and their eigenvectors, in the order
    mgcv's `Rlanczos` returns them: the positive ones descending, then the negative ones
    descending. (mgcv finds them by Lanczos iteration to a relative accuracy of eps^0.7; an exact
    decomposition gives the same basis. Their signs don't matter: the Householder rotations that
    follow flip the same columns, and the scaling uses only absolute values.)"""
    if len(A) > DENSE_EIGEN_MAX:
        values, vectors = sparse_linalg.eigsh(A, k=k, which="LM", v0=np.ones(len(A)))
    else:
        values, vectors = np.linalg.eigh(A)
    keep = np.sort(np.argsort(-np.abs(values), kind="stable")[:k])[::-1]
    return values[keep], vectors[:, keep]


def householder_qt(A: np.ndarray) -> np.ndarray:
    """mgcv's `QT(Q, A, 0)`: Householder vectors (rows) with A Q = [0, T], Q = H_1 H_2 ...; the
    first c - r columns of Q span A's null space."""
    A = A.astype(float).copy()
    r, c = A.shape
    U = np.zeros((r, c))
    for i in range(r):
        p = A[i, : c - i].copy()
        scale = np.max(np.abs(p))
        if scale:
            p /= scale
        lsq = math.sqrt(float(p @ p))
        if p[-1] < 0:
            lsq = -lsq
        p[-1] += lsq
        g = 1 / (lsq * p[-1]) if lsq else 0.0
        for jj in range(i + 1, r):
            A[jj, : c - i] -= g * (p @ A[jj, : c - i]) * p
        U[i, : c - i] = p * math.sqrt(g)
    return U


def householder_post(C: np.ndarray, U: np.ndarray) -> np.ndarray:
    """C Q for the rotations of `householder_qt` (mgcv's `HQmult(C, U, 0, 0)`)."""
    C = C.copy()
    for u in U:
        C -= np.outer(C @ u, u)
    return C


def _unique_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The unique rows of x sorted lexicographically (mgcv's `Xd_strip`) and each row's index."""
    unique, inverse = np.unique(x, axis=0, return_inverse=True)
    return unique, inverse.reshape(-1)


def _truncated_basis(
    E: np.ndarray, T: np.ndarray, k: int, M: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """tprs_setup's eigen step: UZ (unique points + M) x k, the basis at the unique points, S."""
    values, U = largest_eigenpairs(E, k)
    Zh = householder_qt(T.T @ U)
    UZ = np.zeros((len(E) + M, k))
    UZ[: len(E), : k - M] = householder_post(U, Zh)[:, : k - M]
    UZ[len(E) :, k - M :] = np.eye(M)
    X1 = householder_post(U * values, Zh)
    X1[:, k - M :] = T
    S = _null_rows_zeroed(householder_post(householder_post(np.diag(values), Zh).T, Zh).T, M)
    return UZ, X1, S


def _full_basis(E: np.ndarray, T: np.ndarray, k: int, M: int) -> tuple[np.ndarray, np.ndarray]:
    """tprs_setup when k equals the number of unique points: T' = 0 imposed on the full basis."""
    Zh = householder_qt(T.T)
    Q = householder_post(np.eye(len(E)), Zh)
    UZ = np.zeros((len(E) + M, k))
    UZ[: len(E), : k - M] = Q[:, : k - M]
    UZ[len(E) :, k - M :] = np.eye(M)
    return UZ, _null_rows_zeroed(Q.T @ E @ Q, M)


def _null_rows_zeroed(S: np.ndarray, M: int) -> np.ndarray:
    S = S.copy()
    S[:, S.shape[1] - M :] = 0.0
    S[S.shape[0] - M :, :] = 0.0
    return S


def _radial_and_polynomials(x: np.ndarray, xu: np.ndarray, m: int, M: int) -> np.ndarray:
    """tps_g's b(x): radial functions about the unique points xu, then the null space polynomials."""
    d = xu.shape[1]
    return np.hstack(
        [_eta(_squared_distances(x, xu), m, d), _polynomials(x, _poly_powers(M, m, d))]
    )


def _sampled_knots(xu: np.ndarray) -> np.ndarray:
    """mgcv's knots for more than max.knots unique points: `set.seed(1); sample(nu, max.knots)` of
    the sorted unique (centred) values, then sorted again by tprs_setup. Only for one covariate:
    mgcv orders several by their text representation in R's number formatting."""
    if xu.shape[1] != 1:
        raise TprsError(
            f"a thin plate smooth of several covariates with more than {MAX_KNOTS} unique points "
            "is not supported"
        )
    chosen = r_random.r_sample(len(xu), MAX_KNOTS, seed=1) - 1
    return np.sort(xu[chosen], axis=0)


def construct_tprs(x: np.ndarray, k: int | None = None, m: int = 0) -> TprsBasis:
    """The tp basis of the n x d covariate matrix x, as mgcv's `smooth.construct.tp.smooth.spec`
    with knots = NULL: X (n x k), the penalty S, and the state `predict_tprs` needs."""
    x = np.asarray(x, dtype=float)
    d = x.shape[1]
    M, m = null_space_dimension(d, m)
    k = default_k(d, m) if k is None else max(int(k), M + 1)
    shift = x.mean(axis=0)
    xc = x - shift
    xu, inverse = _unique_rows(xc)
    knots = len(xu) > MAX_KNOTS
    if knots:  # mgcv's large data set handling: MAX_KNOTS of the unique points, drawn as R would
        xu = _sampled_knots(xu)
    if len(xu) < k:
        raise TprsError(
            f"a smooth has {len(xu)} unique covariate values, fewer than its basis dimension k = {k}"
        )
    E = _eta(_squared_distances(xu, xu), m, d)
    T = _polynomials(xu, _poly_powers(M, m, d))
    if len(xu) == k:  # mgcv's "pure knot" basis: every unique point a knot, no eigen step
        UZ, S = _full_basis(E, T, k, M)
        X = _radial_and_polynomials(xc, xu, m, M) @ UZ
    else:
        UZ, X1, S = _truncated_basis(E, T, k, M)
        X = _radial_and_polynomials(xc, xu, m, M) @ UZ if knots else X1[inverse]
    w = np.sqrt(np.mean(X**2, axis=0))
    X, UZ, S = X / w, UZ / w, S / np.outer(w, w)
    state = {"m": m, "k": k, "shift": shift.tolist(), "Xu": xu.tolist(), "UZ": UZ.tolist()}
    return TprsBasis(X=X, S=(S + S.T) / 2, rank=k - M, null_dim=M, state=state)


def predict_tprs(state: dict, x: np.ndarray) -> np.ndarray:
    """The tp basis at new covariate rows x (mgcv's `Predict.matrix.tprs.smooth`): radial functions
    about the fitted unique points and the null space polynomials, mapped by UZ."""
    x = np.asarray(x, dtype=float) - np.asarray(state["shift"], dtype=float)
    xu = np.asarray(state["Xu"], dtype=float)
    M, m = null_space_dimension(xu.shape[1], int(state["m"]))
    return _radial_and_polynomials(x, xu, m, M) @ np.asarray(state["UZ"], dtype=float)

"""lme4's deviance as a function of its parameters, for lme4's convergence check: the profiled
REML or ML deviance of a linear mixed model as a function of theta, and the Laplace deviance of a
GLMM as a function of (theta, beta) (Bates et al. 2015, "Fitting linear mixed-effects models using
lme4", sections 3 and 5).

theta holds each block's relative covariance factor: the lower triangle of Lambda, column by
column, with Lambda Lambda' the block's covariance of the group-level effects, relative to sigma^2
for gaussian; blocks in lme4's order (most levels first). The library fits the model; these
functions only evaluate lme4's objective near its optimum (the check's few dozen evaluations), on
small matrices: one per level with one grouping factor, one q x q otherwise (q: the effects).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import linalg, sparse, special, stats

from mixfit.model.design import Design, GroupBlock

PIRLS_TOL = 1e-12  # relative change of the penalised deviance at which PIRLS has converged
PIRLS_STEPS = 200
HALVINGS = 30


class Effects:
    """Z, arranged so that Lambda'Z'WZLambda + I is a batch of matrices: with one grouping factor
    one small block per level (k x k), else one q x q matrix. Dense algebra on the whole system
    would cost the check far more than the fit; per level it costs little."""

    def __init__(self, blocks: list[GroupBlock]):
        self.blocks = blocks
        self.per_level = len(blocks) == 1
        if self.per_level:
            self.level = blocks[0].J - 1
            self.Z = blocks[0].Z.astype(float)
            self.shape = (len(blocks[0].levels), len(blocks[0].terms))
        else:  # level j's k terms at columns j*k .. j*k + k - 1 of its block's columns
            self.Z = sparse.hstack([_block_columns(b) for b in blocks], format="csr")
            self.shape = (1, self.Z.shape[1])

    @property
    def count(self) -> int:
        """q, the group-level effects."""
        return self.shape[0] * self.shape[1]

    def gram(self, w: np.ndarray) -> np.ndarray:
        """Z'WZ, as (batch, r, r)."""
        if not self.per_level:
            return (self.Z.T @ sparse.diags(w) @ self.Z).toarray()[None]
        outer = (w[:, None, None] * self.Z[:, :, None]) * self.Z[:, None, :]
        return _per_level(outer, self.level, self.shape[0])

    def cross(self, w: np.ndarray, M: np.ndarray) -> np.ndarray:
        """Z'WM for an n x m matrix M, as (batch, r, m)."""
        if not self.per_level:
            return np.asarray(self.Z.T @ (w[:, None] * M))[None]
        outer = self.Z[:, :, None] * (w[:, None] * M)[:, None, :]
        return _per_level(outer, self.level, self.shape[0])

    def times(self, b: np.ndarray) -> np.ndarray:
        """Z b for effects b as (batch, r)."""
        if not self.per_level:
            return self.Z @ b[0]
        return np.einsum("nk,nk->n", self.Z, b[self.level])

    def lam(self, theta: np.ndarray) -> np.ndarray:
        """Lambda on one batch item: the block's k x k factor, or the whole q x q one."""
        parts, start = [], 0
        for block in self.blocks:
            k = len(block.terms)
            factor = np.zeros((k, k))
            columns, rows = np.triu_indices(k)  # the lower triangle, column by column
            factor[rows, columns] = theta[start : start + k * (k + 1) // 2]
            parts.append(np.kron(np.eye(1 if self.per_level else len(block.levels)), factor))
            start += k * (k + 1) // 2
        return linalg.block_diag(*parts)


def _per_level(rows: np.ndarray, level: np.ndarray, levels: int) -> np.ndarray:
    """The sum of per-row arrays within each level."""
    out = np.zeros((levels, *rows.shape[1:]))
    np.add.at(out, level, rows)
    return out


@dataclass(frozen=True)
class Layout:
    """The model's matrices in lme4's arrangement: blocks with the most levels first."""

    blocks: list[GroupBlock]
    X: np.ndarray  # n x p, the intercept column first
    effects: Effects
    y: np.ndarray  # the response (a binomial's as a proportion of its trials)
    weights: np.ndarray  # prior weights (a binomial's trials)
    offset: np.ndarray

    @property
    def sizes(self) -> list[int]:
        return [len(b.terms) for b in self.blocks]

    @property
    def n_theta(self) -> int:
        return sum(k * (k + 1) // 2 for k in self.sizes)


def layout(design: Design, dropped: tuple[str, ...] = ()) -> Layout:
    """``dropped``: population-level terms left out (lme4 drops rank-deficient columns)."""
    blocks = sorted(design.blocks, key=lambda b: -len(b.levels))  # lme4's order; stable
    n = design.n
    columns = {"Intercept": np.ones(n)} if design.has_intercept else {}
    columns |= {name: design.X[:, j] for j, name in enumerate(design.coefs)}
    kept = [values for name, values in columns.items() if name not in dropped]
    X = np.column_stack(kept) if kept else np.empty((n, 0))
    y = np.asarray(design.response.values, dtype=float)
    weights = np.ones(n)
    if design.response.trials is not None:
        weights = np.asarray(design.response.trials, dtype=float)
        y = np.divide(y, weights, out=np.zeros(n), where=weights > 0)
    if design.response.weights is not None:  # weights(w): lme4's prior weights, times the trials
        weights = weights * design.response.weights
    offset = np.zeros(n) if design.offset is None else np.asarray(design.offset, dtype=float)
    return Layout(blocks, X, Effects(blocks), y, weights, offset)


def _block_columns(block: GroupBlock) -> sparse.csr_matrix:
    n, k = block.Z.shape
    rows = np.repeat(np.arange(n), k)
    columns = ((block.J - 1)[:, None] * k + np.arange(k)).ravel()
    shape = (n, len(block.levels) * k)
    return sparse.csr_matrix((block.Z.ravel().astype(float), (rows, columns)), shape=shape)


def theta_of(layout: Layout, covariances: list[np.ndarray], scale: float) -> np.ndarray:
    """theta from each block's covariance matrix (blocks in ``layout.blocks``'s order), relative
    to ``scale`` (sigma^2 for gaussian, else 1)."""
    parts = []
    for cov in covariances:
        factor = np.linalg.cholesky(cov / scale)
        columns, rows = np.triu_indices(len(cov))
        parts.append(factor[rows, columns])
    return np.concatenate(parts)


def lmm_deviance(layout: Layout, reml: bool) -> Callable[[np.ndarray], float]:
    """The profiled deviance (REML criterion, or -2 log-likelihood for ML) as a function of theta:
    beta and sigma at their conditional optimum, as lme4's devfun of an lmer fit."""
    y = layout.y - layout.offset
    X, effects = layout.X, layout.effects
    n, p = X.shape
    ones = np.ones(n)
    ZtZ, ZtX, Zty = effects.gram(ones), effects.cross(ones, X), effects.cross(ones, y[:, None])
    XtX, Xty, yty = X.T @ X, X.T @ y, float(y @ y)
    free = n - p if reml else n

    def deviance(theta: np.ndarray) -> float:
        lam = effects.lam(theta)
        L = np.linalg.cholesky(lam.T @ ZtZ @ lam + np.eye(len(lam)))
        cu = np.linalg.solve(L, lam.T @ Zty)[..., 0]  # batch, r
        RZX = np.linalg.solve(L, lam.T @ ZtX)  # batch, r, p
        RX = np.linalg.cholesky(XtX - np.einsum("brp,brs->ps", RZX, RZX))
        cb = linalg.solve_triangular(RX, Xty - np.einsum("brp,br->p", RZX, cu), lower=True)
        pwrss = yty - (cu**2).sum() - cb @ cb
        value = _logdet(L) + free * (1 + np.log(2 * np.pi * pwrss / free))
        return float(value + (2 * np.log(np.diag(RX)).sum() if reml else 0.0))

    return deviance


def _logdet(L: np.ndarray) -> float:
    """log |L L'| of a batch of Cholesky factors."""
    return 2 * float(np.log(np.diagonal(L, axis1=-2, axis2=-1)).sum())


@dataclass(frozen=True)
class Family:
    """A GLMM family's pieces, on the mean's scale: inverse link and its derivative, variance
    and deviance residuals (unit deviance times the prior weight)."""

    inverse: Callable[[np.ndarray], np.ndarray]
    slope: Callable[[np.ndarray], np.ndarray]  # d mu / d eta
    variance: Callable[[np.ndarray], np.ndarray]
    residuals: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]  # y, mu, weights


def _binomial_residuals(y, mu, w):
    return 2 * w * (special.xlogy(y, y / mu) + special.xlogy(1 - y, (1 - y) / (1 - mu)))


def _poisson_residuals(y, mu, w):
    return 2 * w * (special.xlogy(y, y / mu) - (y - mu))


LINKS = {
    "logit": (special.expit, lambda eta: special.expit(eta) * special.expit(-eta)),
    "probit": (stats.norm.cdf, stats.norm.pdf),
    "cloglog": (lambda eta: -np.expm1(-np.exp(eta)), lambda eta: np.exp(eta - np.exp(eta))),
    "log": (np.exp, np.exp),
}


def family_of(name: str, link: str, shape: float | None = None) -> Family:
    inverse, slope = LINKS[link]
    if name in {"bernoulli", "binomial"}:
        return Family(inverse, slope, lambda mu: mu * (1 - mu), _binomial_residuals)
    if name == "poisson":
        return Family(inverse, slope, lambda mu: mu, _poisson_residuals)
    if name == "negbinomial":

        def residuals(y, mu, w):
            tail = special.xlogy(y + shape, (y + shape) / (mu + shape))
            return 2 * w * (special.xlogy(y, y / mu) - tail)

        return Family(inverse, slope, lambda mu: mu + mu**2 / shape, residuals)
    raise ValueError(f"no Laplace deviance for family {name!r}")


def laplace_deviance(layout: Layout, family: Family) -> Callable[[np.ndarray], float]:
    """The Laplace approximation to the deviance as a function of (theta, beta), as lme4's
    stage-2 devfun of a glmer fit: the conditional modes of the group-level effects by penalised
    iteratively reweighted least squares, then the deviance residuals, the penalty u'u and the
    log-determinant of the factor of Lambda'Z'WZLambda + I."""
    X, effects = layout.X, layout.effects
    y, w = layout.y, layout.weights
    k = layout.n_theta
    start = {"u": np.zeros(effects.shape)}  # the last modes: the next evaluation starts there

    def deviance(params: np.ndarray) -> float:
        theta, beta = params[:k], params[k:]
        lam = effects.lam(theta)
        fixed = X @ beta + layout.offset
        model = _Conditional(effects, lam, fixed, y, w, family)
        u = model.modes(start["u"].copy())
        start["u"] = u
        L = np.linalg.cholesky(model.system(u))
        return model.penalised(u) + _logdet(L)

    return deviance


@dataclass
class _Conditional:
    """The GLMM given theta and beta: its group-level effects u (spherical, b = Lambda u)."""

    effects: Effects
    lam: np.ndarray
    fixed: np.ndarray
    y: np.ndarray
    w: np.ndarray
    family: Family

    def eta(self, u: np.ndarray) -> np.ndarray:
        return self.fixed + self.effects.times(u @ self.lam.T)

    def penalised(self, u: np.ndarray) -> float:
        """The deviance residuals plus u'u."""
        mu = self.family.inverse(self.eta(u))
        return float(self.family.residuals(self.y, mu, self.w).sum() + (u**2).sum())

    def weights(self, eta: np.ndarray) -> np.ndarray:
        mu = self.family.inverse(eta)
        return self.w * self.family.slope(eta) ** 2 / self.family.variance(mu)

    def system(self, u: np.ndarray) -> np.ndarray:
        """Lambda'Z'WZLambda + I, W at the mean that u gives."""
        gram = self.effects.gram(self.weights(self.eta(u)))
        return self.lam.T @ gram @ self.lam + np.eye(len(self.lam))

    def modes(self, u: np.ndarray) -> np.ndarray:
        """The conditional modes (PIRLS, with step halving)."""
        current = self.penalised(u)
        for _ in range(PIRLS_STEPS):
            eta = self.eta(u)
            mu, slope = self.family.inverse(eta), self.family.slope(eta)
            weights = self.w * slope**2 / self.family.variance(mu)
            working = (eta - self.fixed) + (self.y - mu) / slope  # less the fixed part
            rhs = self.lam.T @ self.effects.cross(weights, working[:, None])
            system = self.lam.T @ self.effects.gram(weights) @ self.lam + np.eye(len(self.lam))
            step = np.linalg.solve(system, rhs)[..., 0] - u
            for _ in range(HALVINGS):
                value = self.penalised(u + step)
                if np.isfinite(value) and value <= current + 1e-12 * abs(current):
                    break
                step /= 2
            u = u + step
            change, current = current - value, value
            if abs(change) <= PIRLS_TOL * (abs(current) + PIRLS_TOL):
                break
        return u

"""Normal approximations of the posterior on the unconstrained scale, as Stan's ``laplace`` and
``pathfinder`` methods (brms's ``algorithm = "laplace"`` and ``"pathfinder"``).

Both need only the log density and its gradient at a point, which stanli gives; stanli has neither
method itself (its ``pathfinder_init`` only picks starting points), so they are written here:

- Laplace: the mode by L-BFGS (stanli's, with the Jacobian, as Stan's ``laplace`` requires), the
  Hessian there by central differences of the gradient (as Stan computes it), and draws from the
  normal with the inverse of its negative as covariance.
- Pathfinder (Zhang, Carpenter, Gelman and Vehtari 2022): along each L-BFGS path, the normal
  built from the optimiser's inverse-Hessian estimate at every point; the one of highest ELBO is
  each path's approximation, and draws of all paths are resampled by Pareto-smoothed importance
  weights, as Stan's multi-path pathfinder does.

Each returns its draws with log p (the model's, up to a constant) and log q (the approximation's)
at each, from which PSIS gives the Pareto k of importance sampling the posterior against the
approximation: k above 0.7 means the approximation misses the posterior.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize

# (log density, gradient) at an unconstrained point
LogDensity = Callable[[np.ndarray], tuple[float, np.ndarray]]

HISTORY = 5  # L-BFGS pairs kept (Stan's history_size)
ELBO_DRAWS = 25  # draws per ELBO estimate (Stan's num_elbo_draws)
ELBO_POINTS = 40  # points of a path whose ELBO is estimated (see _elbo_points)
MAX_ITERATIONS = 1000  # L-BFGS iterations per path (Stan's default)
INIT_RADIUS = 2.0  # starting points uniform in (-2, 2) on the unconstrained scale, as Stan's
EPSILON = 2.2e-16


@dataclass
class Approximation:
    draws: np.ndarray  # (draws, unconstrained dimension)
    log_p: np.ndarray  # the log density at each draw
    log_q: np.ndarray  # the approximation's log density at each draw
    gradients: int  # log density evaluations spent


class Counted:
    """The log density, counting its evaluations; -inf where the model rejects the point."""

    def __init__(self, log_density: LogDensity) -> None:
        self.log_density = log_density
        self.calls = 0

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        self.calls += 1
        try:
            lp, grad = self.log_density(x)
        except (RuntimeError, ValueError):
            return -np.inf, np.full(len(x), np.nan)
        return float(lp), np.asarray(grad, dtype=float)


def laplace(
    log_density: LogDensity, mode: np.ndarray, draws: int, rng: np.random.Generator
) -> Approximation:
    """Draws from normal(mode, (-H)^-1), H the Hessian of the log density at the mode."""
    counted = Counted(log_density)
    dimension = len(mode)
    hessian = np.empty((dimension, dimension))
    for i in range(dimension):  # central differences of the gradient, one coordinate at a time
        step = 6e-6 * max(1.0, abs(mode[i]))  # about the cube root of machine precision
        up, down = mode.copy(), mode.copy()
        up[i] += step
        down[i] -= step
        hessian[:, i] = (counted(up)[1] - counted(down)[1]) / (2 * step)
    precision = -(hessian + hessian.T) / 2
    try:
        factor = np.linalg.cholesky(precision)
    except np.linalg.LinAlgError:
        raise ValueError(
            "the Hessian at the mode is not negative definite: the posterior has no normal "
            "approximation there"
        ) from None
    z = rng.standard_normal((draws, dimension))
    # x = mode + L'^-1 z has covariance (L L')^-1 = precision^-1
    x = mode + np.linalg.solve(factor.T, z.T).T
    log_q = -0.5 * (z**2).sum(axis=1) + np.log(np.diag(factor)).sum()
    log_q -= 0.5 * dimension * np.log(2 * np.pi)
    log_p = np.array([counted(row)[0] for row in x])
    return Approximation(x, log_p, log_q, counted.calls)


def pathfinder(
    log_density: LogDensity,
    dimension: int,
    draws: int,
    rng: np.random.Generator,
    paths: int = 4,
) -> tuple[Approximation, list[float]]:
    """Multi-path Pathfinder: each path's best normal, ``draws`` draws from each, pooled and
    resampled to ``draws`` by their importance weights. Also gives each path's ELBO."""
    counted = Counted(log_density)
    pooled, elbos = [], []
    for _ in range(paths):
        start = rng.uniform(-INIT_RADIUS, INIT_RADIUS, dimension)
        best = _best_normal(counted, start, rng)
        if best is None:
            continue
        normal, elbo = best
        elbos.append(elbo)
        x, log_q = normal.draw(rng, draws)
        log_p = np.array([counted(row)[0] for row in x])
        pooled.append((x, log_p, log_q))
    if not pooled:
        raise ValueError("Pathfinder found no normal approximation on any path")
    x = np.concatenate([p[0] for p in pooled])
    log_p = np.concatenate([p[1] for p in pooled])
    log_q = np.concatenate([p[2] for p in pooled])
    keep = rng.choice(len(x), size=draws, replace=True, p=resampling_weights(log_p - log_q))
    return Approximation(x[keep], log_p[keep], log_q[keep], counted.calls), elbos


def resampling_weights(log_ratios: np.ndarray) -> np.ndarray:
    """Normalised Pareto-smoothed importance weights (PSIS, by ArviZ)."""
    smoothed = _smoothed(log_ratios)[0]
    weights = np.exp(smoothed - smoothed.max())
    return weights / weights.sum()


def pareto_k(log_ratios: np.ndarray) -> float:
    """The Pareto k of importance sampling the posterior against the approximation: above 0.7
    the approximation misses it."""
    return _smoothed(log_ratios)[1]


def _smoothed(log_ratios: np.ndarray) -> tuple[np.ndarray, float]:
    """PSIS of the ratios; a draw the model rejects (log p not finite) has weight 0, and no
    finite ratio at all leaves k infinite."""
    from mixfit.results.arviz_api import psis

    finite = np.isfinite(log_ratios)
    if finite.sum() < 2:
        return np.where(finite, 0.0, -np.inf), float("inf")
    # far below every other ratio: a weight of 0 that keeps PSIS's arrays finite
    floor = log_ratios[finite].min() - 745.0
    return psis(np.where(finite, log_ratios, floor) - log_ratios[finite].max())


@dataclass
class _Normal:
    """normal(mean, diag(alpha) + beta gamma beta'), stored in the factors Pathfinder samples
    with: Q, L from the thin QR of diag(alpha)^-1/2 beta."""

    mean: np.ndarray
    alpha: np.ndarray
    Q: np.ndarray
    L: np.ndarray
    log_det: float

    def draw(self, rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
        u = rng.standard_normal((count, len(self.mean)))
        projected = u @ self.Q  # (count, 2m)
        shaped = projected @ (self.L - np.eye(len(self.L))).T @ self.Q.T + u
        x = self.mean + np.sqrt(self.alpha) * shaped
        log_q = -0.5 * (self.log_det + (u**2).sum(axis=1) + len(self.mean) * np.log(2 * np.pi))
        return x, log_q


def _best_normal(
    counted: Counted, start: np.ndarray, rng: np.random.Generator
) -> tuple[_Normal, float] | None:
    """The normal of highest ELBO along one L-BFGS path from ``start``, with its ELBO."""
    points, gradients = _lbfgs_path(counted, start)
    if len(points) < 2:
        return None
    alpha = np.ones(len(start))
    S, Y = [], []
    candidates = {}
    chosen = set(_elbo_points(len(points) - 1))
    for i in range(1, len(points)):
        s = points[i] - points[i - 1]
        y = gradients[i - 1] - gradients[i]  # of -log p: the objective L-BFGS minimised
        if s @ y > EPSILON * (y @ y):  # a pair of positive curvature
            alpha = _diagonal_update(alpha, s, y)
            S, Y = (S + [s])[-HISTORY:], (Y + [y])[-HISTORY:]
        if i in chosen and S:
            normal = _normal(points[i], gradients[i], alpha, np.array(S).T, np.array(Y).T)
            if normal is not None:
                candidates[i] = normal
    best, best_elbo = None, -np.inf
    for normal in candidates.values():
        x, log_q = normal.draw(rng, ELBO_DRAWS)
        log_p = np.array([counted(row)[0] for row in x])
        with np.errstate(invalid="ignore"):
            elbo = float(np.mean(log_p - log_q))
        if np.isfinite(elbo) and elbo > best_elbo:
            best, best_elbo = normal, elbo
    return None if best is None else (best, best_elbo)


def _lbfgs_path(counted: Counted, start: np.ndarray) -> tuple[list, list]:
    """The points L-BFGS visits minimising -log p, with the gradient of log p at each."""
    seen: dict[bytes, np.ndarray] = {}

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        lp, grad = counted(x)
        if not np.isfinite(lp) or not np.all(np.isfinite(grad)):
            return np.inf, np.zeros_like(x)
        seen[x.tobytes()] = grad
        return -lp, -grad

    points, gradients = [], []
    lp, grad = counted(start)
    if not np.isfinite(lp):
        return points, gradients
    points.append(start.copy())
    gradients.append(grad)

    def record(intermediate_result) -> None:
        x = np.asarray(intermediate_result.x)
        if x.tobytes() in seen:
            points.append(x.copy())
            gradients.append(seen[x.tobytes()])

    optimize.minimize(
        objective,
        start,
        jac=True,
        method="L-BFGS-B",
        callback=record,
        options={"maxiter": MAX_ITERATIONS, "maxcor": HISTORY},
    )
    return points, gradients


def _elbo_points(last: int) -> list[int]:
    """The points of a path whose ELBO is estimated: every one of a short path; of a long one,
    the last 20 and 20 spread geometrically before them. Stan estimates all, but on a model with
    thousands of parameters each estimate costs 25 log densities; the best normal lies near the
    end of the path, where the optimiser has seen the curvature."""
    if last <= ELBO_POINTS:
        return list(range(1, last + 1))
    tail = list(range(last - ELBO_POINTS // 2 + 1, last + 1))
    spread = np.unique(np.geomspace(1, last - ELBO_POINTS // 2, ELBO_POINTS // 2).astype(int))
    return sorted(set(spread.tolist()) | set(tail))


def _diagonal_update(alpha: np.ndarray, s: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The diagonal of the inverse Hessian estimate after one (s, y) pair (the paper's
    Algorithm 3); kept as it was where the update would leave it not positive."""
    sy = s @ y
    a = (y * alpha) @ y / sy
    updated = 1 / (a / alpha + y**2 / sy - a * (s / alpha) ** 2 / (s @ (s / alpha)))
    if np.all(np.isfinite(updated)) and np.all(updated > 0):
        return updated
    return alpha


def _normal(
    point: np.ndarray, gradient: np.ndarray, alpha: np.ndarray, S: np.ndarray, Y: np.ndarray
) -> _Normal | None:
    """The local normal at a point: the L-BFGS inverse Hessian (its compact form, Byrd, Nocedal
    and Schnabel 1994) as covariance, centred one Newton step from the point."""
    m = S.shape[1]
    SY = S.T @ Y
    R = np.triu(SY)
    try:
        R_inv = np.linalg.inv(R)
    except np.linalg.LinAlgError:
        return None
    E = np.diag(np.diag(SY))
    beta = np.hstack([alpha[:, None] * Y, S])  # (D, 2m)
    gamma = np.block(
        [
            [np.zeros((m, m)), -R_inv],
            [-R_inv.T, R_inv.T @ (E + Y.T @ (alpha[:, None] * Y)) @ R_inv],
        ]
    )
    Q, Rq = np.linalg.qr(beta / np.sqrt(alpha)[:, None])
    try:
        L = np.linalg.cholesky(np.eye(len(Rq)) + Rq @ gamma @ Rq.T)  # 2m, or D if fewer
    except np.linalg.LinAlgError:
        return None
    log_det = float(np.log(alpha).sum() + 2 * np.log(np.diag(L)).sum())
    # mean = point + Sigma grad log p, with Sigma = diag(alpha) + beta gamma beta'
    mean = point + alpha * gradient + beta @ (gamma @ (beta.T @ gradient))
    return _Normal(mean, alpha, Q, L, log_det)

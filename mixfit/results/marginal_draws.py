"""What the gaussian marginal program leaves to Python: its group-level effects and predictions.

That program samples a handful of parameters in a fraction of the full model's time. Passing a
draw of every level's effects, N log-likelihoods and N replicated responses per draw out of Stan
would cost it more than the sampling itself (and, through PyStan, gigabytes as Python floats at
N = 500,000). Given the parameters, each is exact and cheap array arithmetic here, as brms computes
log_lik and y_rep in R after sampling.
"""

from __future__ import annotations

import numpy as np

from mixfit.model.design import Design
from mixfit.model.marginal_data import level_statistics, response
from mixfit.model.program import Model

# level-draws of the group-level effects drawn at once: bounds the working memory at a few tens of MB
CHUNK = 250_000


def complete(model: Model, posterior: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    """The draws the full program's generated quantities would hold and the marginal one omits:
    r_1, and log_lik and y_rep when the model keeps predictions."""
    rng = np.random.default_rng(seed)
    name = f"r_{model.design.blocks[0].id}"
    drawn = {name: group_effects(model.design, posterior, rng)}
    if model.predictions:
        drawn |= predictions(model.design, posterior | drawn, rng)
    return drawn


def group_effects(
    design: Design, posterior: dict[str, np.ndarray], rng: np.random.Generator
) -> np.ndarray:
    """Each level's effects drawn from their exact conditional given a draw of the parameters:
    an array of shape (chains, draws, levels, terms).

    With Sigma = C C' and r_j = C eta_j, eta_j | y ~ normal(A^-1 C' res_j / s2, A^-1) where
    A = I + C' Z_j'Z_j C / s2 and res_j = Z_j'(y_j - X_j beta): the algebra of model.stan's
    marginal likelihood, per level and per draw.
    """
    block = design.blocks[0]
    ZtZ, ZtX, Zty = _level_statistics(design)
    chains, draws = posterior["sigma"].shape
    beta = _flat(_population_effects(design, posterior))
    sd = _flat(posterior[f"sd_{block.id}"])
    L = _flat(posterior[f"L_{block.id}"]) if block.has_cor else np.eye(sd.shape[1])
    C = sd[:, :, None] * L  # diag(sd) L, per draw
    s2 = _flat(posterior["sigma"])[:, None, None, None] ** 2
    identity = np.eye(sd.shape[1])
    r = np.empty((chains * draws, *Zty.shape))
    step = max(1, CHUNK // len(Zty))
    for start in range(0, chains * draws, step):
        part = slice(start, start + step)
        # Z_j'(y_j - X_j beta) of every level and draw, as one matrix product
        fitted = np.tensordot(beta[part], ZtX, axes=([1], [2]))  # (draws, levels, terms)
        residual = (Zty[None] - fitted)[..., None]
        noise = rng.standard_normal((len(beta[part]), *Zty.shape, 1))
        if sd.shape[1] <= 2:
            r[part] = _closed_form(C[part], ZtZ, residual[..., 0], s2[part, 0, 0, 0], noise[..., 0])
            continue
        Ct = np.swapaxes(C[part], -1, -2)[:, None]  # (draws, 1, terms, terms)
        B = np.linalg.cholesky(identity + Ct @ ZtZ[None] @ np.swapaxes(Ct, -1, -2) / s2[part])
        w = np.linalg.solve(B, Ct @ residual / s2[part])
        eta = np.linalg.solve(np.swapaxes(B, -1, -2), w + noise)
        r[part] = (C[part][:, None] @ eta)[..., 0]
    return r.reshape(chains, draws, *Zty.shape)


def _closed_form(
    C: np.ndarray, ZtZ: np.ndarray, residual: np.ndarray, s2: np.ndarray, noise: np.ndarray
) -> np.ndarray:
    """group_effects' algebra for one or two terms, written out entry by entry over (draws,
    levels): numpy's batched 2 x 2 Cholesky factors and solves cost far more per matrix than the
    arithmetic (the 500,000-row benchmark's 5,000 levels x 4,000 draws: most of its 43 s).

    C (draws, terms, terms), ZtZ (levels, terms, terms), residual (draws, levels, terms),
    s2 (draws,), noise (draws, levels, terms); returns r (draws, levels, terms)."""
    terms = C.shape[-1]
    c = [[C[:, i, j][:, None] for j in range(terms)] for i in range(terms)]
    scale = 1 / s2[:, None]
    # A = I + C' ZtZ C / s2 and rhs = C' residual / s2, entry by entry
    A = [[None] * terms for _ in range(terms)]
    for k in range(terms):
        for m in range(k, terms):
            total = sum(
                c[i][k] * ZtZ[None, :, i, j] * c[j][m] for i in range(terms) for j in range(terms)
            )
            A[k][m] = A[m][k] = (k == m) + total * scale
    rhs = [sum(c[i][k] * residual[..., i] for i in range(terms)) * scale for k in range(terms)]
    # A = B B' (Cholesky); eta = B'^-1 (B^-1 rhs + noise) ~ normal(A^-1 rhs, A^-1)
    if terms == 1:
        b11 = np.sqrt(A[0][0])
        eta = [(rhs[0] / b11 + noise[..., 0]) / b11]
    else:
        b11 = np.sqrt(A[0][0])
        b21 = A[1][0] / b11
        b22 = np.sqrt(A[1][1] - b21**2)
        w1 = rhs[0] / b11 + noise[..., 0]
        w2 = (rhs[1] - b21 * rhs[0] / b11) / b22 + noise[..., 1]
        eta2 = w2 / b22
        eta = [(w1 - b21 * eta2) / b11, eta2]
    return np.stack([sum(c[k][m] * eta[m] for m in range(terms)) for k in range(terms)], axis=-1)


def predictions(
    design: Design, posterior: dict[str, np.ndarray], rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Pointwise log-likelihood given the group-level effects, and a replicated data set, per draw:
    arrays of shape (chains, draws, rows), as the full program's generated quantities."""
    block = design.blocks[0]
    mu = _b(posterior) @ design.X.T
    if "b_Intercept" in posterior:
        mu += posterior["b_Intercept"][..., None]
    if design.offset is not None:
        mu += design.offset
    r = posterior[f"r_{block.id}"]
    for term in range(block.Z.shape[1]):
        mu += r[:, :, block.J - 1, term] * block.Z[:, term]
    sigma = posterior["sigma"][..., None]
    residual = (design.response.values - mu) / sigma
    log_lik = -0.5 * residual**2 - np.log(sigma) - 0.5 * np.log(2 * np.pi)
    y_rep = rng.normal(mu, np.broadcast_to(sigma, mu.shape))
    return {"log_lik": log_lik, "y_rep": y_rep}


def _level_statistics(design: Design) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per level: Z'Z, Z'X and Z'y, with X's intercept column in front when the model has one
    (beta here is on the predictors' own scale) and y less any offset."""
    X = design.X
    if design.has_intercept:
        X = np.column_stack([np.ones(design.n), X])
    return level_statistics(design, X, response(design))


def _population_effects(design: Design, posterior: dict[str, np.ndarray]) -> np.ndarray:
    """beta per draw, the intercept (on the predictors' own scale) first when there is one."""
    b = _b(posterior)
    if design.has_intercept:
        return np.concatenate([posterior["b_Intercept"][..., None], b], axis=-1)
    return b


def _b(posterior: dict[str, np.ndarray]) -> np.ndarray:
    """The population-level effects; stanli reports no empty vector, so an intercept-only model's
    b comes back missing: (chains, draws, 0) then."""
    if "b" in posterior:
        return posterior["b"]
    return np.empty((*posterior["sigma"].shape, 0))


def _flat(values: np.ndarray) -> np.ndarray:
    """(chains, draws, ...) to (chains * draws, ...)."""
    return values.reshape(values.shape[0] * values.shape[1], *values.shape[2:])  # sizes of 0 too

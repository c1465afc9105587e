"""log_lik and y_rep of the gaussian marginal program, computed from its draws.

That program samples a handful of parameters in a fraction of the full model's time; passing N
log-likelihoods and N replicated responses per draw out of Stan would cost it more than the
sampling itself. They are cheap array arithmetic here, as brms computes them in R after sampling.
"""

from __future__ import annotations

import numpy as np

from mixfit.model import Model


def gaussian_predictions(
    model: Model, posterior: dict[str, np.ndarray], seed: int
) -> dict[str, np.ndarray]:
    """Pointwise log-likelihood given the group-level effects, and a replicated data set, per draw:
    arrays of shape (chains, draws, rows), as the full program's generated quantities."""
    design = model.design
    block = design.blocks[0]
    mu = posterior["b"] @ design.X.T
    if "b_Intercept" in posterior:
        mu += posterior["b_Intercept"][..., None]
    if design.offset is not None:
        mu += design.offset
    r = posterior[f"r_{block.id}"]  # (chains, draws, levels, terms)
    for term in range(block.Z.shape[1]):
        mu += r[:, :, block.J - 1, term] * block.Z[:, term]
    sigma = posterior["sigma"][..., None]
    residual = (design.response.values - mu) / sigma
    log_lik = -0.5 * residual**2 - np.log(sigma) - 0.5 * np.log(2 * np.pi)
    y_rep = np.random.default_rng(seed).normal(mu, np.broadcast_to(sigma, mu.shape))
    return {"log_lik": log_lik, "y_rep": y_rep}

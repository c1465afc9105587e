"""The marginal program's group-level effects and predictions, drawn in Python after sampling."""

import numpy as np
import pandas as pd
import pytest

from mixfit.model.design import build_design
from mixfit.model.families import choose_family
from mixfit.model.formula import parse_formula
from mixfit.results.marginal_draws import group_effects, predictions

DRAWS = 20_000


@pytest.fixture
def design():
    """Three correlated terms per level, unequal level sizes, an offset."""
    rng = np.random.default_rng(3)
    n = 40
    frame = pd.DataFrame(
        {
            "g": rng.choice(["a", "b", "c", "d"], n, p=[0.1, 0.2, 0.3, 0.4]),
            "x": rng.normal(size=n),
            "w": rng.uniform(0, 3, n),
            "o": rng.normal(size=n),
        }
    )
    frame["y"] = 1 + 0.5 * frame["x"] + frame["o"] + rng.normal(size=n)
    formula = parse_formula("y ~ x + offset(o) + (x + w | g)")
    return build_design(formula, choose_family("gaussian"), frame)


def fixed_parameters(chains: int, draws: int) -> dict[str, np.ndarray]:
    """One value of every parameter, repeated as every draw."""
    cor = np.array([[1.0, 0.3, -0.2], [0.3, 1.0, 0.4], [-0.2, 0.4, 1.0]])
    values = {
        "b": np.array([0.4]),
        "b_Intercept": np.array(0.8),
        "sigma": np.array(0.9),
        "sd_1": np.array([1.5, 0.7, 0.4]),
        "L_1": np.linalg.cholesky(cor),
    }
    return {k: np.broadcast_to(v, (chains, draws, *v.shape)).copy() for k, v in values.items()}


def exact_conditional(design, params) -> tuple[np.ndarray, np.ndarray]:
    """Per level, the mean and covariance of r_j given the parameters, by dense algebra on rows."""
    block = design.blocks[0]
    first = {k: v[0, 0] for k, v in params.items()}
    C = np.diag(first["sd_1"]) @ first["L_1"]
    Sigma = C @ C.T
    residual = design.response.values - first["b_Intercept"] - design.X @ first["b"] - design.offset
    means, covs = [], []
    for level in range(len(block.levels)):
        rows = block.J - 1 == level
        Z = block.Z[rows]
        precision = np.linalg.inv(Sigma) + Z.T @ Z / first["sigma"] ** 2
        cov = np.linalg.inv(precision)
        means.append(cov @ Z.T @ residual[rows] / first["sigma"] ** 2)
        covs.append(cov)
    return np.array(means), np.array(covs)


def test_group_effects_follow_their_exact_conditional(design, monkeypatch):
    monkeypatch.setattr(
        "mixfit.results.marginal_draws.CHUNK", 9_999
    )  # several chunks, the last short
    chains = 2
    params = fixed_parameters(chains, DRAWS // chains)
    r = group_effects(design, params, np.random.default_rng(0))
    assert r.shape == (chains, DRAWS // chains, 4, 3)
    means, covs = exact_conditional(design, params)
    draws = r.reshape(DRAWS, 4, 3)
    for level in range(4):
        sd = np.sqrt(np.diag(covs[level]))
        # a mean within 4.5 Monte Carlo standard errors; SDs and correlations within a few percent
        assert np.all(np.abs(draws[:, level].mean(0) - means[level]) < 4.5 * sd / np.sqrt(DRAWS))
        sample = np.cov(draws[:, level].T)
        np.testing.assert_allclose(np.sqrt(np.diag(sample)), sd, rtol=0.04)
        np.testing.assert_allclose(
            sample / np.outer(sd, sd), covs[level] / np.outer(sd, sd), atol=0.04
        )


def test_predictions_use_each_draws_effects(design):
    params = fixed_parameters(1, 2)
    params["r_1"] = np.random.default_rng(1).normal(size=(1, 2, 4, 3))
    drawn = predictions(design, params, np.random.default_rng(2))
    block = design.blocks[0]
    mu = (
        0.8
        + 0.4 * design.X[:, 0]
        + design.offset
        + np.sum(params["r_1"][0, 1][block.J - 1] * block.Z, axis=1)
    )
    expected = -0.5 * ((design.response.values - mu) / 0.9) ** 2 - np.log(0.9 * np.sqrt(2 * np.pi))
    np.testing.assert_allclose(drawn["log_lik"][0, 1], expected)
    assert drawn["y_rep"].shape == (1, 2, design.n)

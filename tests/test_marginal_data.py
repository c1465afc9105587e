"""The marginal program's data (the rows' sufficient statistics) against the rows themselves: its
log density, by stanli, moves between two points of the parameters as the rows' marginal
likelihood, computed densely per level, and the priors move."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mixfit.model.design import build_design
from mixfit.model.families import choose_family
from mixfit.model.formula import parse_formula
from mixfit.model.program import build_model, stan_data
from mixfit.model.stancode import stan_code


def frame() -> pd.DataFrame:
    """Unequal level sizes, two population-level predictors, an offset."""
    rng = np.random.default_rng(5)
    n = 60
    out = pd.DataFrame(
        {
            "g": rng.choice(["a", "b", "c", "d", "e"], n, p=[0.1, 0.15, 0.2, 0.25, 0.3]),
            "x": rng.normal(1.0, 2.0, n),
            "w": rng.uniform(0, 3, n),
            "o": rng.normal(size=n),
        }
    )
    out["y"] = 1 + 0.5 * out["x"] - 0.3 * out["w"] + out["o"] + rng.normal(size=n)
    return out


def dense_log_likelihood(design, intercept, b, sigma, sd, L) -> float:
    """sum over levels of log normal(y_j - o_j | mu_j, sigma^2 I + Z_j Sigma Z_j'), on the rows."""
    block = design.blocks[0]
    C = np.diag(sd) @ L
    X = design.X
    mu = intercept + (X - X.mean(axis=0)) @ b  # the program's Intercept is on centred predictors
    y = design.response.values - design.offset
    total = 0.0
    for level in range(len(block.levels)):
        rows = block.J - 1 == level
        Z = block.Z[rows]
        cov = sigma**2 * np.eye(rows.sum()) + Z @ C @ C.T @ Z.T
        total += stats.multivariate_normal(mu[rows], cov).logpdf(y[rows])
    return total


def log_prior(data, intercept, sigma, sd) -> float:
    """The priors that differ between the two points (b's is flat), with the log of sigma and of
    the SDs: the Jacobian of their lower bound at 0."""
    nu, loc, scale = data["prior_Intercept_student_t"]
    total = stats.t.logpdf(intercept, nu, loc, scale)
    nu, loc, scale = data["prior_sigma_student_t"]
    total += stats.t.logpdf(sigma, nu, loc, scale) + np.log(sigma)
    for (nu, loc, scale), k in zip(data["prior_sd_1_student_t"], data["prior_sd_1_student_t_idx"]):
        total += stats.t.logpdf(sd[k - 1], nu, loc, scale) + np.log(sd[k - 1])
    return total


@pytest.mark.parametrize(
    "group", ["(1 | g)", "(1 + x | g)", "(1 + x + w | g)"], ids=["one", "two", "three"]
)
def test_statistics_give_the_rows_marginal_likelihood(group):
    stanli = pytest.importorskip("stanli")
    pytest.importorskip("bridgestan")
    formula = parse_formula(f"y ~ x + w + offset(o) + {group}")
    design = build_design(formula, choose_family("gaussian"), frame())
    model = build_model(design, [])
    assert model.marginal
    code, data = stan_code(model), stan_data(model)
    assert "Y" not in data and "J_1" not in data  # no rows in the program's data
    bridge = stanli.bridgestan_model(stan_code=code, data=data)
    terms = len(design.blocks[0].terms)
    rng = np.random.default_rng(1)
    cor = np.eye(terms) + 0.3 * (np.ones((terms, terms)) - np.eye(terms))
    L = np.linalg.cholesky(cor)  # the same at both points: its LKJ density and Jacobian cancel

    def point() -> tuple[float, tuple]:
        intercept, b = rng.normal(1, 0.5), rng.normal(0, 0.5, 2)
        sigma, sd = rng.uniform(0.5, 1.5), rng.uniform(0.3, 1.5, terms)
        values = {"b": b, "Intercept": [intercept], "sigma": [sigma], "sd_1": sd}
        if terms > 1:
            values["L_1"] = L.T.ravel()  # column-major, as Stan flattens a matrix
        theta = np.concatenate([np.atleast_1d(values[name]) for name in values])
        lp, _ = bridge.log_density_gradient(bridge.param_unconstrain(theta))
        expected = dense_log_likelihood(design, intercept, b, sigma, sd, L)
        return lp, expected + log_prior(data, intercept, sigma, sd)

    (lp1, want1), (lp2, want2) = point(), point()
    assert abs(lp1 - lp2) > 1  # the two points are far enough apart to tell
    assert lp1 - lp2 == pytest.approx(want1 - want2, rel=1e-9, abs=1e-9)

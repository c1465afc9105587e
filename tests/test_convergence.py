"""mixfit's vectorised R-hat, ESS and MCSE against ArviZ's own, quantity by quantity."""

import numpy as np
import pytest

from mixfit.results.arviz_api import quiet
from mixfit.results.convergence import summarise


def draws(chains: int, n: int) -> np.ndarray:
    """Quantities that exercise each branch: iid, random walks, ties, a constant, shifted chains,
    counts, a NaN, autocorrelations from negative to near 1."""
    rng = np.random.default_rng(chains * 1000 + n)
    x = rng.standard_normal((chains, n, 24))
    x[:, :, 1] = np.cumsum(x[:, :, 1], axis=1)
    x[:, :, 2] = np.round(x[:, :, 2])
    x[:, :, 3] = 5.0
    x[:, :, 4] += np.arange(chains)[:, None]
    x[:, :, 5] = rng.poisson(0.2, size=(chains, n))
    x[0, n // 2, 6] = np.nan
    for j, a in zip(range(7, 24), np.linspace(-0.95, 0.99, 17)):
        for t in range(1, n):
            x[:, t, j] = a * x[:, t - 1, j] + x[:, t, j]
    return x


@pytest.mark.parametrize("chains, n", [(4, 1000), (2, 7), (1, 50), (3, 101), (4, 4), (2, 3)])
def test_figures_are_arviz_figures(chains, n):
    import arviz as az

    x = draws(chains, n)
    ours = summarise(x)
    with quiet():
        data = az.convert_to_dataset({"a": x})
        theirs = {
            "Rhat": az.rhat(data)["a"].values,
            "Bulk_ESS": az.ess(data, method="bulk")["a"].values,
            "Tail_ESS": az.ess(data, method="tail", prob=(0.05, 0.95))["a"].values,
            "MCSE_mean": az.mcse(data, method="mean")["a"].values,
            "MCSE_sd": az.mcse(data, method="sd")["a"].values,
        }
    for key, expected in theirs.items():
        np.testing.assert_allclose(ours[key], expected, rtol=1e-10, atol=0, equal_nan=True)


def test_non_finite_draws_give_no_figure():
    x = draws(4, 100)
    x[1, 3, 0] = np.inf
    figures = summarise(x)
    assert all(np.isnan(figures[key][0]) for key in figures)
    assert np.isfinite(figures["Rhat"][8])

"""brms's gp() data, kernel, spectral density and default lscale prior
(mixfit/model/terms/gp_basis.py)."""

import json

import numpy as np
import pytest
from scipy import integrate, stats

from mixfit.errors import InputError
from mixfit.model.terms.gp_basis import (
    GPSpec,
    approximate_gp_draws,
    basis_indices,
    build_gp,
    cov_exp_quad,
    eigenfunctions,
    evaluate_gp,
    exact_gp_draw,
    exact_gp_new_draw,
    gp_stan_data,
    load_gp_state,
    lscale_prior,
    lscale_priors,
    spd_cov_exp_quad,
)


@pytest.fixture(scope="module")
def sim():
    rng = np.random.default_rng(7)
    n = 60
    return {
        "x": np.round(rng.uniform(0, 10, n), 1),
        "z": rng.uniform(-2, 2, n),
        "f": rng.choice(["a", "b"], n),
        "const": np.full(n, 3.0),
    }


def _roundtrip(state):
    return load_gp_state(json.loads(json.dumps(state)))


def test_exact_gp_data_unique_scaled_points(sim):
    basis = build_gp(GPSpec(("x",)), sim)
    (part,) = basis.parts
    assert basis.label == "gpx" and basis.sfx1 == ["gpx"]
    x = sim["x"]
    # gr = TRUE: the unique points in order of first appearance, Jgp mapping rows to them
    assert len(part.Xgp) == len(np.unique(x))
    dmax = x.max() - x.min()
    assert np.allclose(part.Xgp[part.Jgp - 1, 0], x / dmax)
    first = np.unique(x, return_index=True)[1]
    assert np.allclose(part.Xgp[:, 0], x[np.sort(first)] / dmax)
    assert np.isclose(np.sqrt(np.max((part.Xgp - part.Xgp.T) ** 2)), 1.0)  # scaled by dmax
    data = gp_stan_data(basis.parts, 1, basis.state)
    assert data["Dgp_1"] == 1 and data["Kgp_1"] == 1 and data["Nsubgp_1"] == len(part.Xgp)
    assert "slambda_1" not in data and "NBgp_1" not in data
    ungrouped = build_gp(GPSpec(("x",), gr=False), sim).parts[0]
    assert ungrouped.Jgp is None and len(ungrouped.Xgp) == len(x)


def test_approximate_gp_basis(sim):
    basis = build_gp(GPSpec(("x",), k=20, c=1.25), sim)
    (part,) = basis.parts
    fitted = basis.state["fitted"][0]
    # 1-D and scaled: the centred points span 1, so L = c (brms's choose_L)
    assert fitted["L"] == [1.25]
    assert part.Xgp.shape == (len(np.unique(sim["x"])), 20) and part.slambda.shape == (20, 1)
    assert np.allclose(part.slambda[:, 0], np.arange(1, 21) * np.pi / (2 * 1.25))
    data = gp_stan_data(basis.parts, 2, basis.state)
    assert data["NBgp_2"] == 20 and data["Xgp_2"].shape == part.Xgp.shape
    # the eigenfunctions are orthonormal on [-L, L]
    t = np.linspace(-1.25, 1.25, 4001)[:, None]
    phi = eigenfunctions(t, np.array([1.25]), 20)
    gram = integrate.trapezoid(phi[:, :, None] * phi[:, None, :], t[:, 0], axis=0)
    assert np.allclose(gram, np.eye(20), atol=1e-6)


def test_approximation_reproduces_the_exp_quad_kernel():
    """Riutort-Mayol et al.'s Hilbert-space approximation: Phi diag(spd) Phi' -> K for enough basis
    functions and a wide enough boundary, inside the data's range."""
    x = np.linspace(0, 1, 40)
    basis = build_gp(GPSpec(("x",), k=40, c=3.0), {"x": x})
    part = basis.parts[0]
    sdgp, lscale = 1.3, 0.2
    spd = spd_cov_exp_quad(part.slambda, np.array([sdgp]), np.array([lscale]))[0]
    K_approx = (part.Xgp * spd) @ part.Xgp.T
    K = cov_exp_quad(part.Xgp_prior, None, sdgp, lscale)
    assert np.abs(K_approx - K).max() < 1e-3 * sdgp**2
    # draws through approximate_gp_draws have that covariance
    rng = np.random.default_rng(3)
    z = rng.standard_normal((4000, 40))
    draws = approximate_gp_draws(
        part.Xgp, part.slambda, np.full(4000, sdgp), np.full(4000, lscale), z
    )
    assert np.abs(np.cov(draws[:, ::8].T) - K[::8, ::8]).max() < 0.15 * sdgp**2


def test_spectral_density_is_the_kernels_fourier_transform():
    sdgp, lscale = 0.7, 0.4
    for omega in (0.0, 1.0, 3.5):
        numeric = integrate.quad(
            lambda r, w=omega: sdgp**2 * np.exp(-(r**2) / (2 * lscale**2)) * np.cos(w * r),
            -np.inf,
            np.inf,
        )[0]
        spd = spd_cov_exp_quad(np.array([[omega]]), np.array([sdgp]), np.array([lscale]))[0, 0]
        assert np.isclose(spd, numeric, rtol=1e-8)
    # two dimensions with one lscale per dimension: the product of the 1-D densities
    w = np.array([[0.5, 2.0]])
    both = spd_cov_exp_quad(w, np.array([1.0]), np.array([[0.3, 0.6]]))[0, 0]
    one = [
        spd_cov_exp_quad(w[:, [d]], np.array([1.0]), np.array([ls]))[0, 0]
        for d, ls in enumerate([0.3, 0.6])
    ]
    assert np.isclose(both, one[0] * one[1])


def test_two_dimensional_and_by_factor(sim):
    basis = build_gp(GPSpec(("x", "z"), k=5, c=(1.5, 2.0)), sim)
    part = basis.parts[0]
    assert basis.label == "gpxz" and part.Xgp.shape[1] == 25 and part.slambda.shape == (25, 2)
    assert basis_indices(5, 2)[:6].tolist() == [[1, 1], [2, 1], [3, 1], [4, 1], [5, 1], [1, 2]]
    span = np.ptp(part.Xgp_prior - part.Xgp_prior.mean(axis=0))  # one range over both columns
    assert np.allclose(basis.state["fitted"][0]["L"], np.array([1.5, 2.0]) * max(1.0, span))
    by = build_gp(GPSpec(("x",), by="f"), sim)
    assert by.label == "gpxf" and by.sfx1 == ["gpxfa", "gpxfb"]
    rows = np.concatenate([p.Igp for p in by.parts]) - 1
    assert sorted(rows.tolist()) == list(range(len(sim["x"])))
    for part, fitted in zip(by.parts, by.state["fitted"]):
        level_x = sim["x"][part.Igp - 1]
        assert np.isclose(fitted["dmax"], level_x.max() - level_x.min())  # each level its own
    data = gp_stan_data(by.parts, 1, by.state)
    assert data["Kgp_1"] == 2 and data["Ngp_1"] == [len(p.Igp) for p in by.parts]
    assert np.all(data["Cgp_1_2"] == 1) and "Jgp_1_1" in data and "Xgp_1_2" in data


def test_new_data_keeps_the_fitted_scaling_and_boundary(sim):
    basis = build_gp(GPSpec(("x",), k=10, c=1.25, by="f"), sim)
    state = _roundtrip(basis.state)
    again = evaluate_gp(state, sim)
    for a, b in zip(again, basis.parts):
        assert (
            np.allclose(a.Xgp, b.Xgp)
            and np.array_equal(a.Jgp, b.Jgp)
            and np.array_equal(a.Igp, b.Igp)
        )
    new = {"x": np.array([20.0, -5.0, 5.0]), "f": np.array(["a", "a", "b"])}
    parts = evaluate_gp(state, new)
    fitted = state["fitted"][0]
    expected = np.sin(
        np.pi / (2 * 1.25) * ((20.0 / fitted["dmax"] - fitted["cmeans"][0]) + 1.25)
    ) / np.sqrt(1.25)
    assert np.isclose(parts[0].Xgp[0, 0], expected)
    assert parts[1].Xgp.shape == (1, 10) and parts[1].Igp.tolist() == [3]


def test_exact_gp_draws_and_conditional_new_points(sim):
    x = np.linspace(0, 1, 15)[:, None]
    rng = np.random.default_rng(5)
    f = exact_gp_draw(x, 2.0, 0.3, rng.standard_normal(15))
    same = exact_gp_new_draw(x, x, f, 2.0, 0.3, rng)
    assert np.abs(same - f).max() < 1e-3  # at the fitted points: f, up to the nuggets
    mid = np.array([[0.5 / 14]])  # halfway between the first two points
    draws = np.array([exact_gp_new_draw(mid, x, f, 2.0, 0.3, rng)[0] for _ in range(200)])
    assert np.min(f[:2]) - 0.1 < draws.mean() < np.max(f[:2]) + 0.1 and draws.std() < 0.05
    # one lscale per dimension: the product of the dimensions' kernels
    xz = np.column_stack([np.linspace(0, 1, 6), np.linspace(1, 0, 6) ** 2])
    assert np.allclose(
        cov_exp_quad(xz, None, 1.5, np.array([0.3, 0.3])), cov_exp_quad(xz, None, 1.5, 0.3)
    )
    separate = cov_exp_quad(xz[:, [0]], None, 1.5, 0.3) * cov_exp_quad(xz[:, [1]], None, 1.0, 0.8)
    assert np.allclose(cov_exp_quad(xz, None, 1.5, np.array([0.3, 0.8])), separate)


def test_lscale_prior_puts_one_percent_outside_the_distances(sim):
    basis = build_gp(GPSpec(("x",)), sim)
    (prior,) = lscale_priors(basis)
    alpha, beta = prior
    points = basis.parts[0].Xgp_prior
    d = np.abs(points - points.T)
    lb, ub = max(d[d > 0].min(), 0.01 * d.max()), d.max()
    dist = stats.invgamma(alpha, scale=beta)
    assert np.isclose(dist.cdf(lb), 0.01, atol=1e-6) and np.isclose(dist.sf(ub), 0.01, atol=1e-6)
    # a crowded design: the lower bound is raised to 1% of the largest distance
    crowded = np.r_[0.0, 1e-6, np.linspace(0.1, 1, 10)][:, None]
    a2, b2 = lscale_prior(crowded)
    assert np.isclose(stats.invgamma(a2, scale=b2).cdf(0.01), 0.01, atol=1e-6)
    assert lscale_prior(np.zeros((4, 1))) is None
    assert len(lscale_priors(build_gp(GPSpec(("x", "z"), iso=False), sim))) == 2


@pytest.mark.parametrize(
    "spec,message",
    [
        (GPSpec(("const",)), "constant"),
        (GPSpec(("f",)), "not numeric"),
        (GPSpec(("x",), k=10), "needs c"),
        (GPSpec(("x",), k=0, c=1.0), "positive whole number"),
        (GPSpec(("x",), k=5, c=-1.0), "c must be positive"),
        (GPSpec(("x",), by="z"), "must be a factor"),
        (GPSpec(("missing",)), "no column 'missing'"),
    ],
)
def test_bad_gp_terms_are_one_line_errors(sim, spec, message):
    with pytest.raises(InputError, match=message) as err:
        build_gp(spec, sim)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda s: s.update(type="pickle"), "not a brms_gp state"),
        (lambda s: s.update(k=10**9), "k is not"),
        (lambda s: s.update(c=["1"]), "c is not"),
        (lambda s: s["fitted"][0].update(dmax=0.0), "dmax"),
        (lambda s: s["fitted"][0].update(L=[float("inf")]), "L is not"),
        (lambda s: s.update(fitted=[]), "one entry per GP"),
        (lambda s: s.update(gr="yes"), "gr is not"),
    ],
)
def test_untrusted_gp_state_is_checked(sim, change, message):
    state = json.loads(json.dumps(build_gp(GPSpec(("x",), k=5, c=1.25), sim).state))
    change(state)
    with pytest.raises(InputError, match=message):
        load_gp_state(state)


def test_exact_state_needs_its_points(sim):
    state = json.loads(json.dumps(build_gp(GPSpec(("x",)), sim).state))
    state["fitted"][0]["points"] = [[1.0, 2.0]]
    with pytest.raises(InputError, match="points"):
        load_gp_state(state)

"""mgcv's smooth bases and brms's smooth data (mixfit/model/terms/smooth_basis.py and the bases it
builds on): brms 2.18's own Stan data for ChickWeight, and the properties mgcv's bases guarantee."""

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import trapezoid
from scipy.interpolate import CubicSpline

from mixfit.errors import InputError
from mixfit.model.terms import cubic_basis, r_random, tprs_basis
from mixfit.model.terms.smooth_basis import (
    SmoothSpec,
    build_smooth,
    constraint_null_space,
    evaluate_smooth,
    load_smooth_state,
    stan_data,
)

REFERENCE = Path(__file__).parent / "reference" / "chick_spline_smooth.json"


@pytest.fixture(scope="module")
def chick():
    ref = json.loads(REFERENCE.read_text())
    time = np.array(ref["Time"], dtype=float)
    row = np.searchsorted(np.array(ref["unique_Time"], dtype=float), time)
    ref["Xs_rows"] = np.array(ref["Xs"])[row]
    ref["Zs_rows"] = np.array(ref["Zs_1_1"])[row]
    ref["data"] = {"Time": time}
    return ref


@pytest.fixture(scope="module")
def sim():
    rng = np.random.default_rng(24)
    n = 150
    return {
        "x": rng.uniform(0, 10, n),
        "z": rng.uniform(-1, 1, n),
        "f": rng.choice(["a", "b", "c"], n),
        "label": rng.choice(["u", "v"], n),
    }


def _roundtrip(state):
    return load_smooth_state(json.loads(json.dumps(state)))


# --- brms's Stan data for ChickWeight --------------------------------------------------------


def test_chick_s_time_matches_brms_standata(chick):
    """brms's Xs and Zs_1_1 of s(Time): Xs equal (up to sign), each Zs column equal up to sign,
    hence the same column spaces, singular values and random-effect covariance Zs Zs'."""
    basis = build_smooth(SmoothSpec(covariates=("Time",)), chick["data"])
    (part,) = basis.parts
    assert part.xs_names == ["sTime_1"] and part.brms_label == "sTime"
    data = stan_data(basis.parts, 1)
    assert data["nb_1"] == chick["nb_1"] and data["knots_1"] == chick["knots_1"]
    Xs, Zs = part.Xs, data["Zs_1_1"]
    Xr, Zr = chick["Xs_rows"], chick["Zs_rows"]
    assert Xs.shape == Xr.shape and Zs.shape == Zr.shape
    scale = np.abs(Zr).max()
    for mine, theirs in [(Xs, Xr), (Zs, Zr)]:
        for j in range(theirs.shape[1]):
            diff = min(
                np.abs(mine[:, j] - theirs[:, j]).max(), np.abs(mine[:, j] + theirs[:, j]).max()
            )
            assert diff < 1e-9 * scale, j
    # what "the same" means whatever the column signs and any rotation within the block:
    # each basis is in the other's span, and the prior covariance sds^2 Zs Zs' is brms's
    for a, b in [(Zs, Zr), (Zr, Zs), (Xs, Xr)]:
        residual = a - b @ np.linalg.lstsq(b, a, rcond=None)[0]
        assert np.abs(residual).max() < 1e-9 * scale
    assert np.allclose(
        np.linalg.svd(Zs, compute_uv=False), np.linalg.svd(Zr, compute_uv=False), rtol=1e-9
    )
    assert np.abs(Zs @ Zs.T - Zr @ Zr.T).max() < 1e-9 * np.abs(Zr @ Zr.T).max()


def test_chick_basis_reproduced_from_saved_state(chick):
    basis = build_smooth(SmoothSpec(covariates=("Time",)), chick["data"])
    (again,) = evaluate_smooth(_roundtrip(basis.state), chick["data"])
    assert np.abs(again.Xs - basis.parts[0].Xs).max() < 1e-10
    assert np.abs(again.Zs[0] - basis.parts[0].Zs[0]).max() < 1e-9
    # new Time values between the fitted ones: the curve's basis is smooth in Time
    grid = {"Time": np.linspace(0, 21, 211)}
    (new,) = evaluate_smooth(basis.state, grid)
    assert np.max(np.abs(np.diff(new.Zs[0], n=2, axis=0))) < 1e-2 * np.abs(new.Zs[0]).max()
    assert np.allclose(
        new.Xs[:, 0], np.interp(grid["Time"], chick["data"]["Time"], basis.parts[0].Xs[:, 0])
    )


# --- thin plate regression splines ------------------------------------------------------------


def test_largest_magnitude_eigenpairs_in_mgcvs_order():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(40, 40))
    A = A + A.T
    values, vectors = tprs_basis.largest_eigenpairs(A, 6)
    exact = np.linalg.eigvalsh(A)
    assert np.allclose(sorted(np.abs(values)), sorted(np.abs(exact))[-6:])
    assert np.allclose(A @ vectors, vectors * values, atol=1e-8)


def test_tprs_null_space_constraint_and_prediction(sim):
    x = sim["x"][:, None]
    basis = tprs_basis.construct_tprs(x, k=10)
    M = basis.null_dim
    assert (basis.rank, M) == (8, 2)
    # the penalty leaves the polynomials (the last M columns: 1 and x - mean, rescaled) free
    assert np.all(basis.S[:, -M:] == 0) and np.linalg.matrix_rank(basis.S) == 8
    assert np.allclose(basis.X[:, -2], 1.0) and np.allclose(
        basis.X[:, -1] * np.std(x), x[:, 0] - x.mean()
    )
    # the radial coefficients satisfy T' delta = 0 (UZ maps the k coefficients to them)
    xu = np.array(basis.state["Xu"])
    UZ = np.array(basis.state["UZ"])
    assert np.abs(np.column_stack([np.ones(len(xu)), xu]).T @ UZ[: len(xu), :-M]).max() < 1e-10
    assert np.abs(tprs_basis.predict_tprs(basis.state, x) - basis.X).max() < 1e-9


def test_tprs_full_basis_penalty_is_the_integrated_squared_second_derivative():
    """With k = the number of unique points the 1-D tp spline is the natural cubic interpolating
    spline, and its penalty in terms of the values at the points is the cr penalty D'B^{-1}D."""
    x = np.array([0.0, 0.7, 1.5, 2.0, 3.1, 4.0, 4.4, 5.8])
    basis = tprs_basis.construct_tprs(x[:, None], k=len(x))
    Xinv = np.linalg.inv(basis.X)
    S_values = Xinv.T @ basis.S @ Xinv
    S_cr, _ = cubic_basis.cr_penalty_and_f(x)
    assert np.allclose(S_values, S_cr, atol=1e-9 * np.abs(S_cr).max())


def test_tprs_two_dimensions(sim):
    x = np.column_stack([sim["x"], sim["z"]])
    basis = tprs_basis.construct_tprs(x)
    assert basis.X.shape == (150, 30) and basis.null_dim == 3  # k = 3 + 27, null space 1, x, z
    assert np.abs(tprs_basis.predict_tprs(basis.state, x) - basis.X).max() < 1e-8


# --- cubic regression splines -----------------------------------------------------------------


def test_cr_is_the_natural_cubic_spline_through_its_knot_values(sim):
    basis = cubic_basis.construct_cr(sim["x"], 7)
    knots = np.array(basis.state["knots"])
    assert np.allclose(knots, np.quantile(np.unique(sim["x"]), np.linspace(0, 1, 7)))
    values = np.sin(knots)
    spline = CubicSpline(knots, values, bc_type="natural")
    grid = np.linspace(knots[0], knots[-1], 101)
    assert np.allclose(cubic_basis.predict_cr(basis.state, grid) @ values, spline(grid))
    # beyond the end knots the spline goes on linearly
    out = np.array([knots[-1] + 1.0, knots[-1] + 2.0, knots[-1] + 3.0])
    assert np.allclose(np.diff(cubic_basis.predict_cr(basis.state, out) @ values, 2), 0)
    # the penalty is the integrated squared second derivative; linear functions are free
    assert np.abs(basis.S @ np.ones(7)).max() < 1e-10 and np.abs(basis.S @ knots).max() < 1e-9
    assert np.isclose(
        values @ basis.S @ values, _integrated_squared_second_derivative(spline, knots)
    )
    assert basis.rank == 5


def _integrated_squared_second_derivative(spline, knots):
    grid = np.linspace(knots[0], knots[-1], 20001)
    return trapezoid(spline(grid, 2) ** 2, grid)


def test_cs_shrinks_the_null_space():
    x = np.linspace(0, 1, 50)
    cr, cs = cubic_basis.construct_cr(x, 8), cubic_basis.construct_cr(x, 8, shrink=True)
    ev_cr, ev_cs = np.linalg.eigvalsh(cr.S), np.linalg.eigvalsh(cs.S)
    assert np.allclose(ev_cs[2:], ev_cr[2:]) and cs.rank == 8
    assert np.allclose(ev_cs[:2], [0.01 * ev_cr[2], 0.1 * ev_cr[2]])


def test_cc_is_periodic(sim):
    basis = cubic_basis.construct_cc(sim["x"], 8)
    knots = np.array(basis.state["knots"])
    lo, hi = knots[0], knots[-1]
    assert np.isclose(lo, sim["x"].min()) and np.isclose(hi, sim["x"].max())
    coefs = np.cos(np.arange(7))
    f = lambda t: cubic_basis.predict_cc(basis.state, np.atleast_1d(t)) @ coefs
    eps = 1e-5
    assert np.isclose(f(lo), f(hi))
    assert np.isclose((f(lo + eps) - f(lo)) / eps, (f(hi) - f(hi - eps)) / eps, atol=1e-3)
    assert np.allclose(f(lo + 0.3 + (hi - lo)), f(lo + 0.3))  # wrapped beyond the period
    periodic = CubicSpline(knots, np.r_[coefs, coefs[0]], bc_type="periodic")
    grid = np.linspace(lo, hi, 77)
    assert np.allclose(f(grid), periodic(grid))
    assert np.abs(basis.S @ np.ones(7)).max() < 1e-10 and np.linalg.matrix_rank(basis.S) == 6


# --- smoothCon and smooth2random --------------------------------------------------------------


@pytest.mark.parametrize(
    "bs,n_fixed,n_random",
    [("tp", 1, 8), ("cr", 1, 8), ("cs", 0, 9), ("cc", 0, 8)],
)
def test_s_terms_sum_to_zero_and_split_as_brms(sim, bs, n_fixed, n_random):
    basis = build_smooth(SmoothSpec(("x",), bs=(bs,)), sim)
    (part,) = basis.parts
    assert part.Xs.shape[1] == n_fixed and [z.shape[1] for z in part.Zs] == [n_random]
    everything = np.hstack([part.Xs, *part.Zs])
    assert np.abs(everything.sum(axis=0)).max() < 1e-9 * len(sim["x"])  # the constraint
    if n_fixed:  # the unpenalised part is the linear function, centred
        centred = sim["x"] - sim["x"].mean()
        assert np.allclose(part.Xs[:, 0] / part.Xs[0, 0], centred / centred[0])
    (again,) = evaluate_smooth(_roundtrip(basis.state), sim)
    assert np.abs(np.hstack([again.Xs, *again.Zs]) - everything).max() < 1e-8
    some = {key: value[:10] for key, value in sim.items()}
    (rows,) = evaluate_smooth(basis.state, some)
    assert np.abs(np.hstack([rows.Xs, *rows.Zs]) - everything[:10]).max() < 1e-8


def test_smooth_is_iid_in_the_penalty_metric(sim):
    """smooth2random: in Zs's coordinates the (scaled) penalty is the identity, so sds * zs with
    zs ~ N(0, I) is the penalised smooth: Zs+ Zs equals the penalty's pseudo-inverse map."""
    basis = build_smooth(SmoothSpec(("x",), bs=("cr",), k=(6,)), sim)
    (part,) = basis.parts
    raw = cubic_basis.construct_cr(sim["x"], 6)
    # coefficients b of the raw basis for Zs's columns, and the penalty b'Sb of each
    B = np.linalg.lstsq(raw.X, part.Zs[0], rcond=None)[0]
    assert np.abs(raw.X @ B - part.Zs[0]).max() < 1e-9
    norm_x = np.max(np.sum(np.abs(raw.X), axis=1)) ** 2
    S = raw.S / (np.max(np.sum(np.abs(raw.S), axis=0)) / norm_x)
    assert np.allclose(B.T @ S @ B, np.eye(4), atol=1e-8)


def test_by_factor_one_smooth_per_level(sim):
    basis = build_smooth(SmoothSpec(("x",), by="f"), sim)
    assert [p.by_level for p in basis.parts] == ["a", "b", "c"]
    assert [p.label for p in basis.parts] == ["s(x):fa", "s(x):fb", "s(x):fc"]
    assert basis.parts[1].brms_label == "sxfb" and basis.parts[1].xs_names == ["sx:fb_1"]
    plain = build_smooth(SmoothSpec(("x",)), sim).parts[0]
    for part in basis.parts:
        outside = sim["f"] != part.by_level
        assert np.all(part.Xs[outside] == 0) and np.all(part.Zs[0][outside] == 0)
        # each level is the same constrained basis times its indicator, up to the penalty's rotation
        inside = ~outside
        span = np.hstack([plain.Xs, plain.Zs[0]])[inside]
        level = np.hstack([part.Xs, part.Zs[0]])[inside]
        assert np.abs(level - span @ np.linalg.lstsq(span, level, rcond=None)[0]).max() < 1e-9
    data = stan_data(basis.parts, 2)
    assert data["nb_2"] == data["nb_4"] == 1 and data["knots_3"] == [8]
    ordered = build_smooth(
        SmoothSpec(("x",), by="f"), sim, by_levels=["c", "a", "b"], by_ordered=True
    )
    assert [p.by_level for p in ordered.parts] == ["a", "b"]
    again = evaluate_smooth(_roundtrip(ordered.state), sim)
    assert np.abs(again[1].Zs[0] - ordered.parts[1].Zs[0]).max() < 1e-9


def test_t2_blocks_and_constraint(sim):
    basis = build_smooth(SmoothSpec(("x", "z"), term="t2"), sim)
    (part,) = basis.parts
    # mgcv's default margins, cr of k = 5: range spaces of 3, null spaces of 2: rr, nr, rn
    # penalised, nn unpenalised (less one column for the constraint)
    margins = basis.state["basis"]["margins"]
    assert [(m["basis"]["bs"], len(m["basis"]["knots"])) for m in margins] == [("cr", 5)] * 2
    assert [z.shape[1] for z in part.Zs] == [9, 6, 6] and part.Xs.shape[1] == 3
    assert part.xs_names == ["t2xz_1", "t2xz_2", "t2xz_3"] and part.brms_label == "t2xz"
    assert np.abs(part.Xs.sum(axis=0)).max() < 1e-9 * len(sim["x"])
    data = stan_data(basis.parts, 1)
    assert data["nb_1"] == 3 and data["knots_1"] == [9, 6, 6]
    (again,) = evaluate_smooth(_roundtrip(basis.state), sim)
    assert all(np.abs(a - b).max() < 1e-9 for a, b in zip(again.Zs, part.Zs))
    assert np.abs(again.Xs - part.Xs).max() < 1e-9
    # the unpenalised block spans x, z and x z (centred): t2's null space is the bilinear functions
    x, z = sim["x"], sim["z"]
    bilinear = np.column_stack([np.ones_like(x), x, z, x * z])
    assert (
        np.abs(part.Xs - bilinear @ np.linalg.lstsq(bilinear, part.Xs, rcond=None)[0]).max() < 1e-9
    )


def test_constraint_null_space_leaves_unconstrained_columns():
    C = np.array([[0.0, 0.0, 2.0, 1.0, 3.0]])
    Z = constraint_null_space(C, 5)
    assert Z.shape == (5, 4) and np.allclose(C @ Z, 0) and np.allclose(Z.T @ Z, np.eye(4))
    assert np.allclose(Z[:2, :2], np.eye(2)) and np.allclose(Z[:2, 2:], 0)
    assert np.allclose(constraint_null_space(5, 5), np.eye(5)[:, :4])


# --- bad input and untrusted states -----------------------------------------------------------


@pytest.mark.parametrize(
    "spec,message",
    [
        (SmoothSpec(("label",)), "is not numeric"),
        (SmoothSpec(("x",), k=(500,)), "too few|fewer than"),
        (SmoothSpec(("x",), bs=("cr",), k=(200,)), "too few"),
        (SmoothSpec(("x",), by="x"), "must be a factor"),
        (SmoothSpec(("nope",)), "no column 'nope'"),
        (SmoothSpec(("x",), bs=("ps",)), "unknown smooth basis"),
        (SmoothSpec(("x", "z"), bs=("cr",)), 'needs bs = "tp"'),
    ],
)
def test_bad_smooths_are_one_line_errors(sim, spec, message):
    with pytest.raises(InputError, match=message) as err:
        build_smooth(spec, sim)
    assert "\n" not in str(err.value)


def _state(sim):
    return json.loads(json.dumps(build_smooth(SmoothSpec(("x",), bs=("cr",), k=(5,)), sim).state))


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda s: s.update(type="python"), "not a mgcv_smooth state"),
        (lambda s: s.pop("transform"), "lacks transform"),
        (lambda s: s["basis"].update(bs="__import__('os')"), "is not one of"),
        (lambda s: s["basis"].update(F=[[1.0, 2.0]]), "shape"),
        (lambda s: s["basis"].update(knots=[3.0, 2.0, 1.0, 0.0, -1.0]), "not an increasing"),
        (lambda s: s.update(transform=[[float("nan")] * 4] * 5), "finite"),
        (lambda s: s.update(transform="[[1]]"), "not a matrix"),
        (lambda s: s.update(fixed=[7]), "do not split"),
        (lambda s: s.update(covariates=[]), "not a list of names"),
    ],
)
def test_untrusted_state_is_checked(sim, change, message):
    state = _state(sim)
    change(state)
    with pytest.raises(InputError, match=message):
        load_smooth_state(state, where="results/design.json")


# --- more than 2000 unique values: mgcv's knots drawn with R's generator ------------------------


def test_r_sample_is_rs():
    """Published R >= 3.6 outputs: set.seed(1); runif(3) and sample(10); set.seed(123);
    sample(100, 5); set.seed(42); sample(10)."""
    unif = r_random.RUniform(1)
    assert np.allclose([unif() for _ in range(3)], [0.2655087, 0.3721239, 0.5728534], atol=5e-8)
    assert r_random.r_sample(10, 10, 1).tolist() == [9, 4, 7, 1, 2, 5, 3, 10, 6, 8]
    assert r_random.r_sample(100, 5, 123).tolist() == [31, 79, 51, 14, 67]
    assert r_random.r_sample(10, 10, 42).tolist() == [1, 5, 10, 8, 2, 4, 6, 9, 7, 3]


def test_large_data_tp_uses_2000_sampled_knots():
    x = np.random.default_rng(2).uniform(0, 1, 2100)
    basis = tprs_basis.construct_tprs(x[:, None], k=10)
    xu = np.array(basis.state["Xu"])[:, 0]
    assert len(xu) == 2000 and np.all(np.diff(xu) > 0)
    chosen = np.sort(np.sort(x - x.mean())[r_random.r_sample(2100, 2000, 1) - 1])
    assert np.allclose(xu, chosen)
    assert np.abs(tprs_basis.predict_tprs(basis.state, x[:, None]) - basis.X).max() < 1e-10


def test_sparse_and_dense_eigenpairs_agree():
    rng = np.random.default_rng(4)
    A = rng.normal(size=(tprs_basis.DENSE_EIGEN_MAX + 50,) * 2)
    A = A + A.T
    values, vectors = tprs_basis.largest_eigenpairs(A, 8)
    exact, exact_vectors = np.linalg.eigh(A)
    keep = np.sort(np.argsort(-np.abs(exact))[:8])[::-1]
    assert np.allclose(values, exact[keep]) and np.allclose(
        np.abs(vectors), np.abs(exact_vectors[:, keep])
    )

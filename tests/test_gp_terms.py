"""Gaussian process terms gp() in a fit (mixfit/model/terms/gp.py, stan_templates/terms/gp.stan):
brms's Hilbert-space approximate GP recovering a simulated curve (at new x, through effects and
loo), its names in draws.nc and the summary, numpy's log_lik of the saved fit against the
definition and the program's, the exact GP on 60 rows (new x drawn given the fitted values),
gp(x, by = f) as chain jobs then combined, and the reduce_sum form's log density."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import fit_as_chain_jobs, mixfit

from mixfit.analysis.predict import log_lik
from mixfit.model.priors import Prior
from mixfit.model.terms.gp_basis import lscale_prior

QUICK = ["--chains", "2", "--iter", "300", "--seed", "1", "--quiet", "--no-plots"]


def _truth(x: np.ndarray) -> np.ndarray:
    return 2 + 1.5 * np.sin(x)


def _fit(folder: Path, data: Path, *formulas: str) -> Path:
    args = ["fit", data]
    for formula in formulas:
        args += ["-f", formula]
    done = mixfit(*args, "-o", "out", *QUICK, cwd=folder, timeout=900)
    assert done.returncode == 0, done.stderr
    return folder / "out"


def _predict(out: Path, rows: pd.DataFrame, *extra: str) -> pd.DataFrame:
    rows.to_csv(out.parent / "new.csv", index=False)
    done = mixfit("predict", out, "new.csv", "-o", "pred.csv", *extra, cwd=out.parent)
    assert done.returncode == 0, done.stderr
    return pd.read_csv(out.parent / "pred.csv")


def _draws(out: Path) -> xr.Dataset:
    with xr.open_dataset(out / "draws.nc", group="posterior", engine="h5netcdf") as saved:
        return saved.load()


def _stored_log_lik(out: Path) -> np.ndarray:
    with xr.open_dataset(out / "draws.nc", group="log_likelihood", engine="h5netcdf") as saved:
        name = next(iter(saved.data_vars))
        return saved[name].values.reshape(-1, saved.sizes["obs"])


def _flat(values: xr.DataArray) -> np.ndarray:
    v = values.values
    return v.reshape(-1, *v.shape[2:])


# --- the approximate GP --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hsgp(tmp_path_factory):
    """y = 2 + 1.5 sin(x) + N(0, 0.4), x in (0, 10), 180 rows: `y ~ gp(x, k = 15, c = 5/4)`."""
    folder = tmp_path_factory.mktemp("hsgp")
    rng = np.random.default_rng(11)
    n = 180
    x = np.round(rng.uniform(0, 10, n), 2)
    data = pd.DataFrame({"y": _truth(x) + rng.normal(0, 0.4, n), "x": x})
    data.to_csv(folder / "sim.csv", index=False)
    return _fit(folder, folder / "sim.csv", "y ~ gp(x, k = 15, c = 5/4)"), data


def test_hsgp_recovers_the_curve_at_new_x(hsgp):
    """The curve at x the fit never saw within 0.25 of the truth (RMSE under 0.15), and sdgp and
    lscale finite and plausible (lscale on brms's scaled x: x / its largest distance)."""
    out, _ = hsgp
    rows = pd.DataFrame({"x": np.linspace(0.3, 9.7, 15)})
    pred = _predict(out, rows)
    error = pred["Estimate"] - _truth(rows["x"].to_numpy())
    assert np.sqrt(np.mean(error**2)) < 0.15
    assert np.max(np.abs(error)) < 0.3
    assert np.mean(np.abs(error) < 2.5 * pred["Est.Error"]) > 0.85
    gps = pd.read_csv(out / "gps.csv").set_index("param")
    assert list(gps.index) == ["sdgp(gpx)", "lscale(gpx)"]
    assert np.isfinite(gps["Estimate"]).all()
    assert 0.3 < gps.loc["sdgp(gpx)", "Estimate"] < 10
    # sin(x) varies over about one unit of x: a tenth of the scaled range, give or take
    assert 0.02 < gps.loc["lscale(gpx)", "Estimate"] < 0.4


def test_hsgp_names_summary_priors_and_design(hsgp):
    """brms's names: sdgp_gpx, lscale_gpx and zgp_gpx (k values) in draws.nc, nothing of the
    program's own (gp_pred_1, rgp_1); a "Gaussian Process Terms" section; the lscale prior
    brms derives from the scaled points; design.json keeps the basis' boundary and centring."""
    out, data = hsgp
    draws = _draws(out)
    assert draws["sdgp_gpx"].dims == ("chain", "draw")
    assert draws["lscale_gpx"].dims == ("chain", "draw")
    assert draws["zgp_gpx"].shape[2] == 15
    assert not [v for v in draws.data_vars if str(v).startswith(("gp_pred", "rgp", "sdgp_1"))]
    text = (out / "summary.txt").read_text()
    section = text.split("Gaussian Process Terms:")[1].split("\n\n")[0]
    assert [line.split()[0] for line in section.strip().splitlines()[1:]] == [
        "sdgp(gpx)",
        "lscale(gpx)",
    ]
    assert text.index("Gaussian Process Terms:") < text.index("Population-Level Effects:")
    x = np.unique(data["x"].to_numpy())
    alpha, beta = lscale_prior((x / (x.max() - x.min()))[:, None])
    prior = pd.read_csv(out / "prior.csv").fillna("")
    row = prior[(prior["class"] == "lscale") & (prior["coef"] == "gpx")]
    assert list(row["prior"]) == [str(Prior("inv_gamma", (alpha, beta)))]  # 6 digits shown
    sdgp = prior[(prior["class"] == "sdgp") & (prior["coef"] == "")]
    assert list(sdgp["prior"]) == ["student_t(3, 0, 2.5)"]
    design = json.loads((out / "design.json").read_text())
    (term,) = design["population"]["gps"]
    assert term["text"] == "gp(x, k = 15, c = 5 / 4)" and term["gps"] == [
        {"label": "gpx", "size": 15}
    ]
    (fitted,) = term["state"]["fitted"]
    assert np.isclose(fitted["dmax"], x.max() - x.min())
    assert design["effects"] == ["x"]


def test_hsgp_log_lik_equals_the_definition(hsgp):
    """numpy's log_lik of the saved fit at its own rows is the program's and the definition's:
    normal(y | Intercept + Xgp (sqrt(spd(slambda)) .* zgp) at the row's point, sigma)."""
    out, data = hsgp
    numpy_ll = log_lik(out, data, allow_new_levels=False, sample_new_levels="uncertainty", seed=0)
    assert np.allclose(numpy_ll, _stored_log_lik(out), rtol=1e-8, atol=1e-8)
    standata = json.loads((out / "standata.json").read_text())
    draws = _draws(out)
    sdgp, lscale = _flat(draws["sdgp_gpx"]), _flat(draws["lscale_gpx"])
    zgp, intercept, sigma = (
        _flat(draws["zgp_gpx"]),
        _flat(draws["b_Intercept"]),
        _flat(draws["sigma"]),
    )
    Xgp, slambda = np.array(standata["Xgp_1"]), np.array(standata["slambda_1"])
    jgp = np.array(standata["Jgp_1"]) - 1
    spd = (
        sdgp[:, None] ** 2
        * np.sqrt(2 * np.pi)
        * lscale[:, None]
        * np.exp(-0.5 * lscale[:, None] ** 2 * (slambda**2).sum(axis=1))
    )
    f = (np.sqrt(spd) * zgp) @ Xgp.T
    mu = intercept[:, None] + f[:, jgp]
    y = data["y"].to_numpy()
    definition = -0.5 * ((y - mu) / sigma[:, None]) ** 2 - np.log(
        sigma[:, None] * np.sqrt(2 * np.pi)
    )
    assert np.allclose(numpy_ll, definition, rtol=1e-8, atol=1e-8)


def test_hsgp_loo_and_effects(hsgp):
    """loo reads the GP's log_lik; effects draw the curve in x with its interval."""
    out, data = hsgp
    done = mixfit("loo", out, cwd=out.parent)
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("elpd_loo"))
    elpd = float(line.split()[1])
    # about what a gaussian of SD 0.4 gives per row, less the GP's effective parameters
    assert -len(data) * (np.log(0.4 * np.sqrt(2 * np.pi)) + 0.5) - 30 < elpd
    done = mixfit("effects", out, "--effect", "x", "-o", "eff.csv", cwd=out.parent)
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out.parent / "eff.csv")
    inner = table[(table["x"] > 0.3) & (table["x"] < 9.7)]
    truth = _truth(inner["x"].to_numpy())
    assert np.sqrt(np.mean((inner["estimate__"] - truth) ** 2)) < 0.15
    assert (table["lower__"] < table["estimate__"]).all()
    assert (table["estimate__"] < table["upper__"]).all()
    assert ((inner["lower__"] <= truth) & (truth <= inner["upper__"])).mean() > 0.8


def test_tampered_gp_state_is_one_error(hsgp, tmp_path):
    """design.json's gp state is untrusted: a boundary that is not positive is refused."""
    import shutil

    out, _ = hsgp
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    design = json.loads((copy / "design.json").read_text())
    design["population"]["gps"][0]["state"]["fitted"][0]["L"] = [-1.0]
    (copy / "design.json").write_text(json.dumps(design))
    (tmp_path / "new.csv").write_text("x\n1.0\n")
    done = mixfit("predict", copy, "new.csv", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.splitlines()) == 1 and "L is not 1 positive numbers" in done.stderr


# --- the exact GP --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def exact(tmp_path_factory):
    """The exact GP (cov_exp_quad of the unique x, cholesky) on 60 rows, 40 unique x."""
    folder = tmp_path_factory.mktemp("exact")
    rng = np.random.default_rng(12)
    x = np.repeat(np.round(np.linspace(0.25, 9.75, 40), 3), [2] * 20 + [1] * 20)
    data = pd.DataFrame({"y": _truth(x) + rng.normal(0, 0.4, len(x)), "x": x})
    data.to_csv(folder / "exact.csv", index=False)
    return _fit(folder, folder / "exact.csv", "y ~ gp(x)"), data


def test_exact_gp_fit_log_lik_and_new_x(exact):
    """brms's data (Nsubgp unique points, Jgp), numpy's log_lik near the program's, and the
    curve at new x drawn given the fitted values (brms's .predictor_gp_new) near the truth."""
    out, data = exact
    standata = json.loads((out / "standata.json").read_text())
    assert standata["Nsubgp_1"] == 40 and len(standata["Jgp_1"]) == 60
    assert "NBgp_1" not in standata
    assert _draws(out)["zgp_gpx"].shape[2] == 40
    numpy_ll = log_lik(out, data, allow_new_levels=False, sample_new_levels="uncertainty", seed=0)
    # the same cholesky(K + 1e-12 I) zgp, but K of exp_quad is ill-conditioned: numpy's factor
    # and Stan's round apart, most in the last points (brms's own log_lik does the same)
    gap = np.abs(numpy_ll - _stored_log_lik(out))
    assert np.median(gap) < 1e-5 and gap.max() < 0.02
    assert np.median(gap[:, :10]) < 1e-9  # the first points: the factor's first rows agree
    rows = pd.DataFrame({"x": np.linspace(0.5, 9.5, 10)})
    pred = _predict(out, rows, "--type", "linpred")
    error = pred["Estimate"] - _truth(rows["x"].to_numpy())
    assert np.sqrt(np.mean(error**2)) < 0.3
    assert (pred["Est.Error"] > 0).all()
    gps = pd.read_csv(out / "gps.csv")
    assert list(gps["param"]) == ["sdgp(gpx)", "lscale(gpx)"]


# --- by levels, chain jobs, threads --------------------------------------------------------------


def _by_truth(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    return np.where(g == "a", np.sin(x), 1 + np.cos(x / 2))


def test_gp_by_as_chain_jobs_then_combined(tmp_path):
    """A GP per level of g (brms's sdgp_gpxga, lscale_gpxgb, ...), each chain a job, then
    combined; each level's curve at new x."""
    rng = np.random.default_rng(13)
    n = 160
    x, g = np.round(rng.uniform(0, 10, n), 2), rng.choice(["a", "b"], n)
    frame = pd.DataFrame({"y": _by_truth(x, g) + rng.normal(0, 0.3, n), "x": x, "g": g})
    frame.to_csv(tmp_path / "sim.csv", index=False)
    spec = {
        "data": "sim.csv",
        "formula": "y ~ g + gp(x, by = g, k = 12, c = 5/4)",
        "backend": "stanli",
        "sampler": {"chains": 2, "iter": 300, "seed": 5},
    }
    out = fit_as_chain_jobs(spec, tmp_path)
    gps = pd.read_csv(out / "gps.csv")
    assert list(gps["param"]) == [
        "sdgp(gpxga)",
        "sdgp(gpxgb)",
        "lscale(gpxga)",
        "lscale(gpxgb)",
    ]
    draws = _draws(out)
    assert {"zgp_gpxga", "zgp_gpxgb", "sdgp_gpxga", "lscale_gpxgb"} <= set(draws.data_vars)
    xs = np.linspace(0.5, 9.5, 8)
    rows = pd.DataFrame({"x": np.r_[xs, xs], "g": ["a"] * 8 + ["b"] * 8})
    pred = _predict(out, rows)
    error = pred["Estimate"] - _by_truth(rows["x"].to_numpy(), rows["g"].to_numpy())
    assert np.sqrt(np.mean(error**2)) < 0.2


def test_reduce_sum_form_of_gps_has_the_same_log_density(tmp_path):
    """Threads: the slices take the GPs' values at their points (approximate with by levels in
    mu, exact in sigma) and give the plain program's log density and gradient."""
    stanli = pytest.importorskip("stanli")
    from mixfit.pipeline import prepare
    from mixfit.spec import build_spec

    rng = np.random.default_rng(14)
    n = 120
    x, g = np.round(rng.uniform(0, 10, n), 1), rng.choice(["a", "b"], n)
    frame = pd.DataFrame({"y": _by_truth(x, g) + rng.normal(0, 0.3, n), "x": x, "g": g})
    frame.to_csv(tmp_path / "sim.csv", index=False)

    def prepared(threads: int):
        formulas = ["y ~ gp(x, by = g, k = 8, c = 5/4)", "sigma ~ gp(x)"]
        spec = {"data": tmp_path / "sim.csv", "formula": formulas}
        return prepare(build_spec({}, spec | {"sampler": {"threads_per_chain": threads}}))

    plain, threaded = prepared(1), prepared(3)
    assert "reduce_sum" in threaded.code and "gp_pred_sigma_1[Jgp_sigma_1[start:end]]" in (
        threaded.code
    )
    threaded.data["grainsize"] = max(1, threaded.data["N"] // 7)
    one = stanli.Model(stan_code=plain.code, data=plain.data, seed=1)
    many = stanli.Model(stan_code=threaded.code, data=threaded.data, seed=1, threads_per_chain=3)
    for _ in range(2):
        q = rng.normal(scale=0.5, size=one.n_unconstrained)
        (a, grad_a), (b, grad_b) = one.log_prob_grad(q), many.log_prob_grad(q)
        assert b == pytest.approx(a, rel=1e-10)
        np.testing.assert_allclose(grad_b, grad_a, rtol=1e-8, atol=1e-8)

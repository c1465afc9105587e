"""Monotonic effects mo(x) in a fit (mixfit/model/terms/monotonic.py, stan_templates/terms/
monotonic.stan): a simulated effect of unequal steps recovered (brms's bsp_mox and simo_mox1),
brms's names in fixef and the "Simplex Parameters:" section, numpy's log_lik of the saved fit
against the program's and against the definition, predictions at new x, loo, conditional effects
over x's values, and mo() in mu's and sigma's formulas as chain jobs then combined.
Runtime: about 80 s on 2 loaded cores (one module fit, 300 rows, 2 chains x 400; the chain jobs
run the most, 36 s)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import fit_as_chain_jobs, mixfit
from scipy import stats

N = 300
SIMPLEX = np.array([0.6, 0.1, 0.3])  # unequal steps of x = 1 -> 2 -> 3 -> 4
BSP, INTERCEPT, SLOPE, SIGMA = 1.0, 0.5, 0.5, 0.5
QUICK = ["--chains", "2", "--iter", "400", "--seed", "1", "--quiet", "--no-plots"]


def _truth(x: np.ndarray, z: np.ndarray) -> np.ndarray:
    steps = np.concatenate([[0.0], np.cumsum(SIMPLEX)])  # brms's mo(simo, x - 1) / D
    return INTERCEPT + BSP * len(SIMPLEX) * steps[x - 1] + SLOPE * z


def _simulated(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x, z = rng.integers(1, 5, N), rng.normal(size=N)
    return pd.DataFrame({"y": _truth(x, z) + rng.normal(0, SIGMA, N), "x": x, "z": z})


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mono")
    data = _simulated(1)
    data.to_csv(folder / "data.csv", index=False)
    done = mixfit("fit", "data.csv", "-f", "y ~ z + mo(x)", "-o", "out", *QUICK, cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder / "out", data


def _draws(out: Path) -> dict[str, np.ndarray]:
    with xr.open_dataset(out / "draws.nc", group="posterior", engine="h5netcdf") as post:
        return {
            name: post[name].values.reshape(-1, *post[name].shape[2:])
            for name in ("b_Intercept", "b_z", "bsp_mox", "simo_mox1", "sigma")
        }


def _mu(draws: dict, x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """The definition: Intercept + b z + bsp mo(simo, x - min(x)), draws x rows."""
    steps = np.concatenate([np.zeros((len(draws["bsp_mox"]), 1)), draws["simo_mox1"]], axis=1)
    mo = draws["simo_mox1"].shape[1] * np.cumsum(steps, axis=1)[:, x - 1]
    return (
        draws["b_Intercept"][:, None] + draws["b_z"][:, None] * z + draws["bsp_mox"][:, None] * mo
    )


def _predict(out: Path, rows: pd.DataFrame, *extra: str) -> pd.DataFrame:
    rows.to_csv(out.parent / "new.csv", index=False)
    done = mixfit("predict", out, "new.csv", "-o", "pred.csv", *extra, cwd=out.parent)
    assert done.returncode == 0, done.stderr
    return pd.read_csv(out.parent / "pred.csv")


def test_recovers_unequal_steps_under_brms_names(fitted):
    out, _ = fitted
    fixef = pd.read_csv(out / "fixef.csv").set_index("term")
    assert list(fixef.index) == ["Intercept", "z", "mox"]
    assert abs(fixef.loc["mox", "Estimate"] - BSP) < 0.1
    simplexes = pd.read_csv(out / "simplexes.csv").set_index("param")
    assert list(simplexes.index) == ["mox1[1]", "mox1[2]", "mox1[3]"]
    np.testing.assert_allclose(simplexes["Estimate"], SIMPLEX, atol=0.06)
    # each estimate is written to 6 significant digits: their sum is 1 within their rounding
    assert simplexes["Estimate"].sum() == pytest.approx(1.0, abs=5e-6)
    text = (out / "summary.txt").read_text()
    order = [text.index(h) for h in ("Population-Level", "Simplex Parameters:", "Family Specific")]
    assert order == sorted(order) and "\nmox1[2] " in text
    done = mixfit("summary", out, "--json", cwd=out.parent)
    assert done.returncode == 0, done.stderr
    assert [r["param"] for r in json.loads(done.stdout)["simplexes"]] == list(simplexes.index)
    draws = _draws(out)
    assert draws["simo_mox1"].shape[1] == 3 and np.allclose(draws["simo_mox1"].sum(axis=1), 1)


def test_program_and_data_are_brms_s(fitted):
    out, data = fitted
    code = (out / "model.stan").read_text()
    assert "real mo(vector scale, int i) {" in code
    assert "simplex[Jmo[1]] simo_1;" in code
    assert "mu[n] += bsp[1] * mo(simo_1, Xmo_1[n]);" in code
    assert "target += dirichlet_lpdf(simo_1 | con_simo_1);" in code
    standata = json.loads((out / "standata.json").read_text())
    assert standata["Ksp"] == 1 and standata["Imo"] == 1 and standata["Jmo"] == [3]
    assert standata["Xmo_1"] == list(data["x"] - 1)  # brms: x - min(x)
    assert standata["con_simo_1"] == [1.0, 1.0, 1.0]  # brms's default dirichlet(1)
    prior = pd.read_csv(out / "prior.csv")
    assert len(prior[(prior["class"] == "b") & (prior["coef"] == "mox")]) == 1
    simo = prior[prior["class"] == "simo"]
    assert list(simo["coef"]) == ["mox1"] and list(simo["prior"]) == ["dirichlet(1)"]


def test_numpy_log_lik_is_the_program_s_and_the_definition(fitted):
    from mixfit.analysis.predict import log_lik

    out, data = fitted
    mine = log_lik(out, data, allow_new_levels=False, sample_new_levels="uncertainty", seed=0)
    with xr.open_dataset(out / "draws.nc", group="log_likelihood", engine="h5netcdf") as saved:
        name = next(iter(saved.data_vars))
        stored = saved[name].values.reshape(-1, saved.sizes["obs"])
    np.testing.assert_allclose(mine, stored, rtol=1e-8, atol=1e-10)
    draws = _draws(out)
    mu = _mu(draws, data["x"].to_numpy(), data["z"].to_numpy())
    definition = stats.norm.logpdf(data["y"].to_numpy(), mu, draws["sigma"][:, None])
    np.testing.assert_allclose(mine, definition, rtol=1e-8, atol=1e-10)


def test_predict_at_new_x_and_outside_the_fitted_range(fitted):
    out, _ = fitted
    rows = pd.DataFrame({"x": [1, 2, 3, 4, 2], "z": [0.0, 0.0, 0.0, 0.0, 1.0]})
    pred = _predict(out, rows)
    mean = _mu(_draws(out), rows["x"].to_numpy(), rows["z"].to_numpy()).mean(axis=0)
    np.testing.assert_allclose(pred["Estimate"], mean, rtol=1e-5)  # the CSV's 6 digits
    assert np.max(np.abs(pred["Estimate"] - _truth(rows["x"], rows["z"]))) < 0.2
    for bad, message in (("5", "outside the fitted range 1..4 of mo(x)"), ("2.5", "whole")):
        (out.parent / "bad.csv").write_text(f"x,z\n{bad},0\n")
        done = mixfit("predict", out, "bad.csv", cwd=out.parent)
        assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
        assert message in done.stderr


def test_loo_and_effects_over_x_s_values(fitted):
    out, data = fitted
    done = mixfit("loo", out, cwd=out.parent)
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("elpd_loo"))
    with xr.open_dataset(out / "draws.nc", group="log_likelihood", engine="h5netcdf") as saved:
        ll = next(iter(saved.data_vars.values())).values.reshape(-1, N)
    lpd = float(np.sum(np.log(np.mean(np.exp(ll), axis=0))))
    # loo's elpd is the in-sample lpd less its effective parameters: 6 here (Intercept, z,
    # bsp, the simplex's 2 free elements, sigma), a few more or less
    assert lpd - 12 < float(line.split()[1]) < lpd - 3
    done = mixfit("effects", out, "--effect", "x", "-o", "fx.csv", cwd=out.parent)
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out.parent / "fx.csv")
    assert list(table["x"]) == [1, 2, 3, 4]  # brms: a monotonic predictor's whole numbers
    z = np.full(4, data["z"].mean())
    median = np.median(_mu(_draws(out), np.arange(1, 5), z), axis=0)  # brms's estimate__
    np.testing.assert_allclose(table["estimate__"], median, rtol=1e-5)


def test_tampered_monotonic_entry_is_one_error(fitted, tmp_path):
    """design.json is untrusted: a monotonic term relabelled is refused in one line."""
    out, _ = fitted
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    design = json.loads((copy / "design.json").read_text())
    design["population"]["monotonic"][0]["label"] = "moz"
    (copy / "design.json").write_text(json.dumps(design))
    (tmp_path / "new.csv").write_text("x,z\n1,0\n")
    done = mixfit("predict", copy, "new.csv", cwd=tmp_path)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert "monotonic" in done.stderr


def test_mo_in_mu_and_sigma_as_chain_jobs_then_combined(tmp_path):
    """A chain-array run (each chain a job, then combine) of mo(x) in mu's and sigma's formulas:
    brms's bsp_sigma_mox and simo_sigma_mox1, read back by predict."""
    rng = np.random.default_rng(3)
    n = 300
    x = rng.integers(0, 3, n)  # 0..2: two steps
    sigma = np.exp(-1.0 + 0.4 * x)
    pd.DataFrame({"y": 1.0 + x**2 * 0.5 + rng.normal(0, sigma), "x": x}).to_csv(
        tmp_path / "sim.csv", index=False
    )
    spec = {
        "data": "sim.csv",
        "formula": ["y ~ mo(x)", "sigma ~ mo(x)"],
        "backend": "stanli",
        "sampler": {"chains": 2, "iter": 400, "seed": 5},
    }
    out = fit_as_chain_jobs(spec, tmp_path)
    code = (out / "model.stan").read_text()
    assert code.count("real mo(vector scale, int i)") == 1
    assert "sigma[n] += bsp_sigma[1] * mo(simo_sigma_1, Xmo_sigma_1[n]);" in code
    fixef = pd.read_csv(out / "fixef.csv")
    assert list(fixef["term"]) == ["Intercept", "sigma_Intercept", "mox", "sigma_mox"]
    simplexes = pd.read_csv(out / "simplexes.csv")
    assert list(simplexes["param"]) == ["mox1[1]", "mox1[2]", "sigma_mox1[1]", "sigma_mox1[2]"]
    rows = pd.DataFrame({"x": [0, 1, 2]})
    pred = _predict(out, rows)
    np.testing.assert_allclose(pred["Estimate"], [1.0, 1.5, 3.0], atol=0.15)
    sig = _predict(out, rows, "--dpar", "sigma")
    np.testing.assert_allclose(np.log(sig["Estimate"]), [-1.0, -0.6, -0.2], atol=0.3)


def test_reduce_sum_form_has_the_same_log_density(tmp_path):
    """Threads: the slices' monotonic terms (Xmo_1[start + n - 1], mu's and sigma's) give the
    plain program's log density and gradient."""
    stanli = pytest.importorskip("stanli")
    from mixfit.pipeline import prepare
    from mixfit.spec import build_spec

    _simulated(4).to_csv(tmp_path / "data.csv", index=False)

    def prepared(threads: int):
        spec = {"data": tmp_path / "data.csv", "formula": ["y ~ z + mo(x)", "sigma ~ mo(x)"]}
        return prepare(build_spec({}, spec | {"sampler": {"threads_per_chain": threads}}))

    plain, threaded = prepared(1), prepared(3)
    assert "mo(simo_sigma_1, Xmo_sigma_1[start + n - 1])" in threaded.code
    threaded.data["grainsize"] = max(1, threaded.data["N"] // 7)
    one = stanli.Model(stan_code=plain.code, data=plain.data, seed=1)
    many = stanli.Model(stan_code=threaded.code, data=threaded.data, seed=1, threads_per_chain=3)
    rng = np.random.default_rng(1)
    for _ in range(2):
        q = rng.normal(scale=0.5, size=one.n_unconstrained)
        (a, grad_a), (b, grad_b) = one.log_prob_grad(q), many.log_prob_grad(q)
        assert b == pytest.approx(a, rel=1e-12)
        np.testing.assert_allclose(grad_b, grad_a, rtol=1e-10, atol=1e-10)

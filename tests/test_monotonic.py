"""Monotonic effects mo(x) in a fit (mixfit/model/terms/monotonic.py, stan_templates/terms/
monotonic.stan): a simulated effect of unequal steps recovered (brms's bsp_mox and simo_mox1),
brms's names in fixef and the "Simplex Parameters:" section, numpy's log_lik of the saved fit
against the program's and against the definition, predictions at new x, loo, conditional effects
over x's values, and mo() in mu's and sigma's formulas as chain jobs then combined; then
(mo(x) | g), each level's own mean step: its SD, bsp and simplex recovered on 10 levels, brms's
names, numpy's log_lik, predictions at known and new levels, loo, effects, chain jobs, the
reduce_sum form and stanli's Python log_lik; then mo() of an ordered text column (--levels
"dose=none,low,mid,high") against its whole-number coding.
Runtime: about 230 s on 2 loaded cores (four module fits, 240-360 rows, 2 chains x 400-500; the
chain jobs run the most, about 35 s each)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import assert_same_log_density, fit_as_chain_jobs, mixfit
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
    assert_same_log_density(one, many, points=2)


# --- (mo(x) | g): each level's own mean step (brms's group-level terms of type "sp") -----------

GROUPS, GROUP_ROWS = 10, 360
SD_INTERCEPT, SD_MO = 0.7, 0.5


def _grouped(seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """y = Intercept + r_g + (bsp + r_g,mox) mo(simo, x): the level's effects, and the data."""
    rng = np.random.default_rng(seed)
    g, x = rng.integers(0, GROUPS, GROUP_ROWS), rng.integers(1, 5, GROUP_ROWS)
    r = np.column_stack([rng.normal(0, SD_INTERCEPT, GROUPS), rng.normal(0, SD_MO, GROUPS)])
    mo = len(SIMPLEX) * np.concatenate([[0.0], np.cumsum(SIMPLEX)])[x - 1]
    y = INTERCEPT + r[g, 0] + (BSP + r[g, 1]) * mo + rng.normal(0, SIGMA, GROUP_ROWS)
    return pd.DataFrame({"y": y, "x": x, "g": [f"s{k}" for k in g]}), r


@pytest.fixture(scope="module")
def grouped(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mo_group")
    data, _ = _grouped(7)
    data.to_csv(folder / "data.csv", index=False)
    quick = ["--chains", "2", "--iter", "500", "--seed", "2", "--quiet", "--no-plots"]
    done = mixfit(
        "fit", "data.csv", "-f", "y ~ mo(x) + (mo(x) | g)", "-o", "out", *quick, cwd=folder
    )
    assert done.returncode == 0, done.stderr
    return folder / "out", data


def _group_draws(out: Path) -> dict[str, np.ndarray]:
    with xr.open_dataset(out / "draws.nc", group="posterior", engine="h5netcdf") as post:
        assert list(post["r_g"].coords["g__term"].values) == ["Intercept", "mox"]
        names = ("b_Intercept", "bsp_mox", "simo_mox1", "sigma", "sd_g__mox", "r_g")
        levels = list(post["r_g"].coords["g"].values)
        return {n: post[n].values.reshape(-1, *post[n].shape[2:]) for n in names} | {
            "levels": levels
        }


def _group_mu(draws: dict, x: np.ndarray, level: np.ndarray) -> np.ndarray:
    """The definition, draws x rows: Intercept + r[g, Intercept] + (bsp + r[g, mox]) mo(simo, x)."""
    steps = np.concatenate([np.zeros((len(draws["bsp_mox"]), 1)), draws["simo_mox1"]], axis=1)
    mo = draws["simo_mox1"].shape[1] * np.cumsum(steps, axis=1)[:, x - 1]
    r = draws["r_g"][:, level, :]  # draws x rows x terms
    slope = draws["bsp_mox"][:, None] + r[:, :, 1]
    return draws["b_Intercept"][:, None] + r[:, :, 0] + slope * mo


def test_group_level_mo_recovers_its_sd_under_brms_names(grouped):
    out, _ = grouped
    draws = _group_draws(out)
    for name, truth in (("sd_g__mox", SD_MO), ("bsp_mox", BSP)):
        low, high = np.quantile(draws[name], [0.05, 0.95])
        assert low < truth < high, (name, low, high)
    simplexes = pd.read_csv(out / "simplexes.csv").set_index("param")
    np.testing.assert_allclose(simplexes["Estimate"], SIMPLEX, atol=0.06)
    with xr.open_dataset(out / "draws.nc", group="posterior", engine="h5netcdf") as post:
        assert {"sd_g__Intercept", "sd_g__mox", "cor_g__Intercept__mox"} <= set(post.data_vars)
    text = (out / "summary.txt").read_text()
    assert "\nsd(mox) " in text and "\ncor(Intercept,mox) " in text
    varcorr = pd.read_csv(out / "varcorr.csv")
    assert {"sd(Intercept)", "sd(mox)", "cor(Intercept,mox)"} <= set(varcorr["param"])
    ranef = pd.read_csv(out / "ranef.csv")
    assert set(ranef["term"]) == {"Intercept", "mox"} and len(ranef) == 2 * GROUPS
    # coef: each level's own mean step, bsp + r[level, mox]
    coef = pd.read_csv(out / "coef.csv").set_index(["level", "term"])
    level = draws["levels"][0]
    own = draws["bsp_mox"] + draws["r_g"][:, 0, 1]
    assert coef.loc[(level, "mox"), "Estimate"] == pytest.approx(own.mean(), rel=1e-4)


def test_group_level_mo_program_has_no_z_column(grouped):
    out, _ = grouped
    code = (out / "model.stan").read_text()
    assert "mu[n] += (bsp[1] + r_1[J_1[n], 2]) * mo(simo_1, Xmo_1[n]);" in code
    standata = json.loads((out / "standata.json").read_text())
    assert standata["M_1"] == 2
    assert np.shape(standata["Z_1"]) == (GROUP_ROWS, 1)  # the intercept's only
    design = json.loads((out / "design.json").read_text())
    assert design["groups"][0]["blocks"][0]["monotonic"] == ["mox"]


def test_group_level_mo_log_lik_is_the_program_s_and_the_definition(grouped):
    from mixfit.analysis.predict import log_lik

    out, data = grouped
    mine = log_lik(out, data, allow_new_levels=False, sample_new_levels="uncertainty", seed=0)
    with xr.open_dataset(out / "draws.nc", group="log_likelihood", engine="h5netcdf") as saved:
        stored = next(iter(saved.data_vars.values())).values.reshape(-1, GROUP_ROWS)
    np.testing.assert_allclose(mine, stored, rtol=1e-8, atol=1e-10)
    draws = _group_draws(out)
    level = np.array([draws["levels"].index(g) for g in data["g"]])
    mu = _group_mu(draws, data["x"].to_numpy(), level)
    definition = stats.norm.logpdf(data["y"].to_numpy(), mu, draws["sigma"][:, None])
    np.testing.assert_allclose(mine, definition, rtol=1e-8, atol=1e-10)


def test_group_level_mo_predicts_known_and_new_levels(grouped):
    out, _ = grouped
    draws = _group_draws(out)
    known = draws["levels"][:2]
    rows = pd.DataFrame(
        {"x": [1, 4, 2, 4, 4], "g": [known[0], known[0], known[1], known[1], "new"]}
    )
    pred = _predict(out, rows, "--allow-new-levels")
    level = np.array([draws["levels"].index(g) for g in rows["g"][:4]])
    mean = _group_mu(draws, rows["x"][:4].to_numpy(), level).mean(axis=0)
    np.testing.assert_allclose(pred["Estimate"][:4], mean, rtol=1e-5)
    # a new level's effects are an existing level's, drawn anew per draw: wider than a known one's
    assert pred["Est.Error"][4] > 2 * pred["Est.Error"][3]
    (out.parent / "new.csv").write_text("x,g\n5,s0\n")
    done = mixfit("predict", out, "new.csv", cwd=out.parent)
    assert done.returncode == 2 and "outside the fitted range 1..4" in done.stderr


def test_group_level_mo_loo_and_effects(grouped):
    out, _ = grouped
    done = mixfit("loo", out, cwd=out.parent)
    assert done.returncode == 0, done.stderr
    assert any(x.startswith("elpd_loo") for x in done.stdout.splitlines())
    done = mixfit("effects", out, "--effect", "x", "-o", "fx.csv", cwd=out.parent)
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out.parent / "fx.csv")
    assert list(table["x"]) == [1, 2, 3, 4]
    draws = _group_draws(out)
    steps = np.concatenate([np.zeros((len(draws["bsp_mox"]), 1)), draws["simo_mox1"]], axis=1)
    mo = 3 * np.cumsum(steps, axis=1)
    median = np.median(draws["b_Intercept"][:, None] + draws["bsp_mox"][:, None] * mo, axis=0)
    np.testing.assert_allclose(table["estimate__"], median, rtol=1e-5)  # brms: re_formula NA


def test_group_level_mo_as_chain_jobs_then_combined(tmp_path):
    """(0 + mo(x) || g) alone, with z beside it, run as chain jobs and combined."""
    data, r = _grouped(11)
    data["z"] = np.random.default_rng(2).normal(size=len(data))
    data.to_csv(tmp_path / "sim.csv", index=False)
    spec = {
        "data": "sim.csv",
        "formula": "y ~ z + mo(x) + (1 | g) + (0 + mo(x) | g)",
        "backend": "stanli",
        "sampler": {"chains": 2, "iter": 400, "seed": 5},
    }
    out = fit_as_chain_jobs(spec, tmp_path)
    code = (out / "model.stan").read_text()
    assert "mu[n] += (bsp[1] + r_2[J_2[n], 1]) * mo(simo_1, Xmo_1[n]);" in code
    with xr.open_dataset(out / "draws.nc", group="posterior", engine="h5netcdf") as post:
        assert post.sizes["chain"] == 2 and "sd_g__mox" in post.data_vars
        sd = post["sd_g__mox"].values.ravel()
    realised = r[:, 1].std(ddof=1)  # 10 levels: their own SD, 0.65 here, not SD_MO's 0.5
    assert np.quantile(sd, 0.05) < realised < np.quantile(sd, 0.95)
    pred = _predict(out, pd.DataFrame({"x": [1, 4], "z": [0.0, 0.0], "g": ["s0", "s0"]}))
    assert pred["Estimate"][1] > pred["Estimate"][0]


def test_group_level_mo_reduce_sum_has_the_same_log_density(tmp_path):
    stanli = pytest.importorskip("stanli")
    from mixfit.pipeline import prepare
    from mixfit.spec import build_spec

    data, _ = _grouped(4)
    data["z"] = np.random.default_rng(4).normal(size=len(data))
    data.to_csv(tmp_path / "data.csv", index=False)

    def prepared(threads: int):
        spec = {"data": tmp_path / "data.csv", "formula": ["y ~ z + mo(x) + (1 + z + mo(x) | g)"]}
        return prepare(build_spec({}, spec | {"sampler": {"threads_per_chain": threads}}))

    plain, threaded = prepared(1), prepared(3)
    assert "(bsp[1] + r_1[J_1[start + n - 1], 3])" in threaded.code
    threaded.data["grainsize"] = max(1, threaded.data["N"] // 7)
    one = stanli.Model(stan_code=plain.code, data=plain.data, seed=1)
    many = stanli.Model(stan_code=threaded.code, data=threaded.data, seed=1, threads_per_chain=3)
    q = np.random.default_rng(1).normal(scale=0.5, size=one.n_unconstrained)
    (a, grad_a), (b, grad_b) = one.log_prob_grad(q), many.log_prob_grad(q)
    assert b == pytest.approx(a, rel=1e-12)
    np.testing.assert_allclose(grad_b, grad_a, rtol=1e-10, atol=1e-10)


def test_group_level_mo_in_python_predictions_is_predict_s(tmp_path):
    """A family whose log_lik stanli leaves to Python (mixfit/results/family_predictions.py):
    the mo() terms' share, population and group-level, is the one predict's log_lik gives."""
    from mixfit.analysis.predict import log_lik

    rng = np.random.default_rng(3)
    n, g, x = 300, rng.integers(0, 8, 300), rng.integers(0, 4, 300)
    rate = np.exp(0.2 + (0.4 + rng.normal(0, 0.3, 8)[g]) * np.array([0, 0.5, 2, 3])[x] / 3)
    y = np.where(rng.random(n) < 0.2, 0, rng.poisson(rate))
    data = pd.DataFrame({"y": y, "x": x, "g": [f"s{k}" for k in g]})
    data.to_csv(tmp_path / "zip.csv", index=False)
    done = mixfit(
        "fit", "zip.csv", "-f", "y ~ mo(x) + (mo(x) | g)", "--family", "zero_inflated_poisson",
        "-o", "out", "--chains", "2", "--iter", "300", "--seed", "1", "--quiet", "--no-plots",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    mine = log_lik(out, data, allow_new_levels=False, sample_new_levels="uncertainty", seed=0)
    with xr.open_dataset(out / "draws.nc", group="log_likelihood", engine="h5netcdf") as saved:
        stored = next(iter(saved.data_vars.values())).values.reshape(-1, n)
    np.testing.assert_allclose(stored, mine, rtol=1e-8, atol=1e-10)


# --- mo() of an ordered text column (issue 24): --levels "dose=none,low,mid,high" --------------

LEVELS = ["none", "low", "mid", "high"]  # "high" in no row: D = 2, brms's Jmo = max(Xmo)
STEPS = np.array([0.0, 0.6, 1.0])  # the effect at none, low, mid


def _ordered_data(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 240
    code, z = rng.integers(0, 3, n), rng.normal(size=n)
    y = INTERCEPT + STEPS[code] + SLOPE * z + rng.normal(0, SIGMA, n)
    return pd.DataFrame({"y": y, "dose": np.array(LEVELS)[code], "code": code, "z": z})


@pytest.fixture(scope="module")
def ordered(tmp_path_factory):
    """The same data fitted twice with the same seed: mo(dose) of the text ordered by --levels,
    and mo(code) of its positions 0..2 as whole numbers."""
    folder = tmp_path_factory.mktemp("mo_text")
    data = _ordered_data(7)
    return (*_fit_text_and_code(folder, data, "y ~ z + mo(dose)"), data)


def _fit_text_and_code(folder: Path, data: pd.DataFrame, formula: str) -> tuple[Path, Path]:
    """``formula`` (of dose, ordered by --levels) and the same with its positions ``code`` as
    whole numbers, fitted with the same seed: their results folders."""
    data.to_csv(folder / "data.csv", index=False)
    levels = ["--levels", "dose=" + ",".join(LEVELS)]
    for name, text, extra in (
        ("text", formula, levels),
        ("code", formula.replace("dose", "code"), []),
    ):
        done = mixfit("fit", "data.csv", "-f", text, "-o", name, *extra, *QUICK, cwd=folder)
        assert done.returncode == 0, done.stderr
    return folder / "text", folder / "code"


def _posterior(out: Path) -> dict[str, np.ndarray]:
    with xr.open_dataset(out / "draws.nc", group="posterior", engine="h5netcdf") as post:
        return {name: post[name].values for name in post.data_vars}


def test_ordered_text_is_the_whole_number_coding(ordered):
    """brms's as.numeric(x) - 1: the Stan data are those of the positions 0..D, so the same
    seed gives the same draws, exactly, under the text column's names."""
    text, code, data = ordered
    standata = json.loads((text / "standata.json").read_text())
    assert standata == json.loads((code / "standata.json").read_text())
    assert standata["Jmo"] == [2] and standata["Xmo_1"] == list(data["code"])
    program = (code / "model.stan").read_text().replace("mo(code)", "mo(dose)")  # a comment's
    assert (text / "model.stan").read_text() == program
    mine, theirs = _posterior(text), _posterior(code)
    assert set(mine) == {n.replace("mocode", "modose") for n in theirs}
    for name, values in theirs.items():
        np.testing.assert_array_equal(mine[name.replace("mocode", "modose")], values)
    fixef = pd.read_csv(text / "fixef.csv").set_index("term")
    assert list(fixef.index) == ["Intercept", "z", "modose"]
    simplexes = pd.read_csv(text / "simplexes.csv")
    assert list(simplexes["param"]) == ["modose1[1]", "modose1[2]"]  # two steps: "high" unused
    np.testing.assert_allclose(simplexes["Estimate"], [0.6, 0.4], atol=0.1)
    design = json.loads((text / "design.json").read_text())
    entry = design["population"]["monotonic"][0]
    assert (entry["levels"], entry["min"], entry["steps"]) == (LEVELS, 0, 2)
    assert design["variables"]["dose"] == {"type": "categorical", "levels": LEVELS[:3]}


def test_predict_codes_new_text_rows_by_the_levels(ordered):
    text, code, _ = ordered
    rows = pd.DataFrame({"dose": ["mid", "none", "low", "mid"], "z": [0.0, 0.0, 1.0, -1.0]})
    by_text = _predict(text, rows)
    positions = rows.assign(code=rows["dose"].map(LEVELS.index)).drop(columns="dose")
    by_code = _predict(code, positions)
    np.testing.assert_array_equal(by_text["Estimate"], by_code["Estimate"])
    assert list(by_text["dose"]) == list(rows["dose"])
    truth = INTERCEPT + STEPS[positions["code"]] + SLOPE * rows["z"]
    assert np.max(np.abs(by_text["Estimate"] - truth)) < 0.2
    for bad, message in (
        ("medium", "'dose' of mo(dose): 'medium' is not among its levels none, low, mid, high"),
        ("high", "'dose' = 'high' is above 'mid', the highest level of the fitted data"),
        ("2", "'2' is not among its levels"),
        ("", "column 'dose' of bad.csv has no value in row 1"),
    ):
        (text.parent / "bad.csv").write_text(f"dose,z\n{bad},0\n")
        done = mixfit("predict", text, "bad.csv", cwd=text.parent)
        assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
        assert message in done.stderr


def test_effects_over_the_level_names(ordered):
    """brms's conditional_effects of an ordered factor: its levels (up to the fitted data's
    highest) by name; held elsewhere at its first level."""
    text, code, _ = ordered
    tables = {}
    for out, effect in ((text, "dose"), (code, "code")):
        done = mixfit("effects", out, "--effect", effect, "-o", f"fx_{effect}.csv", cwd=out.parent)
        assert done.returncode == 0, done.stderr
        tables[effect] = pd.read_csv(out.parent / f"fx_{effect}.csv")
    assert list(tables["dose"]["dose"]) == LEVELS[:3]
    assert list(tables["code"]["code"]) == [0, 1, 2]
    columns = ["estimate__", "lower__", "upper__"]
    np.testing.assert_array_equal(tables["dose"][columns], tables["code"][columns])
    done = mixfit("effects", text, "--effect", "z", "--by", "dose", "-o", "by.csv", cwd=text.parent)
    assert done.returncode == 0, done.stderr
    assert list(pd.read_csv(text.parent / "by.csv")["dose"].unique()) == LEVELS[:3]


def test_tampered_ordered_levels_are_one_error(ordered, tmp_path):
    text, _, _ = ordered
    for tamper, phrase in (
        (lambda d: d["variables"]["dose"].update(levels=["low", "none", "mid"]), "its column's"),
        (lambda d: d["population"]["monotonic"][0].update(levels=["a", "b"]), "more steps"),
        (lambda d: d["population"]["monotonic"][0].update(min=1), "more steps than levels"),
        (lambda d: d["population"]["monotonic"][0].update(levels=["a", "a", "b"]), "levels"),
    ):
        copy = tmp_path / "out"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(text, copy)
        design = json.loads((copy / "design.json").read_text())
        tamper(design)
        (copy / "design.json").write_text(json.dumps(design))
        (tmp_path / "new.csv").write_text("dose,z\nlow,0\n")
        done = mixfit("predict", copy, "new.csv", cwd=tmp_path)
        assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
        assert "design.json" in done.stderr and phrase in done.stderr


def test_numbers_ordered_by_levels_and_the_yaml_mapping(tmp_path):
    """--levels orders a numeric column too (brms's ordered factor of numbers: positions, not
    x - min); YAML's levels mapping does what the flags do, the response's under its name."""
    from mixfit.pipeline import prepare
    from mixfit.spec import build_spec, load_spec_file

    pd.DataFrame(
        {"y": ["a", "b", "c", "b", "a", "c"], "dose": [10, 20, 50, 20, 10.0, 50], "w": range(6)}
    ).to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "spec.yaml").write_text(
        "data: data.csv\nformula: y ~ mo(dose) + mo(w)\nfamily: cumulative\n"
        "levels: {dose: [5, 10, 20, 50], y: 'c, b, a'}\n"
    )
    spec = build_spec(load_spec_file(tmp_path / "spec.yaml"), {})
    prepared = prepare(spec)
    assert prepared.data["Xmo_1"].tolist() == [1, 2, 3, 2, 1, 3]  # 10 is the second level
    assert prepared.data["Jmo"].tolist() == [3, 5]  # w: whole numbers less their minimum
    assert prepared.data["Y"].tolist() == [3, 2, 1, 2, 3, 1]  # the response's order, c first
    flags = {"column_levels": (("dose", ("10", "20", "50")),)}  # a flag replaces the file's
    assert prepare(build_spec(load_spec_file(tmp_path / "spec.yaml"), flags)).data[
        "Xmo_1"
    ].tolist() == [0, 1, 2, 1, 0, 2]


def test_group_level_mo_of_ordered_text_is_its_whole_number_coding(tmp_path):
    """(mo(dose) | g) of the text column ordered by --levels: the draws of its positions' fit,
    and new rows' text (a known and a new level) coded by the levels in the group-level part."""
    data = _ordered_data(11)
    data["g"] = [f"g{k}" for k in np.random.default_rng(12).integers(0, 6, len(data))]
    text, code = _fit_text_and_code(tmp_path, data, "y ~ z + mo(dose) + (mo(dose) | g)")
    mine, theirs = _posterior(text), _posterior(code)
    np.testing.assert_array_equal(mine["sd_g__modose"], theirs["sd_g__mocode"])
    rows = pd.DataFrame({"dose": ["mid", "low"], "z": [0.0, 1.0], "g": ["g1", "new"]})
    positions = rows.assign(code=rows["dose"].map(LEVELS.index)).drop(columns="dose")
    seeded = ["--allow-new-levels", "--seed", "3"]
    by_text = _predict(text, rows, *seeded)
    by_code = _predict(code, positions, *seeded)
    np.testing.assert_array_equal(by_text["Estimate"], by_code["Estimate"])

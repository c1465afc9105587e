"""brms 2.18's categorical family: recovery on simulated 3-category data with a group-level
intercept, the saved log_lik against the definition (log softmax of [0, mu2, mu3]), predict, loo,
effects, no R2 (brms's bayes_R2 refuses it), a per-category formula, whole-number categories,
--levels, and a chain-array run (with an ID joining the categories' intercepts) combined.

One fit (2 chains x 400) is shared by the module; the chain-array run and the per-category
formula take a few seconds each."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import fit_as_chain_jobs, mixfit
from scipy import special

from mixfit.analysis.predict import log_lik

QUICK = ["--chains", "2", "--iter", "400", "--seed", "3", "--quiet", "--no-plots"]
CATEGORIES = ["no", "perhaps", "yes"]
# the truth: mu_perhaps = 0.3 + 1.2 x + u_g, mu_yes = -0.5 - 1.0 x (no is the reference)
TRUE = {"muperhaps_Intercept": 0.3, "muyes_Intercept": -0.5, "muperhaps_x": 1.2, "muyes_x": -1.0}


def simulate(n: int = 300, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    g = rng.integers(0, 12, n)
    u = rng.normal(0, 0.8, 12)
    eta = np.column_stack([np.zeros(n), 0.3 + 1.2 * x + u[g], -0.5 - 1.0 * x])
    p = special.softmax(eta, axis=1)
    y = [CATEGORIES[rng.choice(3, p=row)] for row in p]
    return pd.DataFrame({"y": y, "x": x, "g": [f"g{k}" for k in g]})


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("categorical")
    data = simulate()
    data.to_csv(folder / "sim.csv", index=False)
    done = mixfit(
        "fit", "sim.csv", "-f", "y ~ x + (1 | g)", "--family", "categorical", "-o", "out",
        *QUICK, cwd=folder,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return folder, folder / "out", data


def _stored_log_lik(out) -> np.ndarray:
    with xr.open_dataset(out / "draws.nc", group="log_likelihood", engine="h5netcdf") as saved:
        name = next(iter(saved.data_vars))
        return saved[name].values.reshape(-1, saved.sizes["obs"])


def _posterior(out) -> xr.Dataset:
    with xr.open_dataset(out / "draws.nc", group="posterior", engine="h5netcdf") as saved:
        return saved.load()


def test_brms_names_and_recovery(fitted):
    _, out, _ = fitted
    fixef = pd.read_csv(out / "fixef.csv").set_index("term")
    assert list(fixef.index) == list(TRUE)  # intercepts first, then the slopes, as brms
    for term, value in TRUE.items():
        low, high = fixef.loc[term, "Q2.5"], fixef.loc[term, "Q97.5"]
        assert low - 0.1 < value < high + 0.1, (term, low, high)
    varcorr = pd.read_csv(out / "varcorr.csv")
    assert {"sd(muperhaps_Intercept)", "sd(muyes_Intercept)"} <= set(varcorr["param"])
    posterior = _posterior(out)
    for name in ["b_muperhaps_Intercept", "b_muyes_x", "sd_g__muperhaps_Intercept"]:
        assert name in posterior
    assert posterior["r_g__muperhaps"].shape[2:] == (12, 1)
    assert "b_Intercept" not in posterior and "b_x" not in posterior  # no mu
    summary = (out / "summary.txt").read_text()
    assert "muperhaps_x" in summary and "Family: categorical" in summary
    assert "Bayesian R2" not in summary
    assert "Links: muperhaps = logit; muyes = logit" in summary
    assert "Levels: no (reference), perhaps, yes" in summary


def test_defaults_and_program(fitted):
    _, out, _ = fitted
    prior = pd.read_csv(out / "prior.csv").fillna("")
    intercepts = prior[(prior["class"] == "Intercept") & (prior["dpar"] != "")]
    assert set(intercepts["dpar"]) == {"muperhaps", "muyes"}
    assert set(intercepts["prior"]) == {"student_t(3, 0, 2.5)"}
    code = (out / "model.stan").read_text()
    assert "categorical_logit_lpmf(Y[n] | [0, muperhaps[n], muyes[n]]')" in code
    assert json.loads((out / "standata.json").read_text())["ncat"] == 3
    design = json.loads((out / "design.json").read_text())
    assert design["response"]["categories"] == CATEGORIES
    assert list(design["dpars"]) == ["muperhaps", "muyes"]


def test_log_lik_is_the_definition(fitted):
    """Stan's log_lik is log softmax([0, mu_perhaps, mu_yes])[y], recomputed from the draws."""
    _, out, data = fitted
    post = _posterior(out)

    def flat(name):
        values = post[name].values
        return values.reshape(-1, *values.shape[2:])

    levels = sorted(data["g"].unique())
    j = np.searchsorted(levels, data["g"])
    x = data["x"].to_numpy()
    etas = [np.zeros((flat("b_muyes_x").shape[0], len(x)))]
    for cat in ["muperhaps", "muyes"]:
        eta = flat(f"b_{cat}_Intercept")[:, None] + flat(f"b_{cat}_x")[:, None] * x
        etas.append(eta + flat(f"r_g__{cat}")[:, j, 0])  # (1 | g) feeds every category
    log_p = special.log_softmax(np.stack(etas, axis=-1), axis=-1)
    y = np.searchsorted(CATEGORIES, data["y"])
    expected = np.take_along_axis(log_p, np.broadcast_to(y, log_p.shape[:2])[..., None], -1)[..., 0]
    stored = _stored_log_lik(out)
    assert np.allclose(stored, expected, rtol=1e-6, atol=1e-8)
    # and numpy's log_lik of the same rows as new data (predict's path) equals Stan's
    mine = log_lik(out, data, allow_new_levels=False, sample_new_levels="uncertainty", seed=0)
    assert np.allclose(mine, stored, rtol=1e-8, atol=1e-10)


def test_predict_gives_each_category(fitted):
    folder, out, data = fitted
    data.head(20).to_csv(folder / "new.csv", index=False)
    done = mixfit("predict", out, "new.csv", "-o", "p.csv", "--seed", "1", cwd=folder)
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(folder / "p.csv")
    estimates = table[[f"Estimate.P(Y = {c})" for c in CATEGORIES]].to_numpy()
    assert np.allclose(estimates.sum(axis=1), 1.0)
    # a row far along x leans to perhaps (slope +1.2) against yes (-1.0)
    top = data.head(20)["x"].idxmax()
    assert estimates[top, 1] > estimates[top, 2]
    done = mixfit(
        "predict", out, "new.csv", "--type", "prediction", "-o", "q.csv", "--seed", "1",
        "--draws", "q.nc", cwd=folder,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    shares = pd.read_csv(folder / "q.csv")[[f"P(Y = {c})" for c in CATEGORIES]].to_numpy()
    assert np.allclose(shares.sum(axis=1), 1.0)
    assert np.abs(shares - estimates).max() < 0.15
    with xr.open_dataset(folder / "q.nc", engine="h5netcdf") as drawn:
        values = drawn["prediction"].values
    assert set(np.unique(values)) <= {1, 2, 3}
    done = mixfit("predict", out, "new.csv", "--dpar", "muyes", "-o", "d.csv", cwd=folder)
    assert done.returncode == 0, done.stderr
    linear = pd.read_csv(folder / "d.csv")["Estimate"].to_numpy()
    assert np.corrcoef(linear, data.head(20)["x"])[0, 1] < -0.9  # muyes falls with x
    done = mixfit("predict", out, "new.csv", "--type", "linpred", cwd=folder)
    assert done.returncode == 2 and "--dpar" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_loo_effects_and_no_r2(fitted):
    folder, out, _ = fitted
    done = mixfit("loo", out, "--json", cwd=folder)
    assert done.returncode == 0, done.stderr
    elpd = json.loads(done.stdout)["loo"]["out"]["elpd_loo"]["Estimate"]
    assert -300 * np.log(3) < elpd < 0  # better than guessing among three categories
    done = mixfit("effects", out, "--effect", "x", cwd=folder)
    assert done.returncode == 0, done.stderr
    from io import StringIO

    table = pd.read_csv(StringIO(done.stdout))
    assert list(table["cats__"].unique()) == CATEGORIES
    by_point = table.groupby("x")["estimate__"].sum()
    assert np.allclose(by_point, 1.0, atol=0.1)  # medians of probabilities that sum to 1
    perhaps = table[table["cats__"] == "perhaps"]
    assert perhaps["estimate__"].iloc[-1] > perhaps["estimate__"].iloc[0]
    done = mixfit("effects", out, "--effect", "x", "-o", "e.png", cwd=folder)
    assert done.returncode == 0 and (folder / "e.png").stat().st_size > 0
    done = mixfit("r2", out, cwd=folder)
    assert done.returncode == 2 and "not defined for family categorical" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_category_formula_and_whole_numbers(tmp_path):
    """``muyes ~ 1`` beside the main formula: muyes has no x; numbers 2, 5, 7 as categories,
    reference 2 (R's factor levels, sorted by value)."""
    data = simulate(200, seed=4)
    data["y"] = data["y"].map({"no": 2, "perhaps": 5, "yes": 7})
    data.to_csv(tmp_path / "sim.csv", index=False)
    done = mixfit(
        "fit", "sim.csv", "-f", "y ~ x", "-f", "mu7 ~ 1", "--family", "categorical", "-o", "out",
        *QUICK, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    fixef = pd.read_csv(tmp_path / "out" / "fixef.csv").set_index("term")
    assert list(fixef.index) == ["mu5_Intercept", "mu7_Intercept", "mu5_x"]


def test_levels_order_the_reference(tmp_path):
    """--levels yes,no,perhaps: yes is the reference, the predictors muno and muperhaps."""
    data = simulate(150, seed=8)
    data.to_csv(tmp_path / "sim.csv", index=False)
    done = mixfit(
        "fit", "sim.csv", "-f", "y ~ x", "--family", "categorical", "--levels", "yes,no,perhaps",
        "-o", "out", *QUICK, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    fixef = pd.read_csv(tmp_path / "out" / "fixef.csv").set_index("term")
    assert list(fixef.index)[:2] == ["muno_Intercept", "muperhaps_Intercept"]
    # against yes, both no and perhaps rise with x
    assert fixef.loc["muno_x", "Estimate"] > 0 and fixef.loc["muperhaps_x", "Estimate"] > 0


def test_chain_array_run_combines(tmp_path):
    data = simulate(200, seed=5)
    data.to_csv(tmp_path / "sim.csv", index=False)
    spec = {
        "data": "sim.csv",
        "formula": "y ~ x + (1 | p | g)",  # the ID joins the categories' intercepts
        "family": "categorical",
        "backend": "stanli",
        "sampler": {"chains": 2, "iter": 300, "seed": 5},
    }
    out = fit_as_chain_jobs(spec, tmp_path)
    fixef = pd.read_csv(out / "fixef.csv").set_index("term")
    assert {"muperhaps_x", "muyes_x"} <= set(fixef.index)
    assert "cor_g__muperhaps_Intercept__muyes_Intercept" in _posterior(out)
    assert _stored_log_lik(out).shape == (300, 200)
    mine = log_lik(out, data, allow_new_levels=False, sample_new_levels="uncertainty", seed=0)
    assert np.allclose(mine, _stored_log_lik(out), rtol=1e-8, atol=1e-10)

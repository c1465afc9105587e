"""The survival and hurdle families of issue 23: weibull and exponential (with cens()), and
hurdle_poisson (with ``hu ~ x``), against brms 2.18's fits and on simulated data.

Measured on the 2-core machine: the module about 53 s; kidney and Salamanders with brms's
settings (4 x 2000) about 6 and 7 s each to fit, their checks (loo, predict, effects) 7-8 s; the
small fits (2 x 400) 2-4 s each; the chain shards and combine about 8 s.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, fit_as_chain_jobs, mixfit, read_json

from mixfit.analysis.predict import log_lik

KIDNEY = ROOT / "tests" / "data" / "kidney.csv"
KIDNEY_REFERENCE = ROOT / "tests" / "reference" / "kidney_weibull.json"
QUICK = ["--chains", "2", "--iter", "400", "--seed", "1", "--quiet", "--no-plots"]


def _stored_log_lik(out) -> np.ndarray:
    import xarray as xr

    with xr.open_dataset(out / "draws.nc", group="log_likelihood", engine="h5netcdf") as saved:
        name = next(iter(saved.data_vars))
        return saved[name].values.reshape(-1, saved.sizes["obs"])


def _numpy_log_lik(out, rows: pd.DataFrame) -> np.ndarray:
    return log_lik(out, rows, allow_new_levels=False, sample_new_levels="uncertainty", seed=0)


def _agrees(out, brms: dict) -> None:
    """Population-level effects within 0.3 posterior SD of brms's, SDs and family parameters
    within 15%."""
    fixef = pd.read_csv(out / "fixef.csv").set_index("term")
    for reference in brms["fixed"]:
        term = reference["_row"]
        gap = abs(fixef.loc[term, "Estimate"] - reference["Estimate"])
        assert gap < 0.3 * reference["Est.Error"], (term, fixef.loc[term, "Estimate"], reference)
    varcorr = pd.read_csv(out / "varcorr.csv").set_index("param")
    references = [r for rows in brms["random"].values() for r in rows] + brms["spec_pars"]
    for reference in references:
        ours = varcorr.loc[reference["_row"], "Estimate"]
        assert abs(ours / reference["Estimate"] - 1) < 0.15, (reference["_row"], ours, reference)


# --- weibull: brms's kidney, time | cens(censored) ~ age + sex + disease + (1 | patient) --------


@pytest.fixture(scope="module")
def kidney(tmp_path_factory):
    """mixfit's fit with brms's settings (4 x 2000, default priors)."""
    work = tmp_path_factory.mktemp("kidney")
    done = mixfit(
        "fit", KIDNEY, "-f", "time | cens(censored) ~ age + sex + disease + (1 | patient)",
        "--family", "weibull", "-o", "out", "--seed", "1", "--no-plots", cwd=work,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return work / "out", done


def test_kidney_agrees_with_brms(kidney):
    out, done = kidney
    brms = read_json(KIDNEY_REFERENCE)["brms"]
    _agrees(out, brms)
    assert "Family Specific Parameters:" in done.stdout
    assert any(line.split()[:1] == ["shape"] for line in done.stdout.splitlines())


def test_kidney_has_brms_likelihood_and_priors(kidney):
    out, _ = kidney
    code = (out / "model.stan").read_text()
    scale = "exp(mu[n]) / tgamma(1 + 1 / shape)"
    for kind in ("lpdf", "lccdf", "lcdf"):
        assert f"target += weibull_{kind}(Y[n] | shape, {scale});" in code
    priors = pd.read_csv(out / "prior.csv").fillna("")
    shape = priors[priors["class"] == "shape"]["prior"].tolist()
    intercept = priors[priors["class"] == "Intercept"]["prior"].tolist()
    assert shape == ["gamma(0.01, 0.01)"] and intercept == ["student_t(3, 3.7, 2.5)"]


def test_kidney_log_lik_loo_and_predictions(kidney, tmp_path):
    """numpy's censored log_lik is the program's; loo is brms's; epred near brms's."""
    out, _ = kidney
    brms = read_json(KIDNEY_REFERENCE)["brms"]
    rows = pd.read_csv(KIDNEY)
    assert set(rows["censored"]) == {0, 1}
    assert np.allclose(_numpy_log_lik(out, rows), _stored_log_lik(out), rtol=1e-8, atol=1e-10)
    loo = mixfit("loo", out, cwd=tmp_path)
    assert loo.returncode == 0, loo.stderr
    elpd = float(next(li for li in loo.stdout.splitlines() if li.startswith("elpd_loo")).split()[1])
    assert abs(elpd - brms["elpd_loo"][0]) < 0.5 * brms["elpd_loo"][1]
    epred = mixfit("predict", out, KIDNEY, "-o", tmp_path / "epred.csv", cwd=tmp_path)
    assert epred.returncode == 0, epred.stderr
    table = pd.read_csv(tmp_path / "epred.csv")
    for row, reference in zip(table.itertuples(), brms["epred_first10"]):
        assert abs(row.Estimate - reference["Estimate"]) < 0.3 * reference["Est.Error"]
    drawn = mixfit(
        "predict", out, KIDNEY, "--type", "prediction", "-o", tmp_path / "y.csv", cwd=tmp_path
    )
    assert drawn.returncode == 0, drawn.stderr
    y = pd.read_csv(tmp_path / "y.csv")
    assert (y["Q2.5"] > 0).all() and np.allclose(y["Estimate"], table["Estimate"], rtol=0.35)
    effects = mixfit("effects", out, "--effect", "sex", "-o", tmp_path / "e.csv", cwd=tmp_path)
    assert effects.returncode == 0, effects.stderr
    r2 = mixfit("r2", out, cwd=tmp_path)
    assert r2.returncode == 0, r2.stderr


# --- exponential and weibull's shape formula, on simulated data --------------------------------


def _survival_data(seed: int, weibull_shape) -> pd.DataFrame:
    """Times with mean exp(1 + 0.5 x) (exponential: weibull_shape None), right-censored at 6."""
    from scipy import special

    rng = np.random.default_rng(seed)
    n = 300
    x = rng.normal(size=n)
    z = rng.integers(0, 2, n)
    mean = np.exp(1 + 0.5 * x)
    if weibull_shape is None:
        time = rng.exponential(mean)
    else:
        shape = weibull_shape(z)
        time = mean / special.gamma(1 + 1 / shape) * rng.weibull(shape)
    censored = (time > 6).astype(int)
    return pd.DataFrame({"time": np.minimum(time, 6), "censored": censored, "x": x, "z": z})


@pytest.fixture(scope="module")
def exponential(tmp_path_factory):
    work = tmp_path_factory.mktemp("exponential")
    data = _survival_data(3, None).assign(w=lambda d: 1.0 + d["z"])
    data.to_csv(work / "data.csv", index=False)
    done = mixfit(
        "fit", work / "data.csv", "-f", "time | cens(censored) + weights(w) ~ x",
        "--family", "exponential", "-o", "out", *QUICK, cwd=work,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return work / "out", data


def test_exponential_agrees_with_its_likelihood_and_log_lik_is_stan_s(exponential, tmp_path):
    """The posterior mean is near the weighted, censored maximum-likelihood fit (scipy's), the
    prior on b being flat; log_lik (Stan's) is numpy's, times the weights."""
    from scipy import optimize

    out, data = exponential
    y, right, x, w = (data[c].to_numpy() for c in ("time", "censored", "x", "w"))

    def deviance(b):
        rate = np.exp(-(b[0] + b[1] * x))
        return -np.sum(w * np.where(right == 1, -rate * y, np.log(rate) - rate * y))

    mle = optimize.minimize(deviance, [0.0, 0.0]).x
    fixef = pd.read_csv(out / "fixef.csv").set_index("term")
    for term, best in zip(["Intercept", "x"], mle):
        assert abs(fixef.loc[term, "Estimate"] - best) < 0.5 * fixef.loc[term, "Est.Error"]
    code = (out / "model.stan").read_text()
    assert "target += weights[n] * exponential_lccdf(Y[n] | exp(-mu[n]));" in code
    assert "shape" not in code
    assert data["censored"].sum() > 10
    stored = _stored_log_lik(out)
    assert np.allclose(_numpy_log_lik(out, data), stored, rtol=1e-8, atol=1e-10)
    unweighted = _numpy_log_lik(out, data.assign(w=1.0))
    assert np.allclose(stored, unweighted * data["w"].to_numpy(), rtol=1e-8)
    for command in (["loo", out], ["effects", out, "--effect", "x"], ["r2", out]):
        done = mixfit(*command, cwd=tmp_path)
        assert done.returncode == 0, done.stderr


def test_weibull_shape_formula_recovers_both_shapes(tmp_path):
    data = _survival_data(4, lambda z: np.where(z == 1, 3.0, 1.0))
    data.to_csv(tmp_path / "data.csv", index=False)
    done = mixfit(
        "fit", tmp_path / "data.csv", "-f", "time | cens(censored) ~ x", "-f", "shape ~ z",
        "--family", "weibull", "-o", "out", *QUICK, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    fixef = pd.read_csv(tmp_path / "out" / "fixef.csv").set_index("term")
    for term, true in [("Intercept", 1.0), ("x", 0.5), ("shape_Intercept", 0.0)]:
        assert abs(fixef.loc[term, "Estimate"] - true) < 3 * fixef.loc[term, "Est.Error"], term
    assert abs(fixef.loc["shape_z", "Estimate"] - np.log(3)) < 3 * fixef.loc["shape_z", "Est.Error"]
    stored = _stored_log_lik(tmp_path / "out")
    assert np.allclose(_numpy_log_lik(tmp_path / "out", data), stored, rtol=1e-8, atol=1e-10)


# --- hurdle_poisson: glmmTMB's Salamanders, bf(count ~ spp + mined + (1 | site), hu ~ mined) ----

SALAMANDERS = ROOT / "tests" / "data" / "Salamanders.csv"
SALAMANDERS_REFERENCE = ROOT / "tests" / "reference" / "salamanders_hurdle.json"


@pytest.fixture(scope="module")
def salamanders(tmp_path_factory):
    """mixfit's fit with brms's settings (4 x 2000, default priors)."""
    work = tmp_path_factory.mktemp("salamanders")
    done = mixfit(
        "fit", SALAMANDERS, "-f", "count ~ spp + mined + (1 | site)", "-f", "hu ~ mined",
        "--family", "hurdle_poisson", "-o", "out", "--seed", "1", "--no-plots", cwd=work,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return work / "out", done


def test_salamanders_agrees_with_brms(salamanders):
    out, _ = salamanders
    brms = read_json(SALAMANDERS_REFERENCE)["brms"]
    assert {"hu_Intercept", "hu_minedyes"} <= {r["_row"] for r in brms["fixed"]}
    _agrees(out, brms)


def test_salamanders_has_brms_likelihood_and_priors(salamanders):
    out, _ = salamanders
    code = (out / "model.stan").read_text()
    assert "target += sum(log(hu[idx_zero])) + sum(log1m(hu[idx_pos]));" in code
    assert "poisson_log_lpmf(Y[idx_pos] | mu[idx_pos]) - sum(log1m_exp(-exp(mu[idx_pos])))" in code
    priors = pd.read_csv(out / "prior.csv").fillna("")
    intercepts = priors[priors["class"] == "Intercept"].set_index("dpar")["prior"]
    assert intercepts.to_dict() == {"": "student_t(3, -2.3, 2.5)", "hu": "logistic(0, 1)"}


def test_salamanders_log_lik_loo_and_predictions(salamanders, tmp_path):
    """The saved log_lik (numpy's, on stanli) is predict's; loo and epred are brms's; a new
    response is 0 about as often as the data."""
    out, _ = salamanders
    brms = read_json(SALAMANDERS_REFERENCE)["brms"]
    rows = pd.read_csv(SALAMANDERS)
    stored = _stored_log_lik(out)
    assert np.allclose(_numpy_log_lik(out, rows), stored, rtol=1e-8, atol=1e-10)
    loo = mixfit("loo", out, cwd=tmp_path)
    assert loo.returncode == 0, loo.stderr
    elpd = float(next(li for li in loo.stdout.splitlines() if li.startswith("elpd_loo")).split()[1])
    assert abs(elpd - brms["elpd_loo"][0]) < 0.5 * brms["elpd_loo"][1]
    epred = mixfit("predict", out, SALAMANDERS, "-o", tmp_path / "epred.csv", cwd=tmp_path)
    assert epred.returncode == 0, epred.stderr
    table = pd.read_csv(tmp_path / "epred.csv")
    for row, reference in zip(table.itertuples(), brms["epred_first10"]):
        assert abs(row.Estimate - reference["Estimate"]) < 0.3 * reference["Est.Error"]
    draws = tmp_path / "y.nc"
    drawn = mixfit(
        "predict", out, SALAMANDERS, "--type", "prediction", "-o", tmp_path / "y.csv",
        "--draws", draws, cwd=tmp_path,
    )  # fmt: skip
    assert drawn.returncode == 0, drawn.stderr
    import xarray as xr

    with xr.open_dataset(draws, engine="h5netcdf") as saved:
        y_new = saved["prediction"].values
    assert abs((y_new == 0).mean() - (rows["count"] == 0).mean()) < 0.03
    assert abs(y_new.mean() - rows["count"].mean()) < 0.1 * rows["count"].mean()
    effects = mixfit("effects", out, "--effect", "mined", "-o", tmp_path / "e.csv", cwd=tmp_path)
    assert effects.returncode == 0, effects.stderr
    hu = mixfit(
        "effects", out, "--effect", "mined", "--dpar", "hu", "-o", tmp_path / "hu.csv", cwd=tmp_path
    )
    assert hu.returncode == 0, hu.stderr
    hu = pd.read_csv(tmp_path / "hu.csv").set_index("mined")["estimate__"]
    assert abs(hu["no"] - 0.38) < 0.03 and abs(hu["yes"] - 0.84) < 0.03  # inv_logit of brms's


def test_hurdle_poisson_without_hu_formula_recovers_hu(tmp_path):
    """hu without a formula is one probability (beta(1, 1)); weighted rows count as repeated."""
    rng = np.random.default_rng(8)
    n = 300
    x = rng.normal(size=n)
    lam = np.exp(0.8 + 0.4 * x)
    counts = rng.poisson(lam)
    while (counts == 0).any():  # the poisson truncated at 0
        counts = np.where(counts == 0, rng.poisson(lam), counts)
    count = np.where(rng.random(n) < 0.3, 0, counts)
    data = pd.DataFrame({"count": count, "x": x, "w": 1.0})
    data.to_csv(tmp_path / "data.csv", index=False)
    done = mixfit(
        "fit", tmp_path / "data.csv", "-f", "count | weights(w) ~ x", "--family", "hurdle_poisson",
        "-o", "out", *QUICK, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    fixef = pd.read_csv(out / "fixef.csv").set_index("term")
    for term, true in [("Intercept", 0.8), ("x", 0.4)]:
        assert abs(fixef.loc[term, "Estimate"] - true) < 3 * fixef.loc[term, "Est.Error"], term
    hu = pd.read_csv(out / "varcorr.csv").set_index("param").loc["hu"]
    assert abs(hu["Estimate"] - 0.3) < 3 * hu["Est.Error"]
    priors = pd.read_csv(out / "prior.csv").set_index("class")
    assert priors.loc["hu", "prior"] == "beta(1, 1)"
    assert np.allclose(_numpy_log_lik(out, data), _stored_log_lik(out), rtol=1e-8, atol=1e-10)


def test_truncated_draws_are_the_counts_above_0():
    """Poisson and negative binomial, rows x draws at once; small means, where zeros are drawn again and again, included."""
    from scipy import stats

    from mixfit.analysis.likelihoods import truncated_negbinomial, truncated_poisson

    rng = np.random.default_rng(2)
    mu = np.broadcast_to(np.array([[0.001], [0.5], [4.0]]), (3, 100_000))
    y = truncated_poisson(mu, rng)
    assert y.shape == mu.shape and y.min() == 1
    for row, m in zip(y, mu[:, 0]):
        assert abs(row.mean() - m / -np.expm1(-m)) < 0.02
        assert abs((row == 1).mean() - stats.poisson.pmf(1, m) / -np.expm1(-m)) < 0.01
    shape = np.array([[0.5], [2.0], [10.0]])
    y = truncated_negbinomial(mu, shape, rng)
    assert y.shape == mu.shape and y.min() == 1
    for row, m, k in zip(y, mu[:, 0], shape[:, 0]):
        above = 1 - stats.nbinom.pmf(0, k, k / (k + m))
        assert abs(row.mean() - m / above) < 0.05 * m / above
        assert abs((row == 1).mean() - stats.nbinom.pmf(1, k, k / (k + m)) / above) < 0.01


@pytest.mark.parametrize("family", ["hurdle_poisson", "hurdle_negbinomial"])
def test_hurdle_stan_generated_quantities_are_numpy_s(tmp_path, family):
    """PyStan and CmdStan run the template's own log_lik and y_rep (stanli leaves them to numpy):
    run here on stanli's interpreter, they equal numpy's and y_rep has hu's zeros."""
    import stanli

    from mixfit.model.program import stan_data
    from mixfit.pipeline import prepare
    from mixfit.results.family_predictions import FAMILIES
    from mixfit.spec import RunSpec

    rng = np.random.default_rng(8)
    n = 80
    x = rng.normal(size=n)
    y = np.where(rng.random(n) < 0.3, 0, rng.poisson(np.exp(0.8 + 0.4 * x)) + 1)
    pd.DataFrame({"y": y, "x": x}).to_csv(tmp_path / "data.csv", index=False)
    spec = RunSpec(data=tmp_path / "data.csv", formula=("y ~ x", "hu ~ x"), family=family)
    prepared = prepare(spec)
    assert not prepared.model.python_predictions and "log_lik[n] = Y[n] == 0" in prepared.code
    data = {
        k: v.tolist() if hasattr(v, "tolist") else v for k, v in stan_data(prepared.model).items()
    }
    fit = stanli.Model(stan_code=prepared.code, data=data, seed=1).sample(
        chains=1, warmup=150, samples=30, seed=1, refresh=0
    )
    names = ("b", "b_Intercept", "b_hu", "b_hu_Intercept", "shape")
    draws = {k: np.asarray(fit[k]) for k in names if k in fit.variables}
    eta = draws["b_Intercept"][:, None] + draws["b"] @ x[None, :]
    hu = 1 / (1 + np.exp(-(draws["b_hu_Intercept"][:, None] + draws["b_hu"] @ x[None, :])))
    params = {"hu": hu} | ({"shape": draws["shape"][:, None]} if "shape" in draws else {})
    assert ("shape" in params) == (family == "hurdle_negbinomial")
    ours, _ = FAMILIES[family].compute(y, eta, params, "log", rng)
    assert np.allclose(ours, np.asarray(fit["log_lik"]), rtol=1e-10, atol=1e-12)
    y_rep = np.asarray(fit["y_rep"])
    assert 0.15 < (y_rep == 0).mean() < 0.45 and y_rep.min() == 0


def test_hurdle_negbinomial_recovers_its_parameters(tmp_path):
    """hu ~ x on the logit scale, the counts' mean and shape, from simulated data; numpy's
    truncated negative binomial draws have the data's share of zeros."""
    from scipy import special

    rng = np.random.default_rng(11)
    n = 500
    x = rng.normal(size=n)
    mean, shape = np.exp(1.0 + 0.5 * x), 2.0
    counts = rng.poisson(rng.gamma(shape, mean / shape))
    while (counts == 0).any():  # the negative binomial truncated at 0
        again = rng.poisson(rng.gamma(shape, mean / shape))
        counts = np.where(counts == 0, again, counts)
    count = np.where(rng.random(n) < special.expit(-0.5 + 1.0 * x), 0, counts)
    data = pd.DataFrame({"count": count, "x": x})
    data.to_csv(tmp_path / "data.csv", index=False)
    done = mixfit(
        "fit", tmp_path / "data.csv", "-f", "count ~ x", "-f", "hu ~ x",
        "--family", "hurdle_negbinomial", "-o", "out", *QUICK, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    fixef = pd.read_csv(out / "fixef.csv").set_index("term")
    truth = {"Intercept": 1.0, "x": 0.5, "hu_Intercept": -0.5, "hu_x": 1.0}
    for term, true in truth.items():
        assert abs(fixef.loc[term, "Estimate"] - true) < 3 * fixef.loc[term, "Est.Error"], term
    found = pd.read_csv(out / "varcorr.csv").set_index("param").loc["shape"]
    assert abs(found["Estimate"] - shape) < 3 * found["Est.Error"]
    assert np.allclose(_numpy_log_lik(out, data), _stored_log_lik(out), rtol=1e-8, atol=1e-10)
    draws = tmp_path / "y.nc"
    drawn = mixfit("predict", out, tmp_path / "data.csv", "--type", "prediction", "--draws", draws,
                   "-o", tmp_path / "y.csv", cwd=tmp_path)  # fmt: skip
    assert drawn.returncode == 0, drawn.stderr
    import xarray as xr

    with xr.open_dataset(draws, engine="h5netcdf") as saved:
        y_new = saved["prediction"].values
    assert abs((y_new == 0).mean() - (count == 0).mean()) < 0.03


def test_hurdle_chains_as_jobs_and_combine(tmp_path):
    """Chain shards of a hurdle model with a group-level term in hu (its log_lik and y_rep from
    numpy in each shard) combine into one fit that reads back (predict's loader)."""
    rng = np.random.default_rng(6)
    n = 200
    g = rng.integers(0, 5, n)
    x = rng.normal(size=n)
    hu = 1 / (1 + np.exp(-(-0.3 + 0.5 * x + rng.normal(0, 0.5, 5)[g])))
    counts = rng.poisson(np.exp(1.0 + 0.3 * x)) + 1
    data = pd.DataFrame({"y": np.where(rng.random(n) < hu, 0, counts), "x": x, "g": g})
    data.to_csv(tmp_path / "sim.csv", index=False)
    spec = {
        "data": "sim.csv",
        "formula": ["y ~ x", "hu ~ x + (1 | g)"],
        "family": "hurdle_poisson",
        "backend": "stanli",
        "sampler": {"chains": 2, "iter": 300, "seed": 5},
    }
    out = fit_as_chain_jobs(spec, tmp_path)
    fixef = pd.read_csv(out / "fixef.csv").set_index("term")
    assert {"hu_Intercept", "hu_x"} <= set(fixef.index)
    assert "sd(hu_Intercept)" in set(pd.read_csv(out / "varcorr.csv")["param"])
    assert _stored_log_lik(out).shape == (300, n)
    assert np.allclose(_numpy_log_lik(out, data), _stored_log_lik(out), rtol=1e-8, atol=1e-10)

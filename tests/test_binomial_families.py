"""The binomial families of issue 23, as brms 2.18 has them: zero_inflated_binomial (a structural
zero with probability zi, else binomial(trials, mu)) and beta_binomial (beta_binomial(trials,
mu * phi, (1 - mu) * phi): over-dispersed successes), each fitted to simulated data with a
group-level intercept and its parameters recovered; the saved log_lik against each family's
definition written here with scipy; predict, loo, effects and R2 of the fits; a chain-array run.

Measured on the 2-core machine (shared with other work): each fit (2 x 400, 300 rows) 13-20 s,
the checks of predict, loo, effects and R2 30-40 s for each family (a process per command), the
chain shards and combine about 55 s; the whole module under 3 minutes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import fit_as_chain_jobs, mixfit
from scipy import special, stats

from mixfit.analysis.likelihoods import INVERSE_LINKS
from mixfit.analysis.predict import log_lik

QUICK = [
    "--chains",
    "2",
    "--iter",
    "500",
    "--seed",
    "1",
    "--quiet",
    "--no-plots",
    "--backend",
    "stanli",
]
ROWS, LEVELS, SD = 300, 12, 0.5


def _data(seed: int) -> pd.DataFrame:
    """Rows with a predictor x, a 0/1 predictor z, a group g and between 5 and 30 trials."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(size=ROWS),
            "z": rng.integers(0, 2, ROWS),
            "g": rng.integers(0, LEVELS, ROWS),
            "n": rng.integers(5, 31, ROWS),
        }
    )


def _eta(data: pd.DataFrame, intercept: float, slope: float, seed: int) -> np.ndarray:
    effects = np.random.default_rng(seed).normal(0, SD, LEVELS)
    return intercept + slope * data["x"].to_numpy() + effects[data["g"].to_numpy()]


def _stored_log_lik(out) -> np.ndarray:
    import xarray as xr

    with xr.open_dataset(out / "draws.nc", group="log_likelihood", engine="h5netcdf") as saved:
        name = next(iter(saved.data_vars))
        return saved[name].values.reshape(-1, saved.sizes["obs"])


def _posterior(out) -> dict[str, np.ndarray]:
    """Each saved draw by name, and ``levels``: group g's level of each column of r_g."""
    import xarray as xr

    with xr.open_dataset(out / "draws.nc", group="posterior", engine="h5netcdf") as saved:
        draws = {name: saved[name].values for name in saved.data_vars}
        if "r_g" in saved:
            draws["levels"] = [str(v) for v in saved["r_g"].coords["g"].values]
        return draws


def _draws_eta(out, data: pd.DataFrame, dpar: str = "") -> np.ndarray:
    """Draws x rows: the linear predictor (of ``dpar``'s formula if given) from the saved draws,
    worked out here from the population- and group-level draws."""
    post = _posterior(out)
    prefix = f"b_{dpar}_" if dpar else "b_"
    eta = post[f"{prefix}Intercept"].reshape(-1, 1)
    for column in ("x", "z"):
        if f"{prefix}{column}" in post:
            eta = eta + post[f"{prefix}{column}"].reshape(-1, 1) * data[column].to_numpy()
    if not dpar:
        r = post["r_g"][..., 0].reshape(-1, LEVELS)
        column = {level: j for j, level in enumerate(post["levels"])}
        eta = eta + r[:, [column[str(level)] for level in data["g"]]]
    return eta


def _numpy_log_lik(out, rows: pd.DataFrame) -> np.ndarray:
    return log_lik(out, rows, allow_new_levels=False, sample_new_levels="uncertainty", seed=0)


def _recovered(out, truth: dict[str, float], spread: float = 3.0) -> None:
    """Each posterior mean within ``spread`` posterior SDs of the value the data came from."""
    table = pd.concat(
        [
            pd.read_csv(out / "fixef.csv").set_index("term")[["Estimate", "Est.Error"]],
            pd.read_csv(out / "varcorr.csv").set_index("param")[["Estimate", "Est.Error"]],
        ]
    )
    for name, true in truth.items():
        found = table.loc[name]
        assert abs(found["Estimate"] - true) < spread * found["Est.Error"], (name, found, true)


def _ok(*args, cwd) -> None:
    done = mixfit(*args, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return done


# --- zero_inflated_binomial: zi one probability (beta(1, 1)) ------------------------------------

ZIB_TRUTH = {"Intercept": -0.3, "x": 0.6, "zi": 0.25, "sd(Intercept)": SD}


@pytest.fixture(scope="module")
def zib(tmp_path_factory):
    work = tmp_path_factory.mktemp("zib")
    data = _data(1)
    p = special.expit(_eta(data, ZIB_TRUTH["Intercept"], ZIB_TRUTH["x"], 2))
    rng = np.random.default_rng(3)
    structural = rng.random(ROWS) < ZIB_TRUTH["zi"]
    data["k"] = np.where(structural, 0, rng.binomial(data["n"], p))
    data.to_csv(work / "data.csv", index=False)
    _ok(
        "fit", work / "data.csv", "-f", "k | trials(n) ~ x + (1 | g)",
        "--family", "zero_inflated_binomial", "-o", "out", *QUICK, cwd=work,
    )  # fmt: skip
    return work / "out", data


def test_zero_inflated_binomial_recovers_its_parameters(zib):
    out, _ = zib
    names = pd.read_csv(out / "varcorr.csv")["param"].tolist()
    _recovered(out, ZIB_TRUTH)
    assert names == ["sd(Intercept)", "zi"]
    priors = pd.read_csv(out / "prior.csv").fillna("").set_index("class")
    assert priors.loc["zi", "prior"] == "beta(1, 1)"
    assert priors.loc["Intercept", "prior"] == "student_t(3, 0, 2.5)"
    code = (out / "model.stan").read_text()
    assert "binomial_logit_lpmf(Y[idx_pos] | trials[idx_pos], mu[idx_pos])" in code
    assert "array[N] int<lower=0> trials;" in code


def test_zero_inflated_binomial_log_lik_is_its_definition(zib):
    """brms's zero_inflated_binomial_lpmf written with scipy, from the draws; predict's numpy
    log_lik the same."""
    out, data = zib
    p = special.expit(_draws_eta(out, data))
    zi = _posterior(out)["zi"].reshape(-1, 1)
    k, n = data["k"].to_numpy(), data["n"].to_numpy()
    binomial = stats.binom.logpmf(k, n, p)
    definition = np.where(
        k == 0, np.log(zi + (1 - zi) * np.exp(binomial)), np.log(1 - zi) + binomial
    )
    stored = _stored_log_lik(out)
    assert np.allclose(stored, definition, rtol=1e-7, atol=1e-9)
    assert np.allclose(_numpy_log_lik(out, data), stored, rtol=1e-8, atol=1e-10)


def test_zero_inflated_binomial_predict_loo_effects_r2(zib, tmp_path):
    """epred is brms's trials mu (1 - zi); predictions have the data's share of zeros."""
    out, data = zib
    _ok("predict", out, out.parent / "data.csv", "-o", tmp_path / "epred.csv", cwd=tmp_path)
    epred = pd.read_csv(tmp_path / "epred.csv")["Estimate"].to_numpy()
    p = special.expit(_draws_eta(out, data))
    zi = _posterior(out)["zi"].reshape(-1, 1)
    assert np.allclose(
        epred, (data["n"].to_numpy() * p * (1 - zi)).mean(axis=0), rtol=1e-5
    )  # 6 digits in the csv
    draws = tmp_path / "y.nc"
    _ok(
        "predict", out, out.parent / "data.csv", "--type", "prediction", "--draws", draws,
        "-o", tmp_path / "y.csv", cwd=tmp_path,
    )  # fmt: skip
    import xarray as xr

    with xr.open_dataset(draws, engine="h5netcdf") as saved:
        y_new = saved["prediction"].values
    assert (y_new <= data["n"].to_numpy()).all() and y_new.min() == 0
    assert abs((y_new == 0).mean() - (data["k"] == 0).mean()) < 0.03
    loo = _ok("loo", out, cwd=tmp_path)
    assert "elpd_loo" in loo.stdout
    _ok("effects", out, "--effect", "x", "-o", tmp_path / "e.csv", cwd=tmp_path)
    effects = pd.read_csv(tmp_path / "e.csv")
    assert effects["estimate__"].is_monotonic_increasing  # trials 1: (1 - zi) mu, mu rising in x
    assert effects["estimate__"].max() < 1 - 0.15
    r2 = _ok("r2", out, cwd=tmp_path)
    assert "R2" in r2.stdout


@pytest.mark.parametrize("link", ["logit", "probit", "cloglog"])
def test_zero_inflated_binomial_stan_generated_quantities_are_numpy_s(tmp_path, link):
    """PyStan and CmdStan run the template's own log_lik and y_rep (stanli leaves them to numpy):
    run here on stanli's interpreter with zi ~ x and each link, they equal numpy's."""
    import stanli

    from mixfit.model.program import stan_data
    from mixfit.pipeline import prepare
    from mixfit.results.family_predictions import FAMILIES
    from mixfit.spec import RunSpec

    rng = np.random.default_rng(8)
    n = 80
    x, trials = rng.normal(size=n), rng.integers(1, 12, n)
    p = INVERSE_LINKS[link](-0.5 + 0.4 * x)
    y = np.where(rng.random(n) < 0.3, 0, rng.binomial(trials, p))
    pd.DataFrame({"y": y, "n": trials, "x": x}).to_csv(tmp_path / "data.csv", index=False)
    spec = RunSpec(
        data=tmp_path / "data.csv",
        formula=("y | trials(n) ~ x", "zi ~ x"),
        family=f"zero_inflated_binomial(link={link})",
    )
    prepared = prepare(spec)
    assert not prepared.model.python_predictions and "binomial_rng(trials[n]" in prepared.code
    data = {
        k: v.tolist() if hasattr(v, "tolist") else v for k, v in stan_data(prepared.model).items()
    }
    fit = stanli.Model(stan_code=prepared.code, data=data, seed=1).sample(
        chains=1, warmup=150, samples=30, seed=1, refresh=0
    )
    draws = {k: np.asarray(fit[k]) for k in ("b", "b_Intercept", "b_zi", "b_zi_Intercept")}
    eta = draws["b_Intercept"][:, None] + draws["b"] @ x[None, :]
    zi = special.expit(draws["b_zi_Intercept"][:, None] + draws["b_zi"] @ x[None, :])
    ours, _ = FAMILIES["zero_inflated_binomial"].compute(
        y, eta, {"zi": zi, "trials": trials}, link, rng
    )
    assert np.allclose(ours, np.asarray(fit["log_lik"]), rtol=1e-10, atol=1e-12)
    y_rep = np.asarray(fit["y_rep"])
    assert (y_rep <= trials).all() and 0.3 < (y_rep == 0).mean() < 0.7


def test_zero_inflated_binomial_log_lik_in_the_tails():
    """Where the success probability rounds to 1 (probit, eta 10) every trial a success has
    log(1 - zi), and a zero log(zi + (1 - zi) Phi(-10)^trials) with Phi(-10) kept (7.6e-24,
    which 1 - Phi(10) rounds to 0), as the template's log(Phi(-mu)); predict's, from the
    probability alone, is finite there."""
    from mixfit.analysis.likelihoods import LIKELIHOODS
    from mixfit.results.family_predictions import FAMILIES

    y, trials = np.array([4, 0, 0]), np.array([4, 4, 1])
    eta, zi = np.full((2, 3), 10.0), np.full((2, 1), 1e-30)
    ours, _ = FAMILIES["zero_inflated_binomial"].compute(
        y, eta, {"zi": zi, "trials": trials}, "probit", np.random.default_rng(1)
    )
    tail = stats.norm.logcdf(-10.0)
    expected = [0.0, np.logaddexp(np.log(1e-30), 4 * tail), np.logaddexp(np.log(1e-30), tail)]
    assert np.allclose(ours, expected, rtol=1e-12, atol=1e-14)
    assert abs(ours[0, 2] - tail) < 1e-5  # the binomial's zero, not zi's
    mu = special.ndtr(eta).T
    theirs = LIKELIHOODS["zero_inflated_binomial"].log_lik(
        y[:, None], mu, {"zi": zi.T}, trials[:, None]
    )
    assert np.isfinite(theirs).all() and np.allclose(theirs[:2], ours.T[:2], rtol=1e-12)


# --- beta_binomial: phi ~ z, over-dispersed successes -------------------------------------------

BB_TRUTH = {"Intercept": 0.2, "x": 0.5, "phi_Intercept": np.log(3.0), "phi_z": np.log(20 / 3)}


@pytest.fixture(scope="module")
def bb(tmp_path_factory):
    """phi 3 where z is 0 (each row's success probability spread widely about mu), 20 where 1."""
    work = tmp_path_factory.mktemp("bb")
    data = _data(4)
    mu = special.expit(_eta(data, BB_TRUTH["Intercept"], BB_TRUTH["x"], 5))
    phi = np.exp(BB_TRUTH["phi_Intercept"] + BB_TRUTH["phi_z"] * data["z"].to_numpy())
    rng = np.random.default_rng(6)
    data["k"] = rng.binomial(data["n"], rng.beta(mu * phi, (1 - mu) * phi))
    data.to_csv(work / "data.csv", index=False)
    _ok(
        "fit", work / "data.csv", "-f", "k | trials(n) ~ x + (1 | g)", "-f", "phi ~ z",
        "--family", "beta_binomial", "-o", "out", *QUICK, cwd=work,
    )  # fmt: skip
    return work / "out", data, mu


def test_beta_binomial_data_are_over_dispersed(bb):
    """Where z is 0 the successes vary about twice as much as binomial ones would (the beta's
    factor 1 + (n - 1) / (phi + 1)): a binomial model would not do."""
    _, data, mu = bb
    n, k = data["n"].to_numpy(), data["k"].to_numpy()
    wide = data["z"].to_numpy() == 0
    ratio = np.sum((k - n * mu)[wide] ** 2) / np.sum((n * mu * (1 - mu))[wide])
    assert ratio > 3


def test_beta_binomial_recovers_its_parameters(bb):
    out, _, _ = bb
    _recovered(out, BB_TRUTH | {"sd(Intercept)": SD})
    priors = pd.read_csv(out / "prior.csv").fillna("")
    intercepts = priors[priors["class"] == "Intercept"].set_index("dpar")["prior"].to_dict()
    assert intercepts == {"": "student_t(3, 0, 2.5)", "phi": "student_t(3, 0, 2.5)"}
    code = (out / "model.stan").read_text()
    assert (
        "beta_binomial_lpmf(Y | trials, phi .* inv_logit(mu), phi .* (1 - inv_logit(mu)))" in code
    )


def test_beta_binomial_log_lik_is_its_definition(bb):
    """Stan's beta_binomial_lpmf (stanli's, saved) is scipy's betabinom at the draws; predict's
    numpy log_lik the same."""
    out, data, _ = bb
    mu = special.expit(_draws_eta(out, data))
    phi = np.exp(_draws_eta(out, data, "phi"))
    k, n = data["k"].to_numpy(), data["n"].to_numpy()
    definition = stats.betabinom.logpmf(k, n, mu * phi, (1 - mu) * phi)
    stored = _stored_log_lik(out)
    assert np.allclose(stored, definition, rtol=1e-7, atol=1e-9)
    assert np.allclose(_numpy_log_lik(out, data), stored, rtol=1e-8, atol=1e-10)


def test_beta_binomial_predict_loo_effects_r2(bb, tmp_path):
    """epred is trials mu; the predictions spread as the beta-binomial's, wider than a binomial's
    where phi is small; loo's Pareto k and effects on mu and on phi."""
    out, data, _ = bb
    rows = out.parent / "data.csv"
    _ok("predict", out, rows, "-o", tmp_path / "epred.csv", cwd=tmp_path)
    epred = pd.read_csv(tmp_path / "epred.csv")["Estimate"].to_numpy()
    mu = special.expit(_draws_eta(out, data))
    n = data["n"].to_numpy()
    assert np.allclose(epred, (n * mu).mean(axis=0), rtol=1e-5)  # 6 digits in the csv
    draws = tmp_path / "y.nc"
    _ok("predict", out, rows, "--type", "prediction", "--draws", draws, "-o", tmp_path / "y.csv",
        cwd=tmp_path)  # fmt: skip
    import xarray as xr

    with xr.open_dataset(draws, engine="h5netcdf") as saved:
        y_new = saved["prediction"].values.reshape(-1, ROWS)
    assert (y_new <= n).all() and (y_new >= 0).all()
    phi = np.exp(_draws_eta(out, data, "phi"))
    spread = n * mu * (1 - mu) * (1 + (n - 1) / (phi + 1))  # the beta-binomial's variance
    wide = data["z"].to_numpy() == 0
    assert abs(y_new.var(axis=0)[wide].mean() / spread.mean(axis=0)[wide].mean() - 1) < 0.15
    binomial = (n * mu * (1 - mu)).mean(axis=0)
    assert y_new.var(axis=0)[wide].mean() > 2.5 * binomial[wide].mean()
    loo = _ok("loo", out, cwd=tmp_path)
    assert "elpd_loo" in loo.stdout
    _ok("effects", out, "--effect", "z", "--dpar", "phi", "-o", tmp_path / "phi.csv", cwd=tmp_path)
    phi_z = pd.read_csv(tmp_path / "phi.csv").set_index("z")["estimate__"]
    assert phi_z.iloc[0] < phi_z.iloc[-1]  # z = 0's precision below z = 1's
    _ok("effects", out, "--effect", "x", "-o", tmp_path / "e.csv", cwd=tmp_path)
    assert pd.read_csv(tmp_path / "e.csv")["estimate__"].is_monotonic_increasing
    r2 = _ok("r2", out, cwd=tmp_path)
    assert "R2" in r2.stdout


# --- chain-array run: beta_binomial with phi one precision -------------------------------------


def test_beta_binomial_chains_as_jobs_and_combine(tmp_path):
    """Chain shards of a beta_binomial model with phi alone (brms's gamma(0.01, 0.01)) combine
    into one fit that reads back, phi and mu's effects recovered."""
    data = _data(7)
    mu = special.expit(_eta(data, -0.4, 0.3, 8))
    rng = np.random.default_rng(9)
    data["k"] = rng.binomial(data["n"], rng.beta(mu * 5, (1 - mu) * 5))
    data.to_csv(tmp_path / "data.csv", index=False)
    spec = {
        "data": str(tmp_path / "data.csv"),
        "formula": "k | trials(n) ~ x + (1 | g)",
        "family": "beta_binomial",
        "backend": "stanli",
        "sampler": {"chains": 2, "iter": 400, "seed": 3},
    }
    out = fit_as_chain_jobs(spec, tmp_path)
    _recovered(out, {"Intercept": -0.4, "x": 0.3, "phi": 5.0, "sd(Intercept)": SD})
    priors = pd.read_csv(out / "prior.csv").fillna("").set_index("class")
    assert priors.loc["phi", "prior"] == "gamma(0.01, 0.01)"
    assert _stored_log_lik(out).shape == (2 * 200, ROWS)
    assert np.allclose(_numpy_log_lik(out, data), _stored_log_lik(out), rtol=1e-8, atol=1e-10)

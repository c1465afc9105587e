"""The continuous families of issue 23: frechet, skew_normal, shifted_lognormal and exgaussian, as
brms 2.18 has them, on simulated data: recovery with a group-level intercept, a formula for each
family's own parameter with cens(), log_lik (numpy's against the program's and against each
density's definition), predict, loo, effects, r2, and chain shards combined.

stanli has no frechet_rng, skew_normal_rng or exp_mod_normal_rng: there numpy computes those
families' log_lik and y_rep (mixfit/results/family_predictions.py); the program's own log_lik is
checked against numpy's by running it without its y_rep lines.

Measured on the shared 2-core machine under a load of 3 to 13 (so slower than alone): the module
about 8 minutes; each fit (2 x 400, 300 rows) 8-40 s, the CLI checks of one fit (predict, loo,
effects, r2) 30-50 s, exgaussian's censored fit with beta ~ z the slowest (about 85 s).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import fit_as_chain_jobs, mixfit
from scipy import integrate, special, stats

from mixfit.analysis.likelihoods import LIKELIHOODS, LOG_CDFS
from mixfit.analysis.predict import log_lik

FAMILIES = ["frechet", "skew_normal", "shifted_lognormal", "exgaussian"]
QUICK = ["--chains", "2", "--iter", "400", "--seed", "1", "--quiet", "--no-plots"]
N = 300
# the true values: mu's intercept and slope on x, the family's parameters, the group SD 0.3
TRUTH = {
    "frechet": {"Intercept": 1.0, "x": 0.5, "nu": 4.0},
    "skew_normal": {"Intercept": 2.0, "x": 1.0, "sigma": 1.5, "alpha": 4.0},
    "shifted_lognormal": {"Intercept": -0.5, "x": 0.4, "sigma": 0.4, "ndt": 0.3},
    "exgaussian": {"Intercept": 1.0, "x": 0.5, "sigma": 0.4, "beta": 0.8},
}
GROUP_SD = 0.3


def _skew_normal_xi_omega(mu, sigma, alpha):
    """brms's mean parameterisation, written out again: location and scale from mean and SD."""
    delta = alpha / np.sqrt(1 + alpha**2)
    omega = sigma / np.sqrt(1 - 2 / np.pi * delta**2)
    return mu - omega * delta * np.sqrt(2 / np.pi), omega


def draw(family: str, eta: np.ndarray, p: dict, rng: np.random.Generator) -> np.ndarray:
    """A response given the linear predictor and the family's parameters (arrays or numbers)."""
    n = len(eta)
    if family == "frechet":
        scale = np.exp(eta) / special.gamma(1 - 1 / p["nu"])
        return stats.invweibull.rvs(p["nu"], scale=scale, size=n, random_state=rng)
    if family == "skew_normal":
        xi, omega = _skew_normal_xi_omega(eta, p["sigma"], p["alpha"])
        return stats.skewnorm.rvs(p["alpha"], xi, omega, size=n, random_state=rng)
    if family == "shifted_lognormal":
        return p["ndt"] + rng.lognormal(eta, p["sigma"], n)
    return rng.normal(eta - p["beta"], p["sigma"], n) + rng.exponential(p["beta"], n)


def simulated(family: str, seed: int, n: int = N) -> pd.DataFrame:
    true = TRUTH[family]
    rng = np.random.default_rng(seed)
    x, g = rng.normal(size=n), rng.integers(0, 10, n)
    effects = rng.normal(0, GROUP_SD, 10)
    effects -= effects.mean()  # the intercept is then the data's, not the groups' draw's too
    eta = true["Intercept"] + true["x"] * x + effects[g]
    return pd.DataFrame({"y": draw(family, eta, true, rng), "x": x, "g": g})


def _stored_log_lik(out) -> np.ndarray:
    import xarray as xr

    with xr.open_dataset(out / "draws.nc", group="log_likelihood", engine="h5netcdf") as saved:
        name = next(iter(saved.data_vars))
        return saved[name].values.reshape(-1, saved.sizes["obs"])


def _numpy_log_lik(out, rows: pd.DataFrame) -> np.ndarray:
    return log_lik(out, rows, allow_new_levels=False, sample_new_levels="uncertainty", seed=0)


def _near(table: pd.DataFrame, truth: dict, sds: float = 3.0) -> None:
    for name, true in truth.items():
        row = table.loc[name]
        assert abs(row["Estimate"] - true) < sds * row["Est.Error"], (name, dict(row), true)


# --- recovery: y ~ x + (1 | g), the family's parameters without a formula ----------------------


@pytest.fixture(scope="module", params=FAMILIES)
def recovery(request, tmp_path_factory):
    family = request.param
    work = tmp_path_factory.mktemp(family)
    data = simulated(family, seed=FAMILIES.index(family) + 1)
    data.to_csv(work / "data.csv", index=False)
    done = mixfit(
        "fit", work / "data.csv", "-f", "y ~ x + (1 | g)", "--family", family, "-o", "out",
        *QUICK, cwd=work,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return family, work / "out", data


def test_recovers_the_known_parameters(recovery):
    family, out, _ = recovery
    true = TRUTH[family]
    fixef = pd.read_csv(out / "fixef.csv").set_index("term")
    _near(fixef, {"Intercept": true["Intercept"], "x": true["x"]})
    varcorr = pd.read_csv(out / "varcorr.csv").set_index("param")
    _near(varcorr, {k: v for k, v in true.items() if k not in {"Intercept", "x"}})
    _near(varcorr, {"sd(Intercept)": GROUP_SD})


def test_program_and_priors_are_brms(recovery):
    """The likelihood as brms 2.18 writes it, and its default priors (data-derived where brms's
    are: sigma's scale, mu's intercept, ndt's upper bound)."""
    family, out, data = recovery
    code = (out / "model.stan").read_text()
    likelihood = {
        "frechet": "target += frechet_lpdf(Y | nu, exp(mu) / tgamma(1 - 1 / nu));",
        "skew_normal": "target += skew_normal_lpdf(Y | xi, omega, alpha);",
        "shifted_lognormal": "target += lognormal_lpdf(Y - ndt | mu, sigma);",
        "exgaussian": "target += exp_mod_normal_lpdf(Y | mu - beta, sigma, inv(beta));",
    }[family]
    assert likelihood in code
    y = data["y"].to_numpy()
    on_link = np.log(y) if family in {"frechet", "shifted_lognormal"} else y
    scale = max(2.5, round(stats.median_abs_deviation(on_link, scale="normal"), 1))
    expected = {
        "Intercept": f"student_t(3, {round(np.median(on_link), 1):g}, {scale:g})",
        "nu": "gamma(2, 0.1)",
        "sigma": f"student_t(3, 0, {scale:g})",
        "alpha": "normal(0, 4)",
        "ndt": f"uniform(0, {y.min():g})",
        "beta": "gamma(1, 0.1)",
    }
    priors = pd.read_csv(out / "prior.csv").fillna("")
    priors = priors[priors["coef"] == ""].set_index("class")["prior"]
    for cls in ["Intercept", *TRUTH[family]]:
        if cls in expected:
            assert priors[cls] == expected[cls], (cls, priors[cls])
    if family == "shifted_lognormal":  # the bound is the data's, not a number in the program
        assert "real<lower=0, upper=min_Y> ndt;" in code and "real min_Y = min(Y);" in code


def test_log_lik_predict_loo_effects_and_r2(recovery, tmp_path):
    family, out, data = recovery
    assert np.allclose(_numpy_log_lik(out, data), _stored_log_lik(out), rtol=1e-8, atol=1e-10)
    data.to_csv(tmp_path / "rows.csv", index=False)
    epred = mixfit("predict", out, tmp_path / "rows.csv", "-o", tmp_path / "e.csv", cwd=tmp_path)
    assert epred.returncode == 0, epred.stderr
    drawn = mixfit(
        "predict", out, tmp_path / "rows.csv", "--type", "prediction", "-o", tmp_path / "y.csv",
        cwd=tmp_path,
    )  # fmt: skip
    assert drawn.returncode == 0, drawn.stderr
    epred, drawn = pd.read_csv(tmp_path / "e.csv"), pd.read_csv(tmp_path / "y.csv")
    y = data["y"]
    # brms's epred is the mean: near the data's, and the predictions' means near it
    assert abs(epred["Estimate"].mean() - y.mean()) < 0.1 * abs(y.mean()) + 0.05
    assert np.corrcoef(epred["Estimate"], y)[0, 1] > 0.5
    assert abs(drawn["Estimate"].mean() - epred["Estimate"].mean()) < 0.05 * abs(y.mean()) + 0.05
    if family == "shifted_lognormal":  # every prediction above the shift
        ndt = pd.read_csv(out / "varcorr.csv").set_index("param").loc["ndt", "Q2.5"]
        assert (drawn["Q2.5"] > ndt).all()
    elif family == "frechet":
        assert (drawn["Q2.5"] > 0).all()
    loo = mixfit("loo", out, cwd=tmp_path)
    assert loo.returncode == 0, loo.stderr
    elpd = float(next(li for li in loo.stdout.splitlines() if li.startswith("elpd_loo")).split()[1])
    stored = _stored_log_lik(out)
    lppd = np.sum(special.logsumexp(stored, axis=0) - np.log(len(stored)))
    assert lppd - 15 < elpd < lppd  # a handful of effective parameters
    effects = mixfit("effects", out, "--effect", "x", "-o", tmp_path / "fx.csv", cwd=tmp_path)
    assert effects.returncode == 0, effects.stderr
    curve = pd.read_csv(tmp_path / "fx.csv").sort_values("x")["estimate__"].to_numpy()
    assert (np.diff(curve) > 0).all()  # each family's mean rises with x
    r2 = mixfit("r2", out, cwd=tmp_path)
    assert r2.returncode == 0, r2.stderr


# --- a formula for the family's own parameter, with cens(): left, right and interval ----------

# the parameter's formula on z (a 0/1 column) and its true coefficients on its link's scale
PARAM_FORMULAS = {
    "frechet": ("nu ~ z", {"nu_Intercept": np.log(2.0), "nu_z": np.log(2.5)}),  # nu 3, then 6
    "skew_normal": ("alpha ~ z", {"alpha_Intercept": -3.0, "alpha_z": 6.0}),
    "shifted_lognormal": ("ndt ~ z", {"ndt_Intercept": -1.2, "ndt_z": 0.5}),
    "exgaussian": ("beta ~ z", {"beta_Intercept": -0.5, "beta_z": 0.7}),
}
INVERSE = {
    "frechet": lambda eta: 1 + np.exp(eta),
    "skew_normal": lambda eta: eta,
    "shifted_lognormal": np.exp,
    "exgaussian": np.exp,
}


def censored(family: str, seed: int, n: int) -> pd.DataFrame:
    """The parameter varying with z; the top 10% right-censored at their 90% quantile, the
    lowest 5% left-censored at their 5% quantile, 20 rows known only within an interval."""
    true = TRUTH[family]
    rng = np.random.default_rng(seed)
    x, z = rng.normal(size=n), rng.integers(0, 2, n)
    formula, coefs = PARAM_FORMULAS[family]
    name = formula.split()[0]
    eta_param = coefs[f"{name}_Intercept"] + coefs[f"{name}_z"] * z
    params = {**true, name: INVERSE[family](eta_param)}
    y = draw(family, true["Intercept"] + true["x"] * x, params, rng)
    high, low = np.quantile(y, [0.9, 0.05])
    c = np.where(y > high, 1, np.where(y < low, -1, 0))
    y_obs, y2 = np.clip(y, low, high), np.clip(y, low, high)
    inside = rng.choice(np.flatnonzero(c == 0), 20, replace=False)
    c[inside] = 2
    y_obs[inside], y2[inside] = y[inside] * 0.95, y[inside] * 1.1  # y > 0 in the positive ones
    if family in {"skew_normal", "exgaussian"}:
        y_obs[inside], y2[inside] = y[inside] - 0.3, y[inside] + 0.2
    return pd.DataFrame({"y": y_obs, "c": c, "y2": y2, "x": x, "z": z})


@pytest.mark.parametrize("family", FAMILIES)
def test_parameter_formula_with_censoring(family, tmp_path):
    data = censored(family, seed=10 + FAMILIES.index(family), n=200)  # rows enough to recover
    data.to_csv(tmp_path / "data.csv", index=False)
    formula, coefs = PARAM_FORMULAS[family]
    done = mixfit(
        "fit", tmp_path / "data.csv", "-f", "y | cens(c, y2) ~ x", "-f", formula,
        "--family", family, "-o", "out", *QUICK, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    fixef = pd.read_csv(out / "fixef.csv").set_index("term")
    _near(fixef, {"Intercept": TRUTH[family]["Intercept"], "x": TRUTH[family]["x"], **coefs})
    code = (out / "model.stan").read_text()
    assert "_lccdf(Y[n] |" in code and "log_diff_exp(" in code
    assert set(data["c"]) == {-1, 0, 1, 2}
    assert np.allclose(_numpy_log_lik(out, data), _stored_log_lik(out), rtol=1e-8, atol=1e-10)
    name = formula.split()[0]
    priors = pd.read_csv(out / "prior.csv").fillna("")
    intercept = priors[(priors["class"] == "Intercept") & (priors["dpar"] == name)]["prior"]
    brms = {"nu": "normal(2.7, 0.8)", "alpha": "normal(0, 4)", "ndt": "(flat)"}
    assert intercept.tolist() == [brms.get(name, "normal(1.7, 1.3)")]
    if family == "exgaussian":  # brms's posterior_epred(dpar = "beta"): the parameter itself
        effects = mixfit(
            "effects", out, "--effect", "z", "--dpar", "beta", "-o", tmp_path / "b.csv",
            cwd=tmp_path,
        )  # fmt: skip
        assert effects.returncode == 0, effects.stderr
        beta = pd.read_csv(tmp_path / "b.csv").sort_values("z")["estimate__"].to_numpy()
        assert abs(np.log(beta[-1] / beta[0]) - coefs["beta_z"]) < 0.35


# --- each density against its definition; Stan's log_lik against numpy's -------------------------


def _definition(family: str, y, mu, p):
    """Each density written from its formula (brms's parameterisations)."""
    if family == "frechet":
        nu = p["nu"]
        s = mu / special.gamma(1 - 1 / nu)
        return np.log(nu / s) - (1 + nu) * np.log(y / s) - (y / s) ** -nu
    if family == "skew_normal":
        xi, omega = _skew_normal_xi_omega(mu, p["sigma"], p["alpha"])
        z = (y - xi) / omega
        return np.log(2 / omega) + stats.norm.logpdf(z) + stats.norm.logcdf(p["alpha"] * z)
    if family == "shifted_lognormal":
        shifted = y - p["ndt"]
        return -np.log(shifted * p["sigma"] * np.sqrt(2 * np.pi)) - (
            (np.log(shifted) - mu) ** 2 / (2 * p["sigma"] ** 2)
        )
    lam, m, s = 1 / p["beta"], mu - p["beta"], p["sigma"]
    return (
        np.log(lam / 2)
        + lam / 2 * (2 * m + lam * s**2 - 2 * y)
        + np.log(special.erfc((m + lam * s**2 - y) / (np.sqrt(2) * s)))
    )


DENSITY_CASES = {
    "frechet": (2.0, {"nu": 3.5}, (0.0, np.inf)),
    "skew_normal": (1.0, {"sigma": 2.0, "alpha": -3.0}, (-np.inf, np.inf)),
    "shifted_lognormal": (0.2, {"sigma": 0.6, "ndt": 0.4}, (0.4, np.inf)),
    "exgaussian": (1.0, {"sigma": 0.5, "beta": 0.7}, (-np.inf, np.inf)),
}


@pytest.mark.parametrize("family", FAMILIES)
def test_density_is_its_definition_and_mean_is_brms_epred(family):
    mu, p, (low, high) = DENSITY_CASES[family]
    likelihood = LIKELIHOODS[family]
    y = np.array([0.5, 0.9, 1.7, 3.0])
    ours = likelihood.log_lik(y, mu, p, None)
    assert np.allclose(ours, _definition(family, y, mu, p), rtol=1e-9)

    def density(v):
        return float(np.exp(likelihood.log_lik(np.array(v), mu, p, None)))

    assert abs(integrate.quad(density, low, high)[0] - 1) < 1e-6
    mean = integrate.quad(lambda v: v * density(v), low, high)[0]
    assert abs(mean - likelihood.mean(np.array(mu), p, None)) < 1e-5
    below, above = LOG_CDFS[family](y, mu, p)
    for value, lcdf, lccdf in zip(y, below, above):
        assert abs(np.exp(lcdf) - integrate.quad(density, low, value)[0]) < 1e-6
        assert abs(np.exp(lccdf) - integrate.quad(density, value, high)[0]) < 1e-6
    rng = np.random.default_rng(5)
    draws = likelihood.draw(np.full(200_000, mu), p, None, rng)
    assert abs(draws.mean() - mean) < 5 * draws.std() / np.sqrt(draws.size)
    if family == "skew_normal":  # sigma is the SD in brms's parameterisation
        assert abs(draws.std() - p["sigma"]) < 0.02


@pytest.mark.parametrize("family", ["frechet", "skew_normal", "exgaussian"])
def test_stan_log_lik_is_numpy_s(family, tmp_path):
    """The program's own log_lik (what CmdStan and PyStan save; on stanli numpy's is saved), the
    parameter with a formula and censored rows included, run on stanli without its y_rep lines."""
    from mixfit.engines.stanli import StanliBackend
    from mixfit.pipeline import prepare
    from mixfit.results.family_predictions import complete, wanted
    from mixfit.spec import RunSpec, SamplerSettings

    data = censored(family, seed=3, n=80)
    data.to_csv(tmp_path / "data.csv", index=False)
    formula = ("y | cens(c, y2) ~ x", PARAM_FORMULAS[family][0])
    prepared = prepare(RunSpec(data=tmp_path / "data.csv", formula=formula, family=family))
    assert wanted(prepared.model) and "_rng(" in prepared.code
    code = "\n".join(line for line in prepared.code.splitlines() if "y_rep" not in line)
    backend = StanliBackend()
    compiled = backend.compile(code, prepared.data, 1, lambda *_: None)
    settings = SamplerSettings(chains=1, iter=200, seed=1)
    posterior = backend.sample(compiled, prepared.data, settings, lambda *_: None).posterior
    mine = complete(prepared.model, posterior, seed=1)
    np.testing.assert_allclose(mine["log_lik"], posterior["log_lik"], rtol=1e-8, atol=1e-10)
    assert np.isfinite(mine["y_rep"]).all()


# --- chain shards ---------------------------------------------------------------------------------


def test_chains_as_jobs_and_combine(tmp_path):
    """Chain shards of a frechet model with nu ~ z (numpy's log_lik and y_rep in each shard)
    combine into one fit that reads back."""
    data = simulated("frechet", seed=9, n=200).assign(z=lambda d: (d["x"] > 0).astype(int))
    data.to_csv(tmp_path / "sim.csv", index=False)
    spec = {
        "data": "sim.csv",
        "formula": ["y ~ x + (1 | g)", "nu ~ z"],
        "family": "frechet",
        "backend": "stanli",
        "sampler": {"chains": 2, "iter": 300, "seed": 5},
    }
    out = fit_as_chain_jobs(spec, tmp_path)
    fixef = pd.read_csv(out / "fixef.csv").set_index("term")
    assert {"Intercept", "x", "nu_Intercept", "nu_z"} <= set(fixef.index)
    stored = _stored_log_lik(out)
    assert stored.shape == (300, len(data))
    assert np.allclose(_numpy_log_lik(out, data), stored, rtol=1e-8, atol=1e-10)

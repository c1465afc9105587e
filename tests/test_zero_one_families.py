"""The continuous families with a point mass at 0 (or at 0 and 1) of issue 23: hurdle_gamma,
hurdle_lognormal, zero_inflated_beta and zero_one_inflated_beta, as brms 2.18's, on simulated
data with a group-level intercept: recovery of their parameters (a formula on hu and on zoi), the
saved log_lik against each family's definition written here with scipy, epred against brms's
posterior_epred formula, predict, loo, effects and a chain-array run combined.

Measured on the 2-core machine, loaded by other runs: the module about 3 minutes; each fit
(2 x 400, 300 rows) 13-15 s, its predict/loo and effects checks 4-10 s each, the chain shards
and combine about 50 s, the Stan generated quantities on stanli 3 s.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import fit_as_chain_jobs, mixfit
from scipy import special, stats

from mixfit.analysis.predict import log_lik, predict
from mixfit.analysis.saved_fit import load

QUICK = ["--chains", "2", "--iter", "400", "--seed", "1", "--quiet", "--no-plots"]
N, GROUPS, SD_G = 300, 12, 0.5

# per family: its extra formulas and the truth it is simulated from (on the link scales)
SETUPS = {
    "hurdle_gamma": (["hu ~ x"], {"Intercept": 0.5, "x": 0.4, "hu_Intercept": -0.5, "hu_x": 0.8}),
    "hurdle_lognormal": ([], {"Intercept": 0.5, "x": 0.4}),
    "zero_inflated_beta": ([], {"Intercept": 0.3, "x": 0.5}),
    "zero_one_inflated_beta": (["zoi ~ x"], {"Intercept": 0.3, "x": 0.5, "zoi_Intercept": -1.0, "zoi_x": 0.7}),
}  # fmt: skip
FAMILY_TRUTH = {
    "hurdle_gamma": {"shape": 2.0},
    "hurdle_lognormal": {"sigma": 0.6, "hu": 0.3},
    "zero_inflated_beta": {"phi": 8.0, "zi": 0.2},
    "zero_one_inflated_beta": {"phi": 8.0, "coi": 0.7},
}


def simulate(family: str, seed: int, n: int = N) -> pd.DataFrame:
    """The family's draws given x and a group-level intercept per level of g."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    g = rng.integers(0, GROUPS, n)
    truth, params = SETUPS[family][1], FAMILY_TRUTH[family]
    effects = rng.normal(0, SD_G, GROUPS)
    effects -= effects.mean()  # so the data identify the intercept drawn, not a shifted one
    eta = truth["Intercept"] + truth["x"] * x + effects[g]
    if family == "hurdle_gamma":
        hu = special.expit(truth["hu_Intercept"] + truth["hu_x"] * x)
        rest = rng.gamma(params["shape"], np.exp(eta) / params["shape"])
        y = np.where(rng.random(n) < hu, 0.0, rest)
    elif family == "hurdle_lognormal":
        y = np.where(rng.random(n) < params["hu"], 0.0, rng.lognormal(eta, params["sigma"]))
    else:
        mu, phi = special.expit(eta), params["phi"]
        rest = rng.beta(mu * phi, (1 - mu) * phi)
        if family == "zero_inflated_beta":
            y = np.where(rng.random(n) < params["zi"], 0.0, rest)
        else:
            zoi = special.expit(truth["zoi_Intercept"] + truth["zoi_x"] * x)
            ends = (rng.random(n) < params["coi"]).astype(float)
            y = np.where(rng.random(n) < zoi, ends, rest)
    return pd.DataFrame({"y": y, "x": x, "g": g})


@pytest.fixture(scope="module", params=list(SETUPS))
def fitted(request, tmp_path_factory):
    family = request.param
    work = tmp_path_factory.mktemp(family)
    data = simulate(family, seed=list(SETUPS).index(family) + 1)
    data.to_csv(work / "data.csv", index=False)
    formulas = [a for f in ["y ~ x + (1 | g)", *SETUPS[family][0]] for a in ("-f", f)]
    done = mixfit(
        "fit", work / "data.csv", *formulas, "--family", family, "-o", "out", *QUICK, cwd=work
    )
    assert done.returncode == 0, done.stderr
    return family, work, data


def _posterior(out) -> dict[str, np.ndarray]:
    """The saved draws, chains one after another; r_g as draws x levels (levels in g's order)."""
    import xarray as xr

    with xr.open_dataset(out / "draws.nc", group="posterior", engine="h5netcdf") as saved:
        draws = {k: v.values.reshape(-1, *v.shape[2:]) for k, v in saved.data_vars.items()}
        levels = [int(level) for level in saved.coords["g"].values]
    draws["r_g"] = draws["r_g"][:, np.argsort(levels), 0]
    return draws


def _stored_log_lik(out) -> np.ndarray:
    import xarray as xr

    with xr.open_dataset(out / "draws.nc", group="log_likelihood", engine="h5netcdf") as saved:
        return saved["y"].values.reshape(-1, saved.sizes["obs"])


def _dpars(family: str, draws: dict, data: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each parameter per draw (rows) and data row (columns), on its own scale."""
    x, g = data["x"].to_numpy(), data["g"].to_numpy()
    eta = draws["b_Intercept"][:, None] + draws["b_x"][:, None] * x + draws["r_g"][:, g]
    out = {}
    for name in ("shape", "sigma", "hu", "zi", "phi", "zoi", "coi"):
        if f"b_{name}_Intercept" in draws:
            out[name] = special.expit(
                draws[f"b_{name}_Intercept"][:, None] + draws[f"b_{name}_x"][:, None] * x
            )
        elif name in draws:
            out[name] = draws[name][:, None]
    inverse = {"hurdle_gamma": np.exp, "hurdle_lognormal": lambda e: e}.get(family, special.expit)
    return out | {"mu": inverse(eta)}


def _definition(family: str, p: dict, y: np.ndarray) -> np.ndarray:
    """brms 2.18's *_lpdf (inst/chunks/fun_<family>.stan), with scipy's densities."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if family == "zero_one_inflated_beta":
            a, b = p["mu"] * p["phi"], (1 - p["mu"]) * p["phi"]
            ends = np.log(p["zoi"]) + np.log(np.where(y == 1, p["coi"], 1 - p["coi"]))
            between = np.log1p(-p["zoi"]) + stats.beta.logpdf(y, a, b)
            return np.where((y == 0) | (y == 1), ends, between)
        if family == "hurdle_gamma":
            rest = stats.gamma.logpdf(y, p["shape"], scale=p["mu"] / p["shape"])
        elif family == "hurdle_lognormal":
            rest = stats.lognorm.logpdf(y, p["sigma"], scale=np.exp(p["mu"]))
        else:
            rest = stats.beta.logpdf(y, p["mu"] * p["phi"], (1 - p["mu"]) * p["phi"])
        zero = p["zi" if family == "zero_inflated_beta" else "hu"]
        return np.where(y == 0, np.log(zero), np.log1p(-zero) + rest)


def _epred(family: str, p: dict) -> np.ndarray:
    """brms 2.18's posterior_epred of each family."""
    if family == "hurdle_gamma":
        return (1 - p["hu"]) * p["mu"]
    if family == "hurdle_lognormal":
        return (1 - p["hu"]) * np.exp(p["mu"] + p["sigma"] ** 2 / 2)
    if family == "zero_inflated_beta":
        return (1 - p["zi"]) * p["mu"]
    return p["zoi"] * p["coi"] + (1 - p["zoi"]) * p["mu"]


def test_recovers_its_parameters(fitted):
    """Population-level effects (hu_ and zoi_ ones included) and the family's parameters within
    3 posterior SDs of the truth, the group SD within its 95% interval; brms's default priors."""
    family, work, _ = fitted
    out = work / "out"
    fixef = pd.read_csv(out / "fixef.csv").set_index("term")
    for term, true in SETUPS[family][1].items():
        found = fixef.loc[term]
        assert abs(found["Estimate"] - true) < 3 * found["Est.Error"], (term, found)
    varcorr = pd.read_csv(out / "varcorr.csv").set_index("param")
    for name, true in FAMILY_TRUTH[family].items():
        found = varcorr.loc[name]
        assert abs(found["Estimate"] - true) < 3 * found["Est.Error"], (name, found)
    sd = varcorr.loc["sd(Intercept)"]
    assert sd["Q2.5"] < SD_G < sd["Q97.5"]
    priors = pd.read_csv(out / "prior.csv").fillna("")
    by_class = priors[priors["coef"] == ""].set_index("class")["prior"]
    for name in set(FAMILY_TRUTH[family]) - {"sigma"}:
        expected = "gamma(0.01, 0.01)" if name in {"shape", "phi"} else "beta(1, 1)"
        assert by_class[name] == expected, name
    if family == "hurdle_lognormal":  # brms's scale from log(y), its zeros taken as 0.1
        assert by_class["sigma"].startswith("student_t(3, 0, ")
    r2 = pd.read_csv(out / "r2.csv")
    assert 0 < r2["Estimate"].iloc[0] < 1


def test_log_lik_is_the_family_definition(fitted):
    """The saved log_lik (numpy's, on stanli) and predict's for the same rows are brms's density
    of each row, written here from the draws."""
    family, work, data = fitted
    out = work / "out"
    p = _dpars(family, _posterior(out), data)
    expected = _definition(family, p, data["y"].to_numpy())
    assert np.isfinite(expected).all()
    np.testing.assert_allclose(_stored_log_lik(out), expected, rtol=1e-8, atol=1e-10)
    mine = log_lik(out, data, allow_new_levels=False, sample_new_levels="uncertainty", seed=0)
    np.testing.assert_allclose(mine, expected, rtol=1e-8, atol=1e-10)


def test_epred_predictions_and_loo(fitted):
    """epred is brms's posterior_epred; new responses have the data's share of zeros (and ones)
    and its mean (predict's own functions: the command's are run by the other tests); loo runs."""
    family, work, data = fitted
    out = work / "out"
    p = _dpars(family, _posterior(out), data)
    fit = load(out)
    table = predict(fit, data, "the data", seed=1)
    np.testing.assert_allclose(table["Estimate"], _epred(family, p).mean(axis=0), rtol=1e-8)
    draws = work / "y.nc"
    predict(fit, data, "the data", kind="prediction", seed=1, draws_file=draws)
    import xarray as xr

    with xr.open_dataset(draws, engine="h5netcdf") as saved:
        y_new = saved["prediction"].values
    y = data["y"].to_numpy()
    assert abs((y_new == 0).mean() - (y == 0).mean()) < 0.04
    assert abs((y_new == 1).mean() - (y == 1).mean()) < 0.04
    assert abs(y_new.mean() - y.mean()) < 0.1 * y.mean()
    assert y_new.min() >= 0 and (family.startswith("hurdle") or y_new.max() <= 1)
    loo = mixfit("loo", out, cwd=work)
    assert loo.returncode == 0, loo.stderr
    elpd = float(next(li for li in loo.stdout.splitlines() if li.startswith("elpd_loo")).split()[1])
    stored = _stored_log_lik(out)
    lppd = (special.logsumexp(stored, axis=0) - np.log(len(stored))).sum()
    assert lppd - 40 < elpd < lppd  # below the in-sample fit by about the parameters' number


def test_conditional_effects(fitted):
    """Effects of x on the response, and on hu or zoi where it has a formula: on the response's
    (or the probability's) scale, within its bounds; hu and zoi rise with x, as simulated."""
    family, work, _ = fitted
    dpars = [f.split()[0] for f in SETUPS[family][0]]
    for dpar in [None, *dpars]:
        extra = ["--dpar", dpar] if dpar else []
        done = mixfit(
            "effects", work / "out", "--effect", "x", *extra, "-o", work / "e.csv", cwd=work
        )
        assert done.returncode == 0, done.stderr
        effects = pd.read_csv(work / "e.csv").sort_values("x")
        estimate = effects["estimate__"].to_numpy()
        assert (effects["lower__"] <= estimate).all() and (estimate <= effects["upper__"]).all()
        bounded = dpar or not family.startswith("hurdle")
        assert estimate.min() > 0 and (not bounded or estimate.max() < 1), (dpar, estimate)
        if dpar:
            assert estimate[-1] > estimate[0] + 0.2, dpar


def test_stan_generated_quantities_are_numpy_s(tmp_path):
    """PyStan and CmdStan run the templates' own log_lik (stanli leaves it to numpy): run here
    on stanli's interpreter with a formula on every probability, they equal numpy's; hurdle
    y_rep (stanli has gamma_rng and lognormal_rng, not beta_proportion_rng) has hu's zeros."""
    import stanli

    from mixfit.model.program import stan_data
    from mixfit.pipeline import prepare
    from mixfit.results.family_predictions import FAMILIES
    from mixfit.spec import RunSpec

    for family, extra in [
        ("hurdle_gamma", ["hu ~ x", "shape ~ x"]),
        ("hurdle_lognormal", ["hu ~ x"]),
        ("zero_inflated_beta", ["zi ~ x", "phi ~ x"]),
        ("zero_one_inflated_beta", ["zoi ~ x", "coi ~ x"]),
    ]:
        data = simulate(family, seed=9, n=60).drop(columns="g")
        data.to_csv(tmp_path / "data.csv", index=False)
        spec = RunSpec(data=tmp_path / "data.csv", formula=("y ~ x", *extra), family=family)
        prepared = prepare(spec)
        assert not prepared.model.python_predictions and "log_lik[n] = Y[n] == 0" in prepared.code
        code = prepared.code
        if "beta" in family:
            code = "\n".join(line for line in code.splitlines() if "y_rep" not in line)
        data_in = {
            k: v.tolist() if hasattr(v, "tolist") else v
            for k, v in stan_data(prepared.model).items()
        }
        fit = stanli.Model(stan_code=code, data=data_in, seed=1).sample(
            chains=1, warmup=150, samples=20, seed=1, refresh=0
        )
        names = [k for k in fit.variables if k.startswith("b") or k in {"phi", "shape", "sigma"}]
        draws = {k: np.asarray(fit[k]) for k in names}
        x = data["x"].to_numpy()
        eta = draws["b_Intercept"][:, None] + draws["b"] @ x[None, :]
        params = {}
        for name in ("shape", "sigma", "hu", "zi", "phi", "zoi", "coi"):
            if f"b_{name}_Intercept" in draws:
                linear = draws[f"b_{name}_Intercept"][:, None] + draws[f"b_{name}"] @ x[None, :]
                inverse = np.exp if name in {"shape", "phi"} else special.expit
                params[name] = inverse(linear)
            elif name in draws:
                params[name] = draws[name][:, None]
        assert set(params) == set(FAMILIES[family].params), family
        rng = np.random.default_rng(1)
        ours, _ = FAMILIES[family].compute(data["y"].to_numpy(), eta, params, "", rng)
        np.testing.assert_allclose(ours, np.asarray(fit["log_lik"]), rtol=1e-9, atol=1e-10)
        if "beta" not in family:
            y_rep = np.asarray(fit["y_rep"])
            assert 0.1 < (y_rep == 0).mean() < 0.6 and (y_rep >= 0).all(), family


def test_chains_as_jobs_and_combine(tmp_path):
    """Chain shards of a zero_one_inflated_beta model with a group-level term in zoi (its
    log_lik and y_rep from numpy in each shard) combine into one fit that reads back."""
    data = simulate("zero_one_inflated_beta", seed=6, n=150)
    data.to_csv(tmp_path / "sim.csv", index=False)
    spec = {
        "data": "sim.csv",
        "formula": ["y ~ x", "zoi ~ x + (1 | g)"],
        "family": "zero_one_inflated_beta",
        "backend": "stanli",
        "sampler": {"chains": 2, "iter": 200, "seed": 5},
    }
    out = fit_as_chain_jobs(spec, tmp_path)
    fixef = pd.read_csv(out / "fixef.csv").set_index("term")
    assert {"zoi_Intercept", "zoi_x", "Intercept", "x"} <= set(fixef.index)
    varcorr = pd.read_csv(out / "varcorr.csv").set_index("param")
    assert {"sd(zoi_Intercept)", "phi", "coi"} <= set(varcorr.index)
    stored = _stored_log_lik(out)
    assert stored.shape == (200, len(data))
    mine = log_lik(out, data, allow_new_levels=False, sample_new_levels="uncertainty", seed=0)
    np.testing.assert_allclose(mine, stored, rtol=1e-8, atol=1e-10)

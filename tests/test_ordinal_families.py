"""brms 2.18's other ordinal families, sratio, cratio and acat: brms's fit of the inhaler data
(sratio), recovery on simulated data, numpy's category probabilities against the Stan functions of
the templates, and the fit's log_lik, predict, loo, effects and R² (mixfit/analysis/ordinal.py)."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import REFERENCE, ROOT, read_json
from scipy import special, stats

from mixfit.analysis.ordinal import log_probabilities
from mixfit.model.families import FAMILIES
from mixfit.model.stancode import _templates

INHALER = ROOT / "tests" / "data" / "inhaler.csv"
BRMS = read_json(REFERENCE / "inhaler_sratio.json")["brms"]
RATIOS = ["sratio", "cratio", "acat"]
CDFS = {
    "logit": special.expit,
    "probit": stats.norm.cdf,
    "cloglog": lambda x: 1 - np.exp(-np.exp(x)),
}


# --- numpy's probabilities are the Stan functions' ----------------------------------------------


def direct_probabilities(family: str, link: str, eta: float, thres: np.ndarray) -> np.ndarray:
    """P(Y = k), k = 1..K, from each family's definition, one category at a time."""
    F = CDFS[link]
    K = len(thres) + 1
    p = np.empty(K)
    for k in range(K):
        if family == "sratio":  # stop at k with F(thres_k - eta), having gone past each before
            past = np.prod([1 - F(thres[j] - eta) for j in range(k)])
            p[k] = past * (F(thres[k] - eta) if k < K - 1 else 1.0)
        elif family == "cratio":  # go past k with F(eta - thres_k)
            past = np.prod([F(eta - thres[j]) for j in range(k)])
            p[k] = past * ((1 - F(eta - thres[k])) if k < K - 1 else 1.0)
        else:  # acat: P(k + 1) / (P(k) + P(k + 1)) = F(eta - thres_k)
            up = np.prod([F(eta - thres[j]) for j in range(k)])
            p[k] = up * np.prod([1 - F(eta - thres[j]) for j in range(k, K - 1)])
    return p / p.sum()


def stan_lpmf(family: str, link: str, y: np.ndarray, eta: np.ndarray, thres: np.ndarray):
    """The template's own Stan function, row by row, through stanli's log density of a program
    whose only parameter is flat: its log density is the sum of the rows' lpmf."""
    import stanli

    functions = str(
        _templates().get_template(f"families/{family}.stan").make_module({"link": link}).functions()
    )
    code = f"""functions {{
{functions}
}}
data {{ int N; int nthres; array[N] int Y; vector[N] mu; vector[nthres] thres; }}
parameters {{ real flat; }}
model {{ for (n in 1:N) target += {family}_{link}_lpmf(Y[n] | mu[n], 1, thres); }}
"""
    out = []
    for n in range(len(y)):
        data = {"N": 1, "nthres": len(thres), "Y": [int(y[n])], "mu": [eta[n]], "thres": thres}
        model = stanli.Model(stan_code=code, data=data, seed=1)
        out.append(model.log_prob_grad(np.zeros(1))[0])
    return np.array(out)


@pytest.mark.parametrize("family, link", [(f, link) for f in RATIOS for link in FAMILIES[f].links])
def test_numpy_probabilities_are_the_stan_functions(family, link):
    thres = np.array([-1.2, 0.3, 0.2, 1.5])  # as brms's: not necessarily ordered
    eta = np.array([-2.0, -0.4, 0.0, 0.7, 2.5])
    mine = log_probabilities(family, link, eta, thres)
    assert mine.shape == (5, 5)
    np.testing.assert_allclose(np.exp(mine).sum(axis=-1), 1.0, rtol=1e-12)
    direct = np.array([direct_probabilities(family, link, e, thres) for e in eta])
    np.testing.assert_allclose(np.exp(mine), direct, rtol=1e-9, atol=1e-14)
    y = np.array([1, 2, 3, 4, 5])  # each category once, the last included
    picked = mine[np.arange(5), y - 1]
    np.testing.assert_allclose(stan_lpmf(family, link, y, eta, thres), picked, rtol=1e-9)


# --- sratio: brms's fit of the inhaler data --------------------------------------------------------


@pytest.fixture(scope="module")
def inhaler(run_mixfit, tmp_path_factory):
    """brms's model with its settings but 4 x 1000 (4 x 2000 takes more than 20 s here)."""
    out = tmp_path_factory.mktemp("inhaler") / "out"
    done = run_mixfit(
        "fit", INHALER, "-f", "rating ~ treat + period + carry + (1 | subject)",
        "--family", "sratio", "--seed", "1", "--iter", "1000", "--no-plots", "-o", out,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out, done


def test_inhaler_sratio_agrees_with_brms(inhaler):
    out, done = inhaler
    fixef = pd.read_csv(out / "fixef.csv").set_index("term")
    for row in BRMS["fixed"]:  # the thresholds Intercept[1..3] and the coefficients
        mine = fixef.loc[row["_row"], "Estimate"]
        assert abs(mine - row["Estimate"]) < 0.3 * row["Est.Error"], row["_row"]
    varcorr = pd.read_csv(out / "varcorr.csv").set_index("param")
    sd = varcorr.loc["sd(Intercept)", "Estimate"]
    assert abs(sd / BRMS["random"]["subject"][0]["Estimate"] - 1) < 0.15
    assert "Family: sratio" in done.stdout and "Levels: 1 < 2 < 3 < 4" in done.stdout


def test_inhaler_sratio_program_is_brms(inhaler):
    """The likelihood function is brms's, word for word; the thresholds are a plain vector."""
    out, _ = inhaler
    code = (out / "model.stan").read_text()

    def function(text: str) -> str:
        body = re.search(r"real sratio_logit_lpmf\(.*?return p\[y\];\s*\}", text, re.DOTALL).group(
            0
        )
        return " ".join(body.split())

    assert function(code) == function(BRMS["stancode"])
    assert "vector[nthres] Intercept;" in code and "ordered[" not in code


def test_inhaler_sratio_loo_and_log_lik(inhaler, run_mixfit):
    out, _ = inhaler
    done = run_mixfit("loo", out, "--json")
    assert done.returncode == 0, done.stderr
    elpd = json.loads(done.stdout)["loo"][out.name]["elpd_loo"]
    estimate, se = BRMS["elpd_loo"]
    assert abs(elpd["Estimate"] - estimate) < 2 and elpd["SE"] == pytest.approx(se, rel=0.1)
    saved_log_lik_is_the_definition(
        out, pd.read_csv(INHALER), "sratio", "rating", ("treat", "period", "carry"), "subject"
    )


def saved_log_lik_is_the_definition(out, data, family, response, coefs, group):
    """The saved log_lik (numpy's, on stanli) against each family's definition, for a few rows
    and draws: the linear predictor and the category probabilities computed here, row by row."""
    posterior = xr.open_dataset(out / "draws.nc", group="posterior", engine="h5netcdf")
    stored = xr.open_dataset(out / "draws.nc", group="log_likelihood", engine="h5netcdf")
    last = posterior.sizes["draw"] - 1
    for row in (0, len(data) // 3, len(data) - 1):
        for draw in (0, last):
            p = posterior.isel(chain=1, draw=draw)
            eta = sum(float(p[f"b_{c}"]) * data.loc[row, c] for c in coefs)
            eta += float(p[f"r_{group}"].sel({group: str(data.loc[row, group])})[0])
            probabilities = direct_probabilities(family, "logit", eta, p["b_Intercept"].values)
            saved = float(stored[response].isel(chain=1, draw=draw, obs=row))
            assert saved == pytest.approx(np.log(probabilities[data.loc[row, response] - 1]))


# --- cratio and acat: recovery on simulated data, and the analyses of the fit --------------------

TRUTH = {  # thresholds, b_x, sd(Intercept) of g
    "cratio": (np.array([-0.6, 0.1, 0.7]), 0.8, 0.6),
    "acat": (np.array([-0.9, 0.2, 1.0]), 0.8, 0.6),
}


def simulate(family: str, n: int = 400, groups: int = 20, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    thres, b, sd = TRUTH[family]
    g = np.arange(n) % groups
    x = rng.normal(size=n)
    eta = b * x + rng.normal(0, sd, groups)[g]
    y = [rng.choice(4, p=direct_probabilities(family, "logit", e, thres)) + 1 for e in eta]
    return pd.DataFrame({"y": y, "x": x, "g": [f"g{i}" for i in g]})


@pytest.fixture(scope="module", params=["cratio", "acat"])
def recovered(request, run_mixfit, tmp_path_factory):
    family = request.param
    work = tmp_path_factory.mktemp(family)
    data = simulate(family)
    data.to_csv(work / "data.csv", index=False)
    done = run_mixfit(
        "fit", work / "data.csv", "-f", "y ~ x + (1 | g)", "--family", family,
        "--chains", "2", "--iter", "400", "--seed", "2", "--no-plots", "-o", work / "out",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return family, work, data


def test_cratio_and_acat_recover_their_parameters(recovered):
    family, work, _ = recovered
    thres, b, sd = TRUTH[family]
    fixef = pd.read_csv(work / "out" / "fixef.csv").set_index("term")
    truth = {f"Intercept[{k + 1}]": t for k, t in enumerate(thres)} | {"x": b}
    for term, value in truth.items():
        row = fixef.loc[term]
        assert abs(row["Estimate"] - value) < 3 * row["Est.Error"], term
    row = pd.read_csv(work / "out" / "varcorr.csv").set_index("param").loc["sd(Intercept)"]
    assert abs(row["Estimate"] - sd) < 3 * row["Est.Error"]
    assert "vector[nthres] Intercept;" in (work / "out" / "model.stan").read_text()


def test_cratio_and_acat_log_lik_is_the_definition(recovered):
    family, work, data = recovered
    saved_log_lik_is_the_definition(work / "out", data, family, "y", ("x",), "g")


def test_cratio_and_acat_predict_loo_effects_r2(recovered, run_mixfit):
    family, work, data = recovered
    out = work / "out"
    data.head(5).to_csv(work / "new.csv", index=False)
    done = run_mixfit("predict", out, work / "new.csv", "-o", work / "epred.csv")
    assert done.returncode == 0, done.stderr
    epred = pd.read_csv(work / "epred.csv")
    means = epred[[f"Estimate.P(Y = {k})" for k in range(1, 5)]].to_numpy()
    np.testing.assert_allclose(means.sum(axis=1), 1.0, rtol=1e-5)  # 6 digits
    # row 0's expected probabilities: the mean over draws of each draw's, from the definition
    posterior = xr.open_dataset(out / "draws.nc", group="posterior", engine="h5netcdf")
    draws = posterior.stack(sample=("chain", "draw"))
    eta = draws["b_x"].values * data.loc[0, "x"] + draws["r_g"].sel(g=data.loc[0, "g"])[0].values
    thresholds = draws["b_Intercept"].values.T
    direct = np.mean(
        [direct_probabilities(family, "logit", e, t) for e, t in zip(eta, thresholds)], axis=0
    )
    np.testing.assert_allclose(means[0], direct, rtol=1e-4)
    done = run_mixfit("predict", out, work / "new.csv", "--type", "prediction", "--seed", "1")
    assert done.returncode == 0 and "P(Y = 4)" in done.stdout.splitlines()[0]
    done = run_mixfit("loo", out, "--json")
    assert done.returncode == 0, done.stderr
    loo = json.loads(done.stdout)["loo"][out.name]
    assert -len(data) * np.log(4) < loo["elpd_loo"]["Estimate"] < 0
    assert 1 < loo["p_loo"]["Estimate"] < 30  # about the thresholds, b and the 20 levels
    done = run_mixfit("effects", out, "--effect", "x", "-o", work / "effects.csv")
    assert done.returncode == 0, done.stderr
    effect = pd.read_csv(work / "effects.csv")["estimate__"].to_numpy()
    assert np.all(np.diff(effect) > 0) and 1 < effect[0] < effect[-1] < 4  # b_x > 0
    r2 = pd.read_csv(out / "r2.csv")["Estimate"].iloc[0]
    assert 0.05 < r2 < 0.6

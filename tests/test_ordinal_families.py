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
RATIOS = ["sratio"]
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
    # the saved log_lik (numpy's, on stanli) against the definition, for a few rows and draws
    posterior = xr.open_dataset(out / "draws.nc", group="posterior", engine="h5netcdf")
    stored = xr.open_dataset(out / "draws.nc", group="log_likelihood", engine="h5netcdf")
    data = pd.read_csv(INHALER)
    for row in (0, 100, 571):
        for draw in (0, 499):
            p = posterior.isel(chain=1, draw=draw)
            eta = sum(float(p[f"b_{c}"]) * data.loc[row, c] for c in ("treat", "period", "carry"))
            eta += float(p["r_subject"].sel(subject=str(data.loc[row, "subject"]))[0])
            probabilities = direct_probabilities("sratio", "logit", eta, p["b_Intercept"].values)
            saved = float(stored["rating"].isel(chain=1, draw=draw, obs=row))
            assert saved == pytest.approx(np.log(probabilities[data.loc[row, "rating"] - 1]))

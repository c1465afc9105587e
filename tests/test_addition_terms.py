"""brms's addition terms on the response (issue 23): ``se()`` and ``weights()`` beside ``trials()``.

Measured on the 2-core machine while shared: the BCG meta-analysis against brms (4 x 2000 on 13
rows, with the classical fit beside it) about 10 s.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, mixfit, read_json

from mixfit.errors import InputError
from mixfit.model.addition_terms import Additions
from mixfit.model.formula import parse_formula

BCG = ROOT / "tests" / "data" / "bcg.csv"
BCG_REFERENCE = ROOT / "tests" / "reference" / "bcg_meta.json"


# --- the terms, as written -------------------------------------------------------------------


def test_terms_are_read_with_their_flags():
    parsed = parse_formula("yi | se(sei, sigma = TRUE) + weights(`w x`, scale = T) ~ 1 + (1 | g)")
    assert parsed.response == "yi" and parsed.fixed == "1"
    assert parsed.additions == Additions(weights="w x", weights_scale=True, se="sei", se_sigma=True)
    both = parse_formula("k | trials(n) + weights(w) ~ x").additions
    assert (both.trials, both.weights, both.columns) == ("n", "w", ["n", "w"])
    assert parse_formula("y | se(s) ~ x").additions.sigma_fixed


@pytest.mark.parametrize(
    "text, phrase",
    [
        ("y | cens2(c) ~ x", "unknown addition term cens2()"),
        ("y | weights(w) + weights(v) ~ x", "weights() is given twice"),
        ("y | se(s) + trials(n) + se(t) ~ x", "se() is given twice"),
        ("y | se(2) ~ x", "takes a column, not the number 2"),
        ("y | se(s, sigma = maybe) ~ x", "se() takes sigma = TRUE"),
        ("y | weights(w, sigma = TRUE) ~ x", "weights() takes scale = TRUE"),
        ("y | se(s, sigma = TRUE, sigma = FALSE) ~ x", "given sigma twice"),
        ("y | weights(log(w)) ~ x", "function 'log' is not allowed in weights()"),
        ("y | ~ x", "nothing after '|'"),
        ("y ~ x + se(s)", "se() is an addition term of the response"),
    ],
)
def test_bad_terms_are_one_line(text, phrase):
    with pytest.raises(InputError) as caught:
        parse_formula(text)
    assert phrase in str(caught.value) and "\n" not in str(caught.value)


# --- se(): BCG, brms 2.18's fit of yi | se(sei) ~ 1 + (1 | trial), metafor's beside it ---------


@pytest.fixture(scope="module")
def bcg(tmp_path_factory):
    """mixfit's fit with brms's settings (4 x 2000, defaults) and the classical fit beside it."""
    work = tmp_path_factory.mktemp("bcg")
    done = mixfit(
        "fit",
        BCG,
        "-f",
        "yi | se(sei) ~ 1 + (1 | trial)",
        "-o",
        "out",
        "--seed",
        "1",
        "--no-plots",
        "--classical",
        cwd=work,
    )
    assert done.returncode == 0, done.stderr
    return work / "out", done


def test_bcg_agrees_with_brms(bcg):
    out, _ = bcg
    brms = read_json(BCG_REFERENCE)["brms"]
    fixef = pd.read_csv(out / "fixef.csv").set_index("term")
    reference = brms["fixed"][0]
    assert abs(fixef.loc["Intercept", "Estimate"] - reference["Estimate"]) < (
        0.3 * reference["Est.Error"]
    )
    sd = pd.read_csv(out / "varcorr.csv").set_index("param").loc["sd(Intercept)", "Estimate"]
    assert abs(sd / brms["random"]["trial"][0]["Estimate"] - 1) < 0.15


def test_bcg_has_brms_likelihood_and_no_sigma(bcg):
    out, done = bcg
    code = (out / "model.stan").read_text()
    assert "vector<lower=0>[N] se;" in code and "se2 = square(se)" in code
    assert "normal_lpdf(Y | mu, se)" in code
    parameters = code.split("parameters {")[1].split("}")[0]
    assert "sd_1" in parameters and "sigma" not in parameters
    priors = pd.read_csv(out / "prior.csv")
    assert "sigma" not in set(priors["class"])
    assert not any(line.startswith("sigma ") for line in done.stdout.splitlines())
    assert json.loads((out / "design.json").read_text())["response"]["se"] == "sei"


def test_bcg_predictions_use_the_known_se(bcg, tmp_path):
    out, _ = bcg
    brms = read_json(BCG_REFERENCE)["brms"]
    epred = mixfit("predict", out, BCG, "-o", tmp_path / "epred.csv", cwd=tmp_path)
    assert epred.returncode == 0, epred.stderr
    table = pd.read_csv(tmp_path / "epred.csv")
    for row, reference in zip(table.itertuples(), brms["epred_first10"]):
        assert abs(row.Estimate - reference["Estimate"]) < 0.3 * reference["Est.Error"]
    predicted = mixfit(
        "predict", out, BCG, "--type", "prediction", "-o", tmp_path / "y.csv", cwd=tmp_path
    )
    assert predicted.returncode == 0, predicted.stderr
    spread = pd.read_csv(tmp_path / "y.csv")["Est.Error"].to_numpy()
    se = pd.read_csv(BCG)["sei"].to_numpy()
    # a new response's SD is that of its mean and its known SE together
    assert np.all(spread > np.sqrt(table["Est.Error"].to_numpy() ** 2 + se**2) * 0.9)
    pd.read_csv(BCG).drop(columns=["sei"]).to_csv(tmp_path / "no_se.csv", index=False)
    missing = mixfit("predict", out, tmp_path / "no_se.csv", "--type", "prediction", cwd=tmp_path)
    assert missing.returncode == 2 and "'sei'" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1


def test_bcg_loo_is_brms_within_its_se(bcg, tmp_path):
    out, _ = bcg
    elpd, se = read_json(BCG_REFERENCE)["brms"]["elpd_loo"]
    done = mixfit("loo", out, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    ours = float(next(line for line in done.stdout.splitlines() if "elpd_loo" in line).split()[1])
    assert abs(ours - elpd) < se


def test_bcg_classical_is_metafor_beside_the_posterior(bcg):
    out, done = bcg
    metafor = read_json(BCG_REFERENCE)["classical"]
    fixef = pd.read_csv(out / "classical" / "fixef.csv").set_index("term")
    assert fixef.loc["Intercept", "Estimate"] == pytest.approx(
        metafor["fixef"]["intrcpt"], rel=1e-3
    )
    assert fixef.loc["Intercept", "Std.Error"] == pytest.approx(
        metafor["fixef_se"]["intrcpt"], rel=1e-3
    )
    varcorr = pd.read_csv(out / "classical" / "varcorr.csv").set_index("param")
    tau, tau_se = varcorr.loc["sd(Intercept)", ["Estimate", "Std.Error"]]
    assert tau == pytest.approx(metafor["tau"], rel=1e-3)
    # metafor's se.tau2, by the delta method
    assert 2 * tau * tau_se == pytest.approx(metafor["tau2_se"], rel=1e-3)
    comparison = done.stdout.split("Bayesian vs maximum likelihood")[1]
    row = next(line for line in comparison.splitlines() if "sd(Intercept)" in line)
    assert "0.56" in row  # tau, beside the posterior's sd(Intercept)

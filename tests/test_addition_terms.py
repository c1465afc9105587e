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
    plain = parse_formula("se ~ weights + x")  # columns of those names are names like any other
    assert (plain.response, plain.fixed, plain.additions) == ("se", "weights + x", Additions())


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
        ("y + weights(w) ~ x", "it follows the response's '|'"),
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


# --- weights(): cbpp as bernoulli rows with frequency weights against the binomial fit ----------

CBPP = ROOT / "tests" / "data" / "cbpp.csv"
CBPP_ROWS = ROOT / "tests" / "data" / "cbpp_weights.csv"  # a row per herd, period and outcome
SETTINGS = ("--chains", "2", "--iter", "1000", "--seed", "1", "--no-plots", "--quiet")


@pytest.fixture(scope="module")
def cbpp(tmp_path_factory):
    """The same likelihood (up to a constant) twice: weighted 0/1 rows, and binomial counts."""
    work = tmp_path_factory.mktemp("cbpp")
    fits = {
        "weighted": ("sick | weights(w) ~ period + (1 | herd)", "bernoulli", CBPP_ROWS),
        "binomial": ("incidence | trials(size) ~ period + (1 | herd)", "binomial", CBPP),
    }
    for name, (formula, family, data) in fits.items():
        done = mixfit(
            "fit", data, "-f", formula, "--family", family, "-o", name, "--classical",
            *SETTINGS, cwd=work,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    return work


def test_frequency_weights_are_the_expanded_rows(cbpp):
    weighted = pd.read_csv(cbpp / "weighted" / "fixef.csv").set_index("term")
    binomial = pd.read_csv(cbpp / "binomial" / "fixef.csv").set_index("term")
    for term in binomial.index:
        sd = binomial.loc[term, "Est.Error"]
        assert abs(weighted.loc[term, "Estimate"] - binomial.loc[term, "Estimate"]) < 0.25 * sd
        assert weighted.loc[term, "Est.Error"] == pytest.approx(sd, rel=0.15)
    sds = [
        pd.read_csv(cbpp / name / "varcorr.csv").set_index("param").loc["sd(Intercept)"]
        for name in ("weighted", "binomial")
    ]
    assert sds[0]["Estimate"] == pytest.approx(sds[1]["Estimate"], rel=0.1)
    code = (cbpp / "weighted" / "model.stan").read_text()
    assert "target += weights[n] * (bernoulli_logit_lpmf(Y[n] | mu[n]));" in code
    assert "_glm_" not in code


def test_weighted_classical_fit_is_the_binomial_one(cbpp):
    """glmm takes the weights as lme4's prior weights: the same estimates as the counts give."""
    weighted, binomial = (
        pd.read_csv(cbpp / name / "classical" / "fixef.csv").set_index("term")
        for name in ("weighted", "binomial")
    )
    assert np.allclose(weighted["Estimate"], binomial["Estimate"], rtol=1e-4, atol=1e-5)
    assert np.allclose(weighted["Std.Error"], binomial["Std.Error"], rtol=1e-3)


def test_weighted_log_lik_is_brms_times_the_weight(cbpp):
    """The log_lik Stan saved and the one predict's numpy computes for the same rows agree, each
    the row's bernoulli log-likelihood times its weight."""
    import xarray as xr

    from mixfit.analysis.predict import log_lik

    out = cbpp / "weighted"
    with xr.open_dataset(out / "draws.nc", group="log_likelihood", engine="h5netcdf") as saved:
        stan = saved["sick"].values.reshape(-1, saved.sizes["obs"])
    rows = pd.read_csv(CBPP_ROWS)
    ours = log_lik(out, rows, allow_new_levels=False, sample_new_levels="uncertainty", seed=0)
    assert np.allclose(ours, stan, rtol=1e-6, atol=1e-8)
    unweighted = log_lik(
        out, rows.assign(w=1.0), allow_new_levels=False, sample_new_levels="uncertainty", seed=0
    )
    assert np.allclose(ours, unweighted * rows["w"].to_numpy())


def test_weights_combine_with_trials_and_se(tmp_path):
    from mixfit.pipeline import prepare
    from mixfit.spec import RunSpec

    data = pd.read_csv(CBPP).assign(w=lambda d: np.arange(len(d)) % 3 + 1.0)
    data.to_csv(tmp_path / "cbpp.csv", index=False)
    binomial = prepare(
        RunSpec(
            data=tmp_path / "cbpp.csv",
            formula=("incidence | trials(size) + weights(w, scale = TRUE) ~ period + (1 | herd)",),
            family="binomial",
        )
    )
    assert "weights[n] * (binomial_logit_lpmf(Y[n] | trials[n], mu[n]))" in binomial.code
    assert binomial.data["weights"] == pytest.approx(data["w"] / data["w"].mean())
    bcg = pd.read_csv(BCG).assign(w=2.0)
    bcg.to_csv(tmp_path / "bcg.csv", index=False)
    meta = prepare(
        RunSpec(
            data=tmp_path / "bcg.csv",
            formula=("yi | se(sei, sigma = TRUE) + weights(w) ~ ablat",),
        )
    )
    assert "weights[n] * (normal_lpdf(Y[n] | mu[n], sqrt(square(sigma) + se2[n])))" in meta.code
    assert "real<lower=0> sigma;" in meta.code


# --- cens(): simulated gaussian data censored left, right and in intervals ----------------------

CENSORED = ROOT / "tests" / "data" / "censored.csv"  # y = 1 + 0.5 x + u_g + N(0, 1), censored


def test_censoring_codes_as_brms_takes_them():
    from mixfit.model.addition_terms import values

    frame = pd.DataFrame(
        {
            "y": [1.0, 2.0, 3.0, 4.0],
            "words": ["none", "Left", "right", "interval"],
            "numbers": [0, -1, 1, 2],
            "y2": [9.0, 9.0, 9.0, 4.5],
        }
    )
    y = frame["y"].to_numpy()
    for column in ("words", "numbers"):
        got = values(Additions(cens=column, cens_y2="y2"), frame, "here", y)
        assert got.cens.tolist() == [0, -1, 1, 2]
        assert got.y2.tolist() == [1.0, 2.0, 3.0, 4.5]  # only an interval's upper end is read
    right = values(Additions(cens="c"), pd.DataFrame({"c": [True, False]}), "here", y[:2])
    assert right.cens.tolist() == [1, 0]


@pytest.fixture(scope="module")
def censored(tmp_path_factory):
    work = tmp_path_factory.mktemp("censored")
    done = mixfit(
        "fit", CENSORED, "-f", "y | cens(c, y2) ~ x + (1 | g)", "-o", "out", *SETTINGS, cwd=work
    )
    assert done.returncode == 0, done.stderr
    return work / "out"


def test_censored_fit_recovers_the_truth(censored):
    fixef = pd.read_csv(censored / "fixef.csv").set_index("term")
    for term, truth in {"Intercept": 1.0, "x": 0.5}.items():
        assert abs(fixef.loc[term, "Estimate"] - truth) < 2.5 * fixef.loc[term, "Est.Error"]
    sigma = pd.read_csv(censored / "varcorr.csv").set_index("param").loc["sigma"]
    assert abs(sigma["Estimate"] - 1.0) < 2.5 * sigma["Est.Error"]
    code = (censored / "model.stan").read_text()
    assert "target += normal_lccdf(Y[n] | mu[n], sigma);" in code
    assert "log_diff_exp(normal_lcdf(rcens[n] | mu[n], sigma), normal_lcdf(Y[n]" in code


def test_censored_log_lik_in_numpy_is_stan_s(censored, tmp_path):
    """Each kind of row's log-likelihood, from predict's numpy and from the program's own."""
    import xarray as xr

    from mixfit.analysis.predict import log_lik

    with xr.open_dataset(censored / "draws.nc", group="log_likelihood", engine="h5netcdf") as s:
        stan = s["y"].values.reshape(-1, s.sizes["obs"])
    rows = pd.read_csv(CENSORED)
    ours = log_lik(censored, rows, allow_new_levels=False, sample_new_levels="uncertainty", seed=0)
    assert set(rows["c"]) == {"none", "left", "right", "interval"}
    assert np.allclose(ours, stan, rtol=1e-8, atol=1e-10)
    done = mixfit("loo", censored, cwd=tmp_path)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    "family, formula, expected",
    [
        ("lognormal", "y | cens(c) ~ x", "target += lognormal_lccdf(Y[n] | mu[n], sigma);"),
        ("student", "y | cens(c) ~ x", "target += student_t_lcdf(Y[n] | nu, mu[n], sigma);"),
        (
            "gaussian",
            "y | cens(c) + weights(w) ~ x",
            "target += weights[n] * normal_lccdf(Y[n] | mu[n], sigma);",
        ),
    ],
)
def test_censored_families_and_weights(tmp_path, family, formula, expected):
    from mixfit.pipeline import prepare
    from mixfit.spec import RunSpec

    data = pd.read_csv(CENSORED).query("c != 'interval'").assign(y=lambda d: d["y"] + 3, w=2.0)
    data.to_csv(tmp_path / "data.csv", index=False)
    prepared = prepare(RunSpec(data=tmp_path / "data.csv", formula=(formula,), family=family))
    assert expected in prepared.code and "rcens" not in prepared.code


# --- every family weighted: those whose log_lik comes from numpy on stanli -----------------------


@pytest.mark.parametrize("family", ["zero_inflated_poisson", "cumulative"])
def test_weighted_families_sample_and_their_log_lik_is_weighted(tmp_path, family):
    """A weighted zero-inflated or ordinal model samples, and its saved log_lik (numpy's on
    stanli, mixfit/results/family_predictions.py) is predict's, both times the weights."""
    import xarray as xr

    from mixfit.analysis.predict import log_lik

    rng = np.random.default_rng(5)
    x = rng.normal(size=60)
    data = pd.DataFrame(
        {
            "y": rng.poisson(np.exp(0.5 + 0.3 * x)) * (rng.random(60) > 0.2) + 1,
            "x": x,
            "g": rng.integers(0, 4, 60),
            "w": rng.integers(1, 4, 60).astype(float),
        }
    ).assign(y=lambda d: d["y"].clip(upper=4) if family == "cumulative" else d["y"] - 1)
    data.to_csv(tmp_path / "data.csv", index=False)
    done = mixfit(
        "fit", tmp_path / "data.csv", "-f", "y | weights(w) ~ x + (1 | g)", "--family", family,
        "-o", "out", "--chains", "1", "--iter", "400", "--seed", "1", "--quiet", "--no-plots",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with xr.open_dataset(tmp_path / "out" / "draws.nc", group="log_likelihood") as saved:
        stored = saved["y"].values.reshape(-1, saved.sizes["obs"])
    ours = log_lik(
        tmp_path / "out", data, allow_new_levels=False, sample_new_levels="uncertainty", seed=0
    )
    assert np.allclose(stored, ours, rtol=1e-6, atol=1e-8)
    unweighted = log_lik(
        tmp_path / "out",
        data.assign(w=1.0),
        allow_new_levels=False,
        sample_new_levels="uncertainty",
        seed=0,
    )
    assert np.allclose(ours, unweighted * data["w"].to_numpy())

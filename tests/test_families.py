"""Every family fitted with real Stan on data simulated with known values; priors and prior
predictive checks on sleepstudy.

The fits run on the default engine (stanli where installed: nothing to compile; the runtimes once
measured here were PyStan's, 5-20 minutes, most of it 14 builds). The cumulative, beta and
zero-inflated fits get their log_lik and y_rep from Python on stanli (results/family_predictions.py).

The fits run once, two at a time, in a module fixture; each test reads its results folder.
Data: sample_data/simulate_families.py (fixed seed) and its families_truth.json.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import arviz as az
import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE_DATA, read_json
from scipy import stats

TRUTH = json.loads((SAMPLE_DATA / "families_truth.json").read_text())
FAMILIES = [name for name in TRUTH if name != "epilepsy"]
SLEEP = [SAMPLE_DATA / "sleepstudy.csv", "-f", "Reaction ~ Days + (Days | Subject)"]
SHRINK = ["--prior", "normal(0, 0.1) : b", "--no-marginal"]  # one program for both sleep runs


def _family_args(name: str) -> list:
    true = TRUTH[name]
    args = [SAMPLE_DATA / true["data"], "-f", true["formula"], "--family", true["family"]]
    if true.get("levels"):
        args += ["--levels", ",".join(true["levels"])]
    for factor in true.get("factors", []):
        args += ["--factor", factor]
    return args


def _jobs() -> dict[str, list]:
    """Every fit of this module; runs sharing a compiled program are kept apart in the order."""
    fit = ["--iter", "2000", "--seed", "7", "--no-plots", "--quiet"]
    jobs = {name: _family_args(name) + fit for name in FAMILIES}
    jobs["sleep_shrunk"] = SLEEP + SHRINK + fit
    epilepsy = TRUTH["epilepsy"]
    jobs["epilepsy_poisson"] = [
        SAMPLE_DATA / epilepsy["data"],
        "-f",
        epilepsy["formula"],
        "--family",
        "poisson",
        "--factor",
        "Trt",
        *fit,
    ]
    jobs["epilepsy_negbinomial"] = _family_args("epilepsy") + fit
    # heavy-tailed priors: longer chains for the quantile checks (no likelihood, so cheap)
    jobs["sleep_prior_only"] = (
        SLEEP + SHRINK + ["--sample-prior", "only", "--iter", "4000", "--seed", "7", "--quiet"]
    )
    return jobs


@pytest.fixture(scope="module")
def fits(run_mixfit, tmp_path_factory):
    root = tmp_path_factory.mktemp("families")

    def run(item):
        name, args = item
        return name, (root / name, run_mixfit("fit", *args, "-o", root / name, timeout=1800))

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(run, _jobs().items()))


def _done(fits, name):
    out, done = fits[name]
    assert done.returncode == 0, done.stderr
    return out


def _interval(row) -> tuple[float, float]:
    return row["Q2.5"], row["Q97.5"]


@pytest.mark.parametrize("name", FAMILIES)
def test_family_covers_the_truth(fits, name):
    out = _done(fits, name)
    true = TRUTH[name]
    fixef = pd.read_csv(out / "fixef.csv").set_index("term")
    varcorr = pd.read_csv(out / "varcorr.csv").set_index(["group", "param"])
    assert list(fixef.index) == list(true["b"]), (
        "population effects (thresholds) as brms names them"
    )
    for term, value in true["b"].items():
        low, high = _interval(fixef.loc[term])
        assert low <= value <= high, (term, value, low, high)
    low, high = _interval(varcorr.loc[("g", "sd(Intercept)")])
    assert low <= true["sd"]["g"]["Intercept"] <= high, ("sd", low, high)
    residual = varcorr.loc["Residual"] if "Residual" in varcorr.index.get_level_values(0) else None
    assert sorted(true["family_params"]) == sorted([] if residual is None else residual.index)
    for param, value in true["family_params"].items():
        low, high = _interval(residual.loc[param])
        assert low <= value <= high, (param, value, low, high)
    assert max(fixef["Rhat"].max(), varcorr["Rhat"].max()) <= 1.02
    draws = az.from_netcdf(out / "draws.nc")
    response = "k" if "trials" in true["formula"] else "y"
    assert draws.log_likelihood[response].shape[-1] == len(pd.read_csv(SAMPLE_DATA / true["data"]))
    assert draws.posterior_predictive[response].shape == draws.log_likelihood[response].shape


def test_stan_code_uses_glm_functions_where_they_exist(fits):
    code = {name: (_done(fits, name) / "model.stan").read_text() for name in FAMILIES}
    assert "neg_binomial_2_log_glm_lupmf(Y | Xc, mu, b, shape) + lpmf_Y" in code["negbinomial"]
    assert "normal_id_glm_lpdf(log_Y" in code["lognormal"]
    assert "ordered_logistic_lpmf(Y | mu, Intercept)" in code["cumulative_logit"]
    assert "ordered_probit_lpmf(Y | mu, Intercept)" in code["cumulative_probit"]
    assert "bernoulli_lpmf(Y | Phi(mu))" in code["bernoulli_probit"]
    assert "binomial_lpmf(Y | trials, inv_cloglog(mu))" in code["binomial_cloglog"]
    # nu >= 1: its gamma(2, 0.1) prior is normalised above 1, as brms does
    assert "gamma_lccdf(1 | prior_nu_gamma[1], prior_nu_gamma[2])" in code["student"]


def test_ordinal_text_response_with_levels(fits):
    out = _done(fits, "cumulative_logit")
    summary = (out / "summary.txt").read_text()
    assert "Levels: none < mild < moderate < severe" in summary
    prior = pd.read_csv(out / "prior.csv", keep_default_na=False)
    thresholds = prior[(prior["class"] == "Intercept") & (prior["coef"] != "")]
    assert thresholds["coef"].tolist() == ["1", "2", "3"]
    assert set(thresholds["prior"]) == {"student_t(3, 0, 2.5)"}


@pytest.mark.parametrize("family", ["poisson", "negbinomial"])
def test_epilepsy_counts_run_clean(fits, family):
    out = _done(fits, f"epilepsy_{family}")
    diagnostics = read_json(out / "diagnostics.json")
    assert diagnostics["ok"], diagnostics["failed_checks"]
    fixef = pd.read_csv(out / "fixef.csv").set_index("term")
    assert list(fixef.index) == ["Intercept", "zAge", "zBase", "Trt1", "zBase:Trt1"]
    if family == "negbinomial":  # the simulated truth is negative binomial: the intervals cover it
        for term, value in TRUTH["epilepsy"]["b"].items():
            low, high = _interval(fixef.loc[term])
            assert low <= value <= high, term


def test_prior_on_b_shrinks_days_as_the_normal_normal_update(fits):
    """normal(0, 0.1) on b: Days's posterior is the conjugate normal-normal update.

    sleepstudy is balanced (18 subjects x days 0..9), so given the other parameters the data's
    estimate of the Days effect is the mean of the subjects' least-squares slopes, with variance
    (sd(Days)^2 + sigma^2 / Sxx) / 18; sd(Days) and sigma are taken from this fit, where sd(Days)
    has grown to carry the slope the prior takes from b. The posterior mean is the
    precision-weighted mean of that estimate and the prior's 0.
    """
    out = _done(fits, "sleep_shrunk")
    shrunk = pd.read_csv(out / "fixef.csv").set_index("term").loc["Days"]
    varcorr = pd.read_csv(out / "varcorr.csv").set_index("param")["Estimate"]
    data = pd.read_csv(SAMPLE_DATA / "sleepstudy.csv")
    slopes = data.groupby("Subject").apply(lambda s: np.polyfit(s["Days"], s["Reaction"], 1)[0])
    sxx = ((np.arange(10) - 4.5) ** 2).sum()
    variance = (varcorr["sd(Days)"] ** 2 + varcorr["sigma"] ** 2 / sxx) / len(slopes)
    data_precision, prior_precision = 1 / variance, 0.1**-2
    expected_mean = slopes.mean() * data_precision / (data_precision + prior_precision)
    expected_sd = (data_precision + prior_precision) ** -0.5
    assert slopes.mean() == pytest.approx(10.467, abs=1e-3)  # lme4's and brms's estimate, unshrunk
    assert shrunk["Estimate"] == pytest.approx(expected_mean, abs=0.25 * expected_sd)
    assert shrunk["Est.Error"] == pytest.approx(expected_sd, rel=0.1)


def test_sample_prior_only_draws_match_the_priors(fits):
    out = _done(fits, "sleep_prior_only")
    posterior = az.from_netcdf(out / "draws.nc").posterior
    t = stats.t(3, 0, 59.3)  # the half student_t's CDF is 2 * F(x) - 1
    # the prior is on the intercept of centred predictors: Days's mean in sleepstudy is 4.5
    centred = posterior["b_Intercept"].values + 4.5 * posterior["b_Days"].values
    expected = {
        "b_Days": (posterior["b_Days"].values, stats.norm(0, 0.1).cdf),
        "b_Intercept(centred)": (centred, stats.t(3, 288.7, 59.3).cdf),
        "sd_Subject__Intercept": (
            posterior["sd_Subject__Intercept"].values,
            lambda x: 2 * t.cdf(x) - 1,
        ),
        "sd_Subject__Days": (posterior["sd_Subject__Days"].values, lambda x: 2 * t.cdf(x) - 1),
        "sigma": (posterior["sigma"].values, lambda x: 2 * t.cdf(x) - 1),
        "cor": (posterior["cor_Subject__Intercept__Days"].values, stats.uniform(-1, 2).cdf),
    }
    for name, (draws, cdf) in expected.items():
        draws = draws.ravel()
        for p in (0.1, 0.25, 0.5, 0.75, 0.9):
            # the prior's CDF at the draws' p-quantile is p, up to Monte Carlo error
            assert cdf(np.quantile(draws, p)) == pytest.approx(p, abs=0.04), (name, p)
    summary = (out / "summary.txt").read_text()
    assert summary.startswith("PRIOR PREDICTIVE CHECK: sampled from the prior only")
    assert read_json(out / "run.json")["sample_prior"] == "only"
    ppc = az.from_netcdf(out / "draws.nc").posterior_predictive["Reaction"].values
    assert ppc.std() > 50  # draws from the prior predictive, far wider than the data's 56


def test_sample_prior_only_refuses_flat_priors(run_mixfit, tmp_path):
    done = run_mixfit("fit", *SLEEP, "--sample-prior", "only", "-o", tmp_path / "out")
    assert done.returncode == 2
    assert "b (Days) has a flat prior" in done.stderr
    assert not (tmp_path / "out").exists()


def test_same_structure_compiles_once(fits):
    """The shrunk fit and the prior-only run share one program: prior_only is data."""
    codes = {
        (_done(fits, n) / "model.stan").read_text() for n in ("sleep_shrunk", "sleep_prior_only")
    }
    assert len(codes) == 1


# ---- response checks and family choice: no Stan ------------------------------------------------


def _design(family: str, y, levels=()):
    from mixfit.model.design import build_design
    from mixfit.model.families import choose_family
    from mixfit.model.formula import parse_formula

    frame = pd.DataFrame(
        {"y": y, "x": np.arange(len(y), dtype=float), "g": ["a", "b"] * (len(y) // 2)}
    )
    return build_design(parse_formula("y ~ x + (1 | g)"), choose_family(family, levels), frame)


@pytest.mark.parametrize(
    "family, y, phrase",
    [
        ("negbinomial", [1, -2, 3, 4], "non-negative count"),
        ("zero_inflated_poisson", [1, 2.5, 3, 4], "whole numbers"),
        ("beta", [0.2, 1.0, 0.3, 0.4], "strictly between 0 and 1"),
        ("beta", [0.2, 0.0, 0.3, 0.4], "strictly between 0 and 1"),
        ("Gamma", [1.0, 0.0, 2.0, 3.0], "above 0"),
        ("lognormal", [1.0, -1.0, 2.0, 3.0], "above 0"),
        ("student", ["a", "b", "c", "d"], "must be numeric"),
        ("cumulative", ["low", "high", "mid", "low"], "give the order of its categories"),
        ("cumulative", [1, 2.5, 3, 1], "whole numbers"),
        ("cumulative", [2, 2, 2, 2], "single category"),
        ("poisson", [1, 2, 3, 2**63], "too large for Stan's integers"),
        ("poisson", [1, 2, 3, 2**31], "too large for Stan's integers"),
        ("cumulative", [0, 1, 2, 5000], "spans 5,001 categories"),
        ("cumulative", [0, 1, 2, 1e300], "too large for Stan's integers"),
        ("gaussian", ["249.56", "245.3 ms", "250", "none"], "found text: '245.3 ms', 'none'"),
    ],
)
def test_response_checks(family, y, phrase):
    from mixfit.errors import InputError

    with pytest.raises(InputError, match=phrase):
        _design(family, pd.Series(y))


def test_ordinal_levels():
    from mixfit.errors import InputError

    design = _design("cumulative", pd.Series(["low", "high", "mid", "low"]), ("low", "mid", "high"))
    assert design.response.values.tolist() == [1, 3, 2, 1]
    with pytest.raises(InputError, match="not among the levels"):
        _design("cumulative", pd.Series(["low", "top", "mid", "low"]), ("low", "mid", "high"))
    # integers: every whole number from the lowest to the highest is a category
    design = _design("cumulative(link=probit)", pd.Series([2, 5, 3, 2]))
    assert design.response.values.tolist() == [1, 4, 2, 1]
    assert design.response.categories == ("2", "3", "4", "5")


@pytest.mark.parametrize(
    "family, levels, phrase",
    [
        (
            "gaussian",
            ("a", "b"),
            "levels order the categories of an ordinal or categorical response",
        ),
        ("cumulative", ("a", "a"), "at least two distinct"),
        ("poisson(link=identity)", (), "has no link 'identity'"),
        ("cumulative(link=cloglog)", (), "links: logit, probit"),
    ],
)
def test_family_choice_errors(family, levels, phrase):
    from mixfit.errors import InputError
    from mixfit.model.families import choose_family

    with pytest.raises(InputError, match=phrase):
        choose_family(family, levels)


def test_family_names_and_links_parse_from_flags_and_yaml():
    from mixfit.model.families import choose_family

    assert str(choose_family("gamma")) == "Gamma(link = log)"
    assert (
        str(choose_family({"name": "bernoulli", "link": "cloglog"})) == "bernoulli(link = cloglog)"
    )
    assert str(choose_family("binomial(link=probit)")) == "binomial(link = probit)"


def test_bad_levels_flag_is_one_line_and_exit_2(run_mixfit, tmp_path):
    done = run_mixfit(
        "stancode",
        SAMPLE_DATA / "family_cumulative_logit.csv",
        "-f",
        "y ~ x + (1 | g)",
        "--family",
        "cumulative",
        "--levels",
        "none,mild,severe",
    )
    assert done.returncode == 2
    message = (
        "mixfit: error: response 'y' has values not among the levels none, mild, severe "
        "(found: 'moderate')"
    )
    assert done.stderr.strip().splitlines() == [message]

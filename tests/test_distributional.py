"""Distributional regression (issue 22): a formula for a family parameter, on the model stage of
predictors built from term kinds.

Measured on the 2-core machine while shared: Orthodont against brms (4 x 2000) about 15 s; each
recovery fit (2 x 1000 on a few hundred simulated rows) 5-10 s; the chain-array run 15 s.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, fit_as_chain_jobs, mixfit, read_json

from mixfit.errors import InputError
from mixfit.model.formulas import parse_formulas

ORTHODONT = ROOT / "tests" / "data" / "Orthodont.csv"
REFERENCE = ROOT / "tests" / "reference" / "orthodont_sigma.json"


# --- the formulas ----------------------------------------------------------------------------


def test_formulas_given_apart_or_in_bf_are_the_same_model():
    apart = parse_formulas(["y ~ x + (1 | g)", "sigma ~ z + (1 | g)"])
    pasted = parse_formulas("bf(y ~ x + (1 | g), sigma ~ z + (1 | g))")
    assert apart == pasted
    assert list(apart.parts) == ["mu", "sigma"]
    assert apart.dpars["sigma"].fixed == "z"


def test_an_id_between_bars_names_the_block():
    parsed = parse_formulas(["y ~ x + (x | p | g)", "sigma ~ (1 | p | g)"])
    assert parsed.mu.groups[0].id == "p" and parsed.dpars["sigma"].groups[0].id == "p"
    assert parse_formulas("y ~ (1 | g)").mu.groups[0].id is None


@pytest.mark.parametrize(
    "formulas, phrase",
    [
        (["y ~ x", "sigma ~ x", "sigma ~ z"], "given a formula twice"),
        (["y ~ x", "y ~ z"], "a second formula for the response"),
        (["y ~ x", "sigma | trials(n) ~ x"], "no addition terms"),
        ("bf(y ~ x, nl = TRUE)", "bf() options"),
        (["bf(y ~ x)", "sigma ~ 1"], "give it alone"),
        (["y ~ (1 | a | b | g)"], "one name"),
    ],
)
def test_bad_formulas_are_refused_naming_the_problem(formulas, phrase):
    with pytest.raises(InputError, match=phrase.replace("(", r"\(").replace(")", r"\)")):
        parse_formulas(formulas)


# --- Orthodont: brms 2.18's fit of bf(distance ~ age * Sex + (age | Subject), sigma ~ Sex) ----


@pytest.fixture(scope="module")
def orthodont(tmp_path_factory):
    """mixfit's fit of the reference model with brms's settings (4 x 2000, defaults)."""
    work = tmp_path_factory.mktemp("orthodont")
    done = mixfit(
        "fit",
        ORTHODONT,
        "-f",
        "distance ~ age * Sex + (age | Subject)",
        "-f",
        "sigma ~ Sex",
        "-o",
        "out",
        "--seed",
        "1",
        "--quiet",
        "--no-plots",
        cwd=work,
    )
    assert done.returncode == 0, done.stderr
    return work / "out", done


def test_orthodont_agrees_with_brms(orthodont):
    out, done = orthodont
    brms = read_json(REFERENCE)["brms"]
    fixef = pd.read_csv(out / "fixef.csv").set_index("term")
    for row in brms[
        "fixed"
    ]:  # Intercept, sigma_Intercept, age, SexMale, age:SexMale, sigma_SexMale
        ours = fixef.loc[row["_row"]]
        assert abs(ours["Estimate"] - row["Estimate"]) < 0.3 * row["Est.Error"], row["_row"]
    varcorr = pd.read_csv(out / "varcorr.csv").set_index("param")
    for row in brms["random"]["Subject"]:
        if row["_row"].startswith("sd("):
            ours = varcorr.loc[row["_row"], "Estimate"]
            assert abs(ours / row["Estimate"] - 1) < 0.15, row["_row"]
    assert "sigma" not in varcorr.index  # a parameter with a formula is among fixef's rows
    assert "Links: mu = identity; sigma = log" in done.stdout
    assert "         sigma ~ Sex" in done.stdout  # brms prints each formula on a line


def test_orthodont_draws_and_tables_use_brms_names(orthodont):
    import arviz as az

    out, _ = orthodont
    posterior = az.from_netcdf(out / "draws.nc").posterior
    for name in ("b_Intercept", "b_sigma_Intercept", "b_sigma_SexMale", "sd_Subject__age"):
        assert name in posterior, name
    assert "sigma" not in posterior
    prior = pd.read_csv(out / "prior.csv", keep_default_na=False)
    rows = prior[(prior["class"] == "Intercept") & (prior["dpar"] == "sigma")]
    assert rows["prior"].tolist() == ["student_t(3, 0, 2.5)"]  # brms's default for dpar sigma
    assert read_json(out / "run.json")["formulas"] == [
        "distance ~ age * Sex + (age | Subject)",
        "sigma ~ Sex",
    ]


def test_predict_gives_each_rows_sigma_and_uses_it(orthodont, tmp_path):
    out, _ = orthodont
    rows = pd.DataFrame({"age": [8, 8], "Subject": ["M01", "F01"], "Sex": ["Male", "Female"]})
    rows.to_csv(tmp_path / "new.csv", index=False)
    done = mixfit("predict", out, "new.csv", "--dpar", "sigma", "-o", "sigma.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    sigma = pd.read_csv(tmp_path / "sigma.csv")["Estimate"].to_numpy()
    fixef = pd.read_csv(out / "fixef.csv").set_index("term")["Estimate"]
    boys_over_girls = np.exp(fixef["sigma_SexMale"])
    assert sigma[0] / sigma[1] == pytest.approx(boys_over_girls, rel=0.1)
    done = mixfit(
        "predict",
        out,
        "new.csv",
        "--type",
        "prediction",
        "--seed",
        "3",
        "-o",
        "y.csv",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    spread = pd.read_csv(tmp_path / "y.csv")["Est.Error"].to_numpy()
    assert spread[0] > spread[1]  # the boys' own, larger sigma widens their predictions


def test_effects_and_hypothesis_on_sigma(orthodont, tmp_path):
    out, _ = orthodont
    done = mixfit("effects", out, "--effect", "Sex", "--dpar", "sigma", "-o", "e.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(tmp_path / "e.csv").set_index("Sex")
    assert table.loc["Male", "estimate__"] > table.loc["Female", "estimate__"]
    done = mixfit("hypothesis", out, "sigma_SexMale > 0", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["Post.Prob"] > 0.99
    done = mixfit("effects", out, "--effect", "age", "--dpar", "sigma", "-o", "e.csv", cwd=tmp_path)
    assert done.returncode == 2 and "not a population-level predictor of sigma" in done.stderr
    done = mixfit("predict", out, "e.csv", "--dpar", "nu", cwd=tmp_path)
    assert done.returncode == 2 and "has no formula" in done.stderr


def test_loo_of_the_distributional_model_is_brms_s(orthodont, tmp_path):
    out, _ = orthodont
    done = mixfit("loo", out, "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    ours = json.loads(done.stdout)["loo"]["out"]["elpd_loo"]
    elpd, se = read_json(REFERENCE)["brms"]["elpd_loo"]
    assert abs(ours["Estimate"] - elpd) < 0.5 * se


# --- recovery on simulated data ------------------------------------------------------------


def _simulate(family: str, seed: int = 11, groups: int = 24, per: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(groups), per)
    x = rng.normal(size=g.size)
    z = rng.binomial(1, 0.5, size=g.size)
    frame = pd.DataFrame({"x": x, "z": z, "g": [f"g{k:02d}" for k in g]})
    if family == "gaussian":  # (1 | p | g) in both: intercepts correlated 0.6 across mu and sigma
        cov = np.array([[0.8**2, 0.6 * 0.8 * 0.4], [0.6 * 0.8 * 0.4, 0.4**2]])
        u = rng.multivariate_normal([0, 0], cov, size=groups)
        sigma = np.exp(-0.5 + 0.7 * z + u[g, 1])
        frame["y"] = 2 + 0.5 * x + u[g, 0] + sigma * rng.normal(size=g.size)
    elif family == "zero_inflated_poisson":
        zi = 1 / (1 + np.exp(-(-0.5 + 1.0 * x)))
        counts = rng.poisson(np.exp(1.0 + 0.3 * x + rng.normal(0, 0.3, groups)[g]))
        frame["y"] = np.where(rng.random(g.size) < zi, 0, counts)
    elif family == "beta":
        mu = 1 / (1 + np.exp(-(-0.3 + 0.5 * x)))
        phi = np.exp(2.0 + 0.8 * x)
        frame["y"] = np.clip(rng.beta(mu * phi, (1 - mu) * phi), 1e-6, 1 - 1e-6)
    elif family == "negbinomial":
        mean = np.exp(1.5 + 0.4 * x + rng.normal(0, 0.3, groups)[g])
        shape = np.exp(0.5 + 0.8 * z)
        frame["y"] = rng.poisson(rng.gamma(shape, mean / shape))
    return frame


RECOVERY = {
    # family: (formulas, truth of the effects checked)
    "gaussian": (
        ["y ~ x + (1 | p | g)", "sigma ~ z + (1 | p | g)"],
        {
            "Intercept": 2,
            "x": 0.5,
            "sigma_Intercept": -0.5,
            "sigma_z": 0.7,
            "sd(Intercept)": 0.8,
            "sd(sigma_Intercept)": 0.4,
            "cor(Intercept,sigma_Intercept)": 0.6,
        },
    ),
    "zero_inflated_poisson": (
        ["y ~ x + (1 | g)", "zi ~ x"],
        {"Intercept": 1.0, "x": 0.3, "zi_Intercept": -0.5, "zi_x": 1.0},
    ),
    "beta": (["y ~ x", "phi ~ x"], {"Intercept": -0.3, "x": 0.5, "phi_Intercept": 2, "phi_x": 0.8}),
    "negbinomial": (
        ["y ~ x + (1 | g)", "shape ~ z"],
        {"Intercept": 1.5, "x": 0.4, "shape_Intercept": 0.5, "shape_z": 0.8},
    ),
}


@pytest.mark.parametrize("family", list(RECOVERY))
def test_a_parameters_formula_recovers_its_effects(family, tmp_path):
    formulas, truth = RECOVERY[family]
    _simulate(family).to_csv(tmp_path / "sim.csv", index=False)
    args = [a for f in formulas for a in ("-f", f)]
    done = mixfit(
        "fit",
        "sim.csv",
        *args,
        "--family",
        family,
        "-o",
        "out",
        "--chains",
        "2",
        "--iter",
        "1000",
        "--seed",
        "2",
        "--quiet",
        "--no-plots",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    table = pd.concat(
        [
            pd.read_csv(tmp_path / "out" / "fixef.csv").set_index("term"),
            pd.read_csv(tmp_path / "out" / "varcorr.csv").set_index("param"),
        ]
    )
    for name, value in truth.items():
        row = table.loc[name]
        assert row["Q2.5"] - row["Est.Error"] < value < row["Q97.5"] + row["Est.Error"], (
            name,
            value,
            row["Estimate"],
            row["Est.Error"],
        )


def test_chains_as_jobs_and_combine_give_a_distributional_fit(tmp_path):
    _simulate("gaussian").to_csv(tmp_path / "sim.csv", index=False)
    spec = {
        "data": "sim.csv",
        "formula": ["y ~ x + (1 | g)", "sigma ~ z + (1 | g)"],
        "backend": "stanli",
        "sampler": {"chains": 2, "iter": 400, "seed": 5},
    }
    fit_as_chain_jobs(spec, tmp_path)
    fixef = pd.read_csv(tmp_path / "out" / "fixef.csv").set_index("term")
    assert {"sigma_Intercept", "sigma_z"} <= set(fixef.index)
    assert "sd(sigma_Intercept)" in set(pd.read_csv(tmp_path / "out" / "varcorr.csv")["param"])


def test_threads_give_the_same_posterior(tmp_path):
    """reduce_sum's slices compute every predictor: sigma's too."""
    _simulate("gaussian").to_csv(tmp_path / "sim.csv", index=False)
    estimates = []
    for threads in ("1", "2"):
        done = mixfit(
            "fit",
            "sim.csv",
            "-f",
            "y ~ x + (1 | g)",
            "-f",
            "sigma ~ z",
            "-o",
            f"t{threads}",
            "--chains",
            "2",
            "--iter",
            "800",
            "--seed",
            "4",
            "--threads-per-chain",
            threads,
            "--quiet",
            "--no-plots",
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
        estimates.append(pd.read_csv(tmp_path / f"t{threads}" / "fixef.csv").set_index("term"))
    one, two = estimates
    assert "partial_log_lik" in (tmp_path / "t2" / "model.stan").read_text()
    assert (abs(one["Estimate"] - two["Estimate"]) < 0.3 * one["Est.Error"]).all()


def test_the_program_depends_on_structure_only(tmp_path):
    """Two data sets of other sizes, levels and priors: the same Stan program."""
    codes = []
    for seed, groups in ((1, 10), (2, 30)):
        _simulate("gaussian", seed=seed, groups=groups).to_csv(tmp_path / "sim.csv", index=False)
        done = mixfit(
            "stancode",
            "sim.csv",
            "-f",
            "y ~ x + (1 | p | g)",
            "-f",
            "sigma ~ z + (1 | p | g)",
            "--prior",
            f"normal(0, {seed}) : b_sigma",
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
        codes.append(done.stdout)
    assert codes[0] == codes[1]
    assert "first_1_sigma" in codes[0]  # the ID's block feeds both predictors

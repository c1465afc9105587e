"""End-to-end fits with real Stan, checked against brms's reference results and simulated truth.

They run on the default engine, stanli where it is installed (nothing to compile; PyStan would
build each structure once, about a minute); the radon fit reuses the sleepstudy program.
"""

from __future__ import annotations

import json

import arviz as az
import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE, SAMPLE_DATA, read_json

from mixfit.engines import stanli
from mixfit.results.arviz_api import group_names

FIXEF_COLUMNS = ["term", "Estimate", "Est.Error", "Q2.5", "Q97.5", "Rhat", "Bulk_ESS", "Tail_ESS"]
RANEF_COLUMNS = ["group", "level", "term", "Estimate", "Est.Error", "Q2.5", "Q97.5"]


@pytest.fixture(scope="module")
def sleepstudy(sleepstudy_fit):
    return sleepstudy_fit


@pytest.fixture(scope="module")
def radon(run_mixfit, sleepstudy, tmp_path_factory):
    out = tmp_path_factory.mktemp("fits") / "radon"
    done = run_mixfit(
        "fit",
        SAMPLE_DATA / "radon.csv",
        "-f",
        "log_radon ~ floor + log_uranium + (1 + floor | county)",
        "-o",
        out,
        "--seed",
        "2",
    )
    assert done.returncode == 0, done.stderr
    return out, done


def brms_rows(reference: dict, group: str) -> dict[str, dict]:
    brms = reference["brms"]
    rows = brms["fixed"] + brms["random"][group] + brms["spec_pars"]
    return {row["_row"]: row for row in rows}


def check_against_brms(out, reference_name: str, group: str) -> None:
    reference = brms_rows(read_json(REFERENCE / reference_name), group)
    fixef = pd.read_csv(out / "fixef.csv").set_index("term")
    for term, row in fixef.iterrows():
        ref = reference[term]
        assert abs(row["Estimate"] - ref["Estimate"]) <= 0.25 * ref["Est.Error"], term
    varcorr = pd.read_csv(out / "varcorr.csv").set_index("param")
    for param, row in varcorr.iterrows():
        if param.startswith("cor("):
            continue
        ref = reference[param]["Estimate"]
        assert abs(row["Estimate"] - ref) <= 0.10 * ref, param
    assert max(fixef["Rhat"].max(), varcorr["Rhat"].max()) <= 1.01
    draws = az.from_netcdf(out / "draws.nc")
    assert int(draws.sample_stats["diverging"].sum()) == 0


def test_sleepstudy_leaves_every_file_with_brms_columns(sleepstudy):
    out, done = sleepstudy
    for name in ["model.stan", "standata.json", "draws.nc", "fixef.csv", "ranef.csv", "run.json"]:
        assert (out / name).is_file(), name
    assert list(pd.read_csv(out / "fixef.csv").columns) == FIXEF_COLUMNS
    assert list(pd.read_csv(out / "ranef.csv").columns) == RANEF_COLUMNS
    draws = az.from_netcdf(out / "draws.nc")
    assert {"posterior", "sample_stats", "observed_data"} <= group_names(draws)
    run = read_json(out / "run.json")
    assert run["rows_used"] == 180 and run["rows_dropped"] == 0 and run["seed"] == 1
    assert run["backend"] == ("stanli" if stanli.unavailable() is None else run["backend"])
    assert run["backend_reason"].startswith(f"auto: {run['backend']}")
    assert "Group-Level Effects:" in done.stdout and "sd(Days)" in done.stdout
    assert "Population-Level Effects:" in done.stdout and "sigma" in done.stdout


def test_sleepstudy_matches_brms(sleepstudy):
    out, _ = sleepstudy
    check_against_brms(out, "sleepstudy.json", "Subject")


def test_sleepstudy_subject_308_deviations_match_brms(sleepstudy):
    out, _ = sleepstudy
    reference = read_json(REFERENCE / "sleepstudy.json")["brms"]["ranef"]["Subject"]
    ranef = pd.read_csv(out / "ranef.csv", dtype={"level": str})
    mine = ranef[ranef["level"] == "308"].set_index("term")
    assert set(mine.index) == {"Intercept", "Days"}
    for term, rows in reference.items():
        ref = next(r for r in rows if r["_row"] == "308")
        assert abs(mine.loc[term, "Estimate"] - ref["Estimate"]) <= 0.25 * ref["Est.Error"], term


def test_radon_matches_brms(radon):
    out, _ = radon
    check_against_brms(out, "radon.json", "county")


def test_radon_reuses_the_sleepstudy_program(sleepstudy, radon):
    assert (sleepstudy[0] / "model.stan").read_text() == (radon[0] / "model.stan").read_text()
    run = read_json(radon[0] / "run.json")
    if run["backend"] == "stanli":  # nothing to build or cache: the program loads at once
        assert run["model_from_cache"] is False and run["compile_seconds"] < 1
    else:
        assert run["model_from_cache"] is True and run["compile_seconds"] < 10


def test_same_seed_gives_identical_draws(run_mixfit, sleepstudy, tmp_path):
    posteriors = []
    for name in ("a", "b"):
        done = run_mixfit(
            "fit",
            SAMPLE_DATA / "sleepstudy.csv",
            "-f",
            "Reaction ~ Days + (Days | Subject)",
            "-o",
            tmp_path / name,
            "--seed",
            "7",
            "--chains",
            "2",
            "--iter",
            "300",
            "--quiet",
        )
        assert done.returncode == 0, done.stderr
        posteriors.append(az.from_netcdf(tmp_path / name / "draws.nc").posterior)
    for var in ("b_Days", "sd_Subject__Days", "sigma", "r_Subject"):
        np.testing.assert_array_equal(posteriors[0][var].values, posteriors[1][var].values)
    assert posteriors[0]["b_Days"].shape == (2, 150)


def truth(name: str) -> dict:
    return json.loads((SAMPLE_DATA / "truth.json").read_text())[name]


def check_covers_truth(out, true: dict) -> None:
    fixef = pd.read_csv(out / "fixef.csv").set_index("term")
    for term, value in true["b"].items():
        assert fixef.loc[term, "Q2.5"] <= value <= fixef.loc[term, "Q97.5"], term
    varcorr = pd.read_csv(out / "varcorr.csv").set_index(["group", "param"])
    for group, terms in true["sd"].items():
        for term, value in terms.items():
            row = varcorr.loc[(group, f"sd({term})")]
            assert row["Q2.5"] <= value <= row["Q97.5"], (group, term)
    # crossed intercepts mix more slowly than sleepstudy; coverage is what is tested here
    assert max(fixef["Rhat"].max(), varcorr["Rhat"].max()) <= 1.05


@pytest.mark.parametrize("name", ["bernoulli_crossed", "poisson_crossed"])
def test_crossed_simulations_cover_the_truth(run_mixfit, tmp_path, name):
    true = truth(name)
    done = run_mixfit(
        "fit",
        SAMPLE_DATA / f"{name}.csv",
        "-f",
        true["formula"],
        "--family",
        true["family"],
        "-o",
        tmp_path / name,
        "--seed",
        "3",
    )
    assert done.returncode == 0, done.stderr
    check_covers_truth(tmp_path / name, true)
    if name == "bernoulli_crossed":
        assert "'treated' taken as 1" not in done.stdout  # y is 0/1 already; trt is a predictor


def test_binomial_with_trials(run_mixfit, tmp_path):
    raw = pd.read_csv(SAMPLE_DATA / "bernoulli_crossed.csv")
    grouped = raw.groupby(["subject", "trt"], as_index=False).agg(k=("y", "sum"), n=("y", "size"))
    grouped.to_csv(tmp_path / "binomial.csv", index=False)
    done = run_mixfit(
        "fit",
        tmp_path / "binomial.csv",
        "-f",
        "k | trials(n) ~ trt + (1 | subject)",
        "--family",
        "binomial",
        "-o",
        tmp_path / "out",
        "--seed",
        "4",
        "--iter",
        "1000",
    )
    assert done.returncode == 0, done.stderr
    fixef = pd.read_csv(tmp_path / "out" / "fixef.csv").set_index("term")
    treated = fixef.loc["trttreated"]
    assert treated["Q2.5"] <= 0.6 <= treated["Q97.5"]
    assert "binomial_logit_glm_lupmf" in (tmp_path / "out" / "model.stan").read_text()


def test_intercept_only_dyestuff_matches_brms(run_mixfit, tmp_path):
    """No population-level slopes at all: b is empty, which every step must carry through."""
    done = run_mixfit(
        "fit",
        SAMPLE_DATA / "Dyestuff.csv",
        "-f",
        "Yield ~ 1 + (1 | Batch)",
        "-o",
        tmp_path / "out",
        "--seed",
        "1",
        "--no-plots",
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    assert list(pd.read_csv(tmp_path / "out" / "fixef.csv")["term"]) == ["Intercept"]
    check_against_brms(tmp_path / "out", "dyestuff.json", "Batch")

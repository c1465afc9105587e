"""draws.nc under brms's names: b_*, sd_*, cor_*, family parameters, r_<group> with labelled
dimensions; Stan's internal variables left out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import SAMPLE_DATA

from mixfit.engines.protocol import Draws
from mixfit.pipeline import prepare
from mixfit.results.inference import to_inference_data
from mixfit.results.naming import brms_posterior
from mixfit.spec import build_spec

az = pytest.importorskip("arviz")


def test_sleepstudy_draws_carry_brms_names(sleepstudy_fit):
    out, _ = sleepstudy_fit
    posterior = az.from_netcdf(out / "draws.nc").posterior
    assert list(posterior.data_vars) == [
        "b_Intercept",
        "b_Days",
        "sd_Subject__Intercept",
        "sd_Subject__Days",
        "cor_Subject__Intercept__Days",
        "sigma",
        "r_Subject",
    ]
    r = posterior["r_Subject"]
    assert r.dims == ("chain", "draw", "Subject", "Subject__term")
    assert list(r["Subject__term"].values) == ["Intercept", "Days"]
    assert "308" in r["Subject"].values and len(r["Subject"]) == 18
    # the same numbers the tables summarise
    ranef = pd.read_csv(out / "ranef.csv", dtype={"level": str}).set_index(["level", "term"])
    for level in ("308", "372"):
        for term in ("Intercept", "Days"):
            draws = r.sel(Subject=level, Subject__term=term).values
            assert ranef.loc[(level, term), "Estimate"] == pytest.approx(
                draws.mean(), rel=1e-5
            )  # CSVs: 6 digits
    varcorr = pd.read_csv(out / "varcorr.csv").set_index("param")["Estimate"]
    assert varcorr["cor(Intercept,Days)"] == pytest.approx(
        float(posterior["cor_Subject__Intercept__Days"].mean()), rel=1e-5
    )
    sd_days = float(posterior["sd_Subject__Days"].mean())
    assert varcorr["sd(Days)"] == pytest.approx(sd_days, rel=1e-5)
    # predictions and the log-likelihood keep the response's name
    draws = az.from_netcdf(out / "draws.nc")
    assert list(draws.log_likelihood.data_vars) == ["Reaction"]
    assert list(draws.posterior_predictive.data_vars) == ["Reaction"]


def test_blocks_of_one_group_share_one_r_variable(run_mixfit, tmp_path):
    out = tmp_path / "out"
    done = run_mixfit(
        "fit",
        SAMPLE_DATA / "sleepstudy.csv",
        "-f",
        "Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)",
        "-o",
        out,
        "--chains",
        "2",
        "--iter",
        "300",
        "--seed",
        "1",
        "--no-plots",
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    posterior = xr.open_dataset(out / "draws.nc", group="posterior", engine="h5netcdf")
    names = set(posterior.data_vars)
    assert {"sd_Subject__Intercept", "sd_Subject__Days", "r_Subject"} <= names
    assert not any(n.startswith(("cor_", "z_", "L_", "r_1", "r_2", "sd_1")) for n in names)
    assert list(posterior["r_Subject"]["Subject__term"].values) == ["Intercept", "Days"]
    coef = pd.read_csv(out / "coef.csv", dtype={"level": str}).set_index(["level", "term"])
    days = posterior["b_Days"] + posterior["r_Subject"].sel(Subject="335", Subject__term="Days")
    assert coef.loc[("335", "Days"), "Estimate"] == pytest.approx(float(days.mean()), rel=1e-5)


def fake_stan_draws(model, chains: int = 2, draws: int = 5) -> xr.Dataset:
    """The Stan program's variables, shaped as an engine returns them, through inference.py."""
    rng = np.random.default_rng(1)
    design = model.design
    shape = (chains, draws)
    posterior = {"b": rng.normal(size=shape + (len(design.coefs),))}
    if model.thresholds:
        posterior["Intercept"] = np.sort(rng.normal(size=shape + (len(model.thresholds),)))
        posterior["b_Intercept"] = posterior["Intercept"] + 1.0
    for param in model.family.params:
        posterior[param.name] = rng.uniform(0.5, 1, shape)
    for block in design.blocks:
        terms, levels = len(block.terms), len(block.levels)
        posterior[f"sd_{block.id}"] = rng.uniform(0.5, 1, shape + (terms,))
        posterior[f"z_{block.id}"] = rng.normal(size=shape + (terms, levels))
        posterior[f"r_{block.id}"] = rng.normal(size=shape + (levels, terms))
    stats = {"diverging": np.zeros(shape, dtype=bool)}
    return to_inference_data(model, Draws(posterior, stats, 0.0)).posterior


def test_ordinal_thresholds_are_b_intercept_with_a_threshold_dimension():
    spec = build_spec(
        {},
        {
            "data": SAMPLE_DATA / "family_cumulative_logit.csv",
            "formula": "y ~ x + (1 | g)",
            "family": "cumulative",
            "levels": ("none", "mild", "moderate", "severe"),
        },
    )
    model = prepare(spec).model
    stan = fake_stan_draws(model)
    named = brms_posterior(model, stan)
    assert list(named.data_vars) == ["b_Intercept", "b_x", "sd_g__Intercept", "r_g"]
    assert named["b_Intercept"].dims == ("chain", "draw", "threshold")
    assert list(named["threshold"].values) == [1, 2, 3]
    np.testing.assert_array_equal(named["b_Intercept"].values, stan["b_Intercept"].values)
    np.testing.assert_array_equal(named["b_x"].values, stan["b"].values[:, :, 0])
    np.testing.assert_array_equal(named["r_g"].values, stan["r_1"].values)


def test_a_group_named_like_a_parameter_gets_a_level_dimension_of_its_own(tmp_path):
    data = pd.DataFrame(
        {
            "y": np.arange(12.0) % 5,
            "x": np.arange(12.0),
            "sigma": ["a", "b", "c"] * 4,
        }
    )
    data.to_csv(tmp_path / "d.csv", index=False)
    model = prepare(
        build_spec({}, {"data": tmp_path / "d.csv", "formula": "y ~ x + (1 | sigma)"})
    ).model
    named = brms_posterior(model, fake_stan_draws(model))
    assert named["r_sigma"].dims == ("chain", "draw", "sigma__level", "sigma__term")
    assert named["sigma"].dims == ("chain", "draw")


def test_a_term_twice_for_one_group_is_refused(run_mixfit):
    """brms refuses it too: sd_Subject__Intercept would name two parameters."""
    done = run_mixfit(
        "standata",
        SAMPLE_DATA / "sleepstudy.csv",
        "-f",
        "Reaction ~ Days + (1 | Subject) + (1 + Days | Subject)",
    )
    assert done.returncode == 2
    assert done.stderr.startswith("mixfit: error:") and len(done.stderr.splitlines()) == 1
    assert "the group-level effect 'Intercept' of 'Subject' appears in two terms" in done.stderr

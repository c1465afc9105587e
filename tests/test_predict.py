"""Predictions from a results folder (no Stan), against brms and against the fit's own numbers.

The fits sample for real (stanli). The sharpest check: the log-likelihood of the fitted rows,
recomputed from the folder alone (design.json, draws.nc) through the public ``log_lik``, equals
the log_lik Stan's generated quantities (or the marginal path's Python) stored in draws.nc, for
every family: the design is rebuilt, the effects indexed and the likelihood written correctly.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import REFERENCE, SAMPLE_DATA

from mixfit.analysis import predict as predict_module
from mixfit.analysis.newdata import read_csv
from mixfit.analysis.predict import log_lik, predict
from mixfit.analysis.saved_fit import load

TRUTH = json.loads((SAMPLE_DATA / "families_truth.json").read_text())
QUICK = ["--chains", "2", "--iter", "300", "--seed", "3", "--no-plots", "--quiet"]


def family_args(name: str) -> list:
    true = TRUTH[name]
    args = [SAMPLE_DATA / true["data"], "-f", true["formula"], "--family", true["family"]]
    if true.get("levels"):
        args += ["--levels", ",".join(true["levels"])]
    for factor in true.get("factors", []):
        args += ["--factor", factor]
    return args


FITS = {
    "sleepstudy joint": [
        SAMPLE_DATA / "sleepstudy.csv",
        "-f",
        "Reaction ~ Days + (Days | Subject)",
        "--no-marginal",
    ],
    "poisson, offset, crossed": [
        SAMPLE_DATA / "poisson_crossed.csv",
        "-f",
        "count ~ x + offset(log(exposure)) + (1 | site) + (1 | year)",
        "--family",
        "poisson",
    ],
    "bernoulli, text factor": [
        SAMPLE_DATA / "bernoulli_crossed.csv",
        "-f",
        "y ~ x + trt + (1 | subject) + (1 | item)",
        "--family",
        "bernoulli",
    ],
    "epilepsy, factor interaction": family_args("epilepsy"),
    **{
        name: family_args(name)
        for name in (
            "negbinomial",
            "zero_inflated_poisson",
            "zero_inflated_negbinomial",
            "student",
            "Gamma",
            "lognormal",
            "bernoulli_probit",
            "binomial_cloglog",
        )
    },
}


@pytest.fixture(scope="module")
def fits(run_mixfit, tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")

    def run(item):
        name, args = item
        out = root / name.replace(" ", "_").replace(",", "")
        return name, (out, run_mixfit("fit", *args, *QUICK, "-o", out))

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(run, FITS.items()))


def fitted_rows(out) -> pd.DataFrame:
    """The rows a fit used, read back from the data file named in its run.json."""
    run = json.loads((out / "run.json").read_text())
    design = json.loads((out / "design.json").read_text())
    frame = read_csv(SAMPLE_DATA.parent / run["data"])
    used = list(design["variables"]) + [f for g in design["groups"] for f in g["factors"]]
    used.append(design["response"]["name"])
    if design["response"]["trials"] and not design["response"]["trials"].isdigit():
        used.append(design["response"]["trials"])
    return frame.dropna(subset=used).reset_index(drop=True)


@pytest.mark.parametrize("name", list(FITS))
def test_log_lik_of_the_fitted_rows_is_the_fits_own(fits, name):
    out, done = fits[name]
    assert done.returncode == 0, done.stderr
    values = log_lik(
        out, fitted_rows(out), allow_new_levels=False, sample_new_levels="uncertainty", seed=1
    )
    stored = xr.open_dataset(out / "draws.nc", group="log_likelihood", engine="h5netcdf")
    expected = next(iter(stored.data_vars.values())).values
    np.testing.assert_allclose(values, expected.reshape(values.shape), rtol=1e-6, atol=1e-8)


def test_log_lik_of_the_marginal_fit_is_its_own(sleepstudy_fit):
    out, _ = sleepstudy_fit
    values = log_lik(
        out, fitted_rows(out), allow_new_levels=False, sample_new_levels="uncertainty", seed=1
    )
    stored = xr.open_dataset(out / "draws.nc", group="log_likelihood", engine="h5netcdf")
    np.testing.assert_allclose(values, stored["Reaction"].values.reshape(values.shape), rtol=1e-9)


@pytest.mark.parametrize("name", ["poisson, offset, crossed", "binomial_cloglog", "student"])
def test_predictions_follow_the_posterior_predictive(fits, name):
    """predict --type prediction draws the same distribution as the fit's y_rep."""
    out, _ = fits[name]
    fit = load(out)
    table = predict(fit, fitted_rows(out), "data", kind="prediction", seed=5)
    stored = xr.open_dataset(out / "draws.nc", group="posterior_predictive", engine="h5netcdf")
    y_rep = next(iter(stored.data_vars.values())).values.reshape(fit.posterior.size, -1)
    assert table["Estimate"].mean() == pytest.approx(y_rep.mean(), rel=0.02)
    assert table["Est.Error"].mean() == pytest.approx(y_rep.std(axis=0, ddof=1).mean(), rel=0.03)


def test_fitted_for_subject_308_matches_brms(sleepstudy_fit, run_mixfit, tmp_path):
    out, _ = sleepstudy_fit
    reference = json.loads((REFERENCE / "sleepstudy_post.json").read_text())
    brms = pd.DataFrame(reference["fitted_subject_308"])
    pd.DataFrame({"Subject": 308, "Days": range(10)}).to_csv(tmp_path / "new.csv", index=False)
    done = run_mixfit("predict", out, tmp_path / "new.csv", "-o", tmp_path / "fitted.csv")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    mine = pd.read_csv(tmp_path / "fitted.csv")
    assert list(mine.columns) == ["Subject", "Days", "Estimate", "Est.Error", "Q2.5", "Q97.5"]
    gap = (mine["Estimate"] - brms["Estimate"]).abs() / brms["Est.Error"]
    assert gap.max() < 0.1, gap.tolist()
    assert (mine["Est.Error"] / brms["Est.Error"]).between(0.9, 1.1).all()


@pytest.fixture(scope="module")
def new_subject_draws(sleepstudy_fit, run_mixfit, tmp_path_factory):
    """Every draw of the expected reaction of two new subjects on days 0 and 1, per way of
    drawing new levels: draws x [998 day 0, 998 day 1, 999 day 0, 999 day 1]."""
    out, _ = sleepstudy_fit
    folder = tmp_path_factory.mktemp("new-levels")
    rows = pd.DataFrame({"Subject": [998, 998, 999, 999], "Days": [0, 1, 0, 1]})
    rows.to_csv(folder / "new.csv", index=False)
    draws = {}
    for how in ("uncertainty", "gaussian", "old_levels"):
        done = run_mixfit(
            "predict",
            out,
            folder / "new.csv",
            "--allow-new-levels",
            "--sample-new-levels",
            how,
            "--seed",
            "11",
            "-o",
            folder / f"{how}.csv",
            "--draws",
            folder / f"{how}.nc",
        )
        assert done.returncode == 0, done.stderr
        with xr.open_dataset(folder / f"{how}.nc", engine="h5netcdf") as saved:
            draws[how] = saved["epred"].values.reshape(-1, 4)
        summary = pd.read_csv(folder / f"{how}.csv")
        np.testing.assert_allclose(summary["Estimate"], draws[how].mean(axis=0), rtol=1e-5)
    posterior = load(out).posterior
    return draws, posterior


def deviations(draws: np.ndarray, posterior) -> tuple[np.ndarray, np.ndarray]:
    """Each new subject's own intercept and slope per draw: draws x subjects, twice."""
    intercept = draws[:, [0, 2]] - posterior.intercept[:, None]
    slope = draws[:, [1, 3]] - draws[:, [0, 2]] - posterior.b[:, [0]]
    return intercept, slope


def test_uncertainty_takes_an_existing_subject_anew_in_each_draw(new_subject_draws):
    draws, posterior = new_subject_draws
    intercept, slope = deviations(draws["uncertainty"], posterior)
    r = posterior.groups[0].r  # draws x subjects x (Intercept, Days)
    for k in range(2):
        # in each draw, one existing subject's intercept and slope, both of the same subject
        match = np.isclose(intercept[:, [k]], r[:, :, 0]) & np.isclose(slope[:, [k]], r[:, :, 1])
        assert match.any(axis=1).all()
        picked = match.argmax(axis=1)
        assert len(np.unique(picked)) == r.shape[1]  # every subject in turn, not one
    # the spread is the spread across the existing subjects' effects, not the SD estimate's
    expected = (r[:, :, 0] ** 2).mean() - r[:, :, 0].mean() ** 2
    assert intercept.var() == pytest.approx(expected, rel=0.1)
    assert abs(np.corrcoef(intercept[:, 0], intercept[:, 1])[0, 1]) < 0.1  # two subjects apart


def test_gaussian_draws_new_subjects_from_the_sd_and_correlation(new_subject_draws):
    draws, posterior = new_subject_draws
    intercept, slope = deviations(draws["gaussian"], posterior)
    block = posterior.groups[0].blocks[0]
    sd = block.sd  # draws x (Intercept, Days)
    r = posterior.groups[0].r
    assert not np.isclose(intercept[:, [0]], r[:, :, 0]).any(axis=1).any()  # no existing subject
    for k in range(2):
        assert intercept[:, k].var() == pytest.approx((sd[:, 0] ** 2).mean(), rel=0.12)
        assert slope[:, k].var() == pytest.approx((sd[:, 1] ** 2).mean(), rel=0.12)
        covariance = (intercept[:, k] * slope[:, k]).mean()
        expected = (block.cor[:, 0, 1] * sd[:, 0] * sd[:, 1]).mean()
        assert covariance == pytest.approx(expected, abs=0.2 * (sd[:, 0] * sd[:, 1]).mean())
    # the SD estimates, not the levels' shrunken effects, set the spread: wider than uncertainty's
    assert intercept.var() > deviations(draws["uncertainty"], posterior)[0].var()


def test_old_levels_takes_one_existing_subject_for_every_draw(new_subject_draws):
    draws, posterior = new_subject_draws
    intercept, _ = deviations(draws["old_levels"], posterior)
    r = posterior.groups[0].r[:, :, 0]
    for k in range(2):
        match = np.isclose(intercept[:, [k]], r).all(axis=0)
        assert match.sum() == 1


def test_chunks_change_nothing(sleepstudy_fit, monkeypatch):
    """A new level's effects are the same whichever rows share its chunk."""
    out, _ = sleepstudy_fit
    fit = load(out)
    rows = pd.DataFrame({"Subject": [308, 998, 309, 999, 998, None] * 3, "Days": range(18)})
    options = {"allow_new_levels": True, "seed": 4}
    whole = predict(fit, rows, "rows", **options)
    monkeypatch.setattr(predict_module, "CHUNK_VALUES", 2 * fit.posterior.size)
    pd.testing.assert_frame_equal(predict(fit, rows, "rows", **options), whole)


def test_population_level_only(sleepstudy_fit):
    out, _ = sleepstudy_fit
    fit = load(out)
    rows = pd.DataFrame({"Days": [0.0, 5.0]})  # no Subject column is needed
    table = predict(fit, rows, "rows", groups=False, prob=0.9)
    assert list(table.columns) == ["Estimate", "Est.Error", "Q5", "Q95"]
    line = fit.posterior.intercept[:, None] + fit.posterior.b[:, [0]] * np.array([0.0, 5.0])
    np.testing.assert_allclose(table["Estimate"], line.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(table["Q95"], np.quantile(line, 0.95, axis=0), rtol=1e-12)


@pytest.fixture(scope="module")
def ordinal_fit(run_mixfit, tmp_path_factory):
    """PyStan: stanli 0.24 runs no generated quantities with ordered_logistic_rng (a build)."""
    out = tmp_path_factory.mktemp("ordinal") / "out"
    done = run_mixfit(
        "fit", *family_args("cumulative_logit"), *QUICK, "--backend", "pystan", "-o", out
    )
    assert done.returncode == 0, done.stderr
    return out


@pytest.mark.pystan
def test_ordinal_predictions_are_one_column_per_category(ordinal_fit):
    fit = load(ordinal_fit)
    rows = pd.DataFrame({"x": [-1.0, 2.0], "g": ["g01", "g02"]})
    categories = ["none", "mild", "moderate", "severe"]
    epred = predict(fit, rows, "rows")
    assert list(epred.columns) == [
        f"{s}.P(Y = {c})" for c in categories for s in ("Estimate", "Est.Error", "Q2.5", "Q97.5")
    ]
    means = epred[[f"Estimate.P(Y = {c})" for c in categories]]
    np.testing.assert_allclose(means.sum(axis=1), 1.0, rtol=1e-12)
    assert means.iloc[1, -1] > means.iloc[0, -1]  # x's effect is positive: more severe
    shares = predict(fit, rows, "rows", kind="prediction", seed=2)
    assert list(shares.columns) == [f"P(Y = {c})" for c in categories]
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    np.testing.assert_allclose(shares.to_numpy(), means.to_numpy(), atol=0.07)
    values = log_lik(
        ordinal_fit,
        fitted_rows(ordinal_fit),
        allow_new_levels=False,
        sample_new_levels="uncertainty",
        seed=1,
    )
    stored = xr.open_dataset(ordinal_fit / "draws.nc", group="log_likelihood", engine="h5netcdf")
    np.testing.assert_allclose(values, stored["y"].values.reshape(values.shape), rtol=1e-9)


def test_linpred_and_epred_of_a_log_link(fits, tmp_path):
    out, _ = fits["poisson, offset, crossed"]
    fit = load(out)
    rows = pd.DataFrame({"x": [0.3], "exposure": [2.0], "site": ["site01"], "year": [2016]})
    linpred = predict(fit, rows, "rows", kind="linpred", draws_file=tmp_path / "l.nc")
    epred = predict(fit, rows, "rows", kind="epred", draws_file=tmp_path / "e.nc")
    with xr.open_dataset(tmp_path / "l.nc") as l_, xr.open_dataset(tmp_path / "e.nc") as e_:
        np.testing.assert_allclose(np.exp(l_["linpred"].values), e_["epred"].values, rtol=1e-12)
    assert epred["Estimate"][0] > np.exp(linpred["Estimate"][0]) * 0.99

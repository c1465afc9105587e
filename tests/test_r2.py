"""Bayesian R², saved by every fit (r2.csv, the summary) and printed by ``mixfit r2``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE, SAMPLE_DATA

from mixfit.analysis import predict as predict_module
from mixfit.analysis import r2 as r2_module
from mixfit.analysis.newdata import Rows
from mixfit.analysis.predict import FamilyLink
from mixfit.analysis.saved_fit import load

BRMS = json.loads((REFERENCE / "sleepstudy_post.json").read_text())["bayes_R2_m1"][0]


def direct_r2(out) -> np.ndarray:
    """R² per draw, written out for sleepstudy from draws.nc and the data."""
    fit = load(out)
    data = pd.read_csv(SAMPLE_DATA / "sleepstudy.csv")
    posterior = fit.posterior
    level = {name: k for k, name in enumerate(fit.design["groups"][0]["levels"])}
    j = data["Subject"].astype(str).map(level).to_numpy()
    r = posterior.groups[0].r
    ypred = (
        posterior.intercept[:, None]
        + posterior.b[:, [0]] * data["Days"].to_numpy()
        + r[:, j, 0]
        + r[:, j, 1] * data["Days"].to_numpy()
    )
    fitted = ypred.var(axis=1, ddof=1)
    residual = (data["Reaction"].to_numpy() - ypred).var(axis=1, ddof=1)
    return fitted / (fitted + residual)


def test_sleepstudy_r2_matches_brms_and_the_formula(sleepstudy_fit):
    out, done = sleepstudy_fit
    saved = pd.read_csv(out / "r2.csv")
    assert list(saved.columns) == ["Estimate", "Est.Error", "Q2.5", "Q97.5"]
    assert abs(saved["Estimate"][0] - BRMS["Estimate"]) < 0.01
    assert saved["Est.Error"][0] == pytest.approx(BRMS["Est.Error"], rel=0.2)
    r2 = direct_r2(out)
    assert saved["Estimate"][0] == pytest.approx(
        r2.mean(), rel=1e-5
    )  # r2.csv holds 6 significant digits
    assert saved["Q97.5"][0] == pytest.approx(np.quantile(r2, 0.975), rel=1e-5)
    summary = (out / "summary.txt").read_text()
    assert "Bayesian R2" in summary and f"{saved['Estimate'][0]:.2f}" in summary
    assert "Bayesian R2" in done.stdout


def test_r2_command_prints_the_saved_value(sleepstudy_fit, run_mixfit):
    out, _ = sleepstudy_fit
    done = run_mixfit("r2", out, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == pd.read_csv(out / "r2.csv").iloc[0].to_dict()
    text = run_mixfit("r2", out)
    assert text.returncode == 0 and text.stdout.startswith("    Estimate")
    assert "R2" in text.stdout


def test_chunks_and_a_subset_of_draws(sleepstudy_fit, monkeypatch):
    out, _ = sleepstudy_fit
    fit = load(out)
    data = pd.read_csv(SAMPLE_DATA / "sleepstudy.csv")
    level = {name: k for k, name in enumerate(fit.design["groups"][0]["levels"])}
    from mixfit.analysis.newdata import GroupRows, PredictorRows

    days = data["Days"].to_numpy(dtype=float)
    rows = Rows(
        predictors={"mu": PredictorRows(days[:, None], None)},
        trials=None,
        groups=[
            GroupRows(
                data["Subject"].astype(str).map(level).to_numpy(),
                np.column_stack([np.ones(180), days]),
                [],
            )
        ],
    )
    y = data["Reaction"].to_numpy(dtype=float)
    model = FamilyLink.of(fit.design)
    whole = r2_module.bayes_r2_draws(model, fit.posterior, rows, y)
    np.testing.assert_allclose(whole, direct_r2(out), rtol=1e-10)
    monkeypatch.setattr(predict_module, "CHUNK_VALUES", 7 * fit.posterior.size)  # 7 rows a chunk
    np.testing.assert_allclose(
        r2_module.bayes_r2_draws(model, fit.posterior, rows, y), whole, rtol=1e-10
    )
    monkeypatch.setattr(r2_module, "MAX_VALUES", 180 * 500)
    subset = r2_module.bayes_r2_draws(model, fit.posterior, rows, y)
    assert len(subset) == 500
    assert subset.mean() == pytest.approx(whole.mean(), abs=0.003)

"""The tables' figures: a few draws that are not finite are left out, counted, and said so."""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE_DATA, read_json

from mixfit.results.summaries import describe


def test_describe_summarises_the_finite_draws():
    rng = np.random.default_rng(3)
    values = rng.normal(2.0, 0.5, (4, 250))
    finite = values.copy()
    values[0, :5] = np.nan
    values[2, 7] = np.inf
    row = describe(values, 0.95)
    kept = np.delete(finite.reshape(-1), [0, 1, 2, 3, 4, 507])
    assert row["Estimate"] == pytest.approx(kept.mean(), rel=1e-12)
    assert row["Est.Error"] == pytest.approx(kept.std(ddof=1), rel=1e-12)
    assert row["Q2.5"] == pytest.approx(np.quantile(kept, 0.025), rel=1e-12)
    assert all(np.isnan(v) for v in describe(np.full((2, 3), np.nan), 0.9).values())


def test_prior_only_negbinomial_reports_the_finite_draws(run_mixfit, tmp_path):
    """neg_binomial_2_log_rng overflows in some prior draws; their generated quantities (the
    Intercept among them) are NaN there."""
    out = tmp_path / "out"
    done = run_mixfit(
        "fit",
        SAMPLE_DATA / "family_negbinomial.csv",
        "-f",
        "y ~ x + (1 | g)",
        "--family",
        "negbinomial",
        "--sample-prior",
        "only",
        "--prior",
        "normal(0, 10) : b",
        "--seed",
        "1",
        "--no-plots",
        "-o",
        out,
    )
    assert done.returncode == 0, done.stderr
    intercept = az.from_netcdf(out / "draws.nc").posterior["b_Intercept"].values
    bad = int((~np.isfinite(intercept)).sum())
    assert bad > 0, "no draw overflowed: the case no longer tests anything"
    fixef = pd.read_csv(out / "fixef.csv").set_index("term")
    assert np.isfinite(fixef.loc["Intercept", ["Estimate", "Est.Error", "Q2.5", "Q97.5"]]).all()
    finite = intercept[np.isfinite(intercept)]
    assert fixef.loc["Intercept", "Estimate"] == pytest.approx(finite.mean(), rel=1e-5)
    diagnostics = read_json(out / "diagnostics.json")
    assert diagnostics["nonfinite_draws"]["b_Intercept"] == bad
    assert f"b_Intercept: {bad} of {intercept.size}" in done.stdout
    assert "left out of the estimates" in (out / "summary.txt").read_text()

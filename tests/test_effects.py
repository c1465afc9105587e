"""Conditional effects: the grid and its summaries, the plots a fit writes, ``mixfit effects``."""

from __future__ import annotations

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE_DATA

from mixfit.analysis.effects import conditional_effects
from mixfit.analysis.saved_fit import load


@pytest.fixture(scope="module")
def bernoulli_fit(run_mixfit, tmp_path_factory):
    """A numeric and a categorical predictor."""
    out = tmp_path_factory.mktemp("effects") / "out"
    done = run_mixfit(
        "fit",
        SAMPLE_DATA / "bernoulli_crossed.csv",
        "-f",
        "y ~ x + trt + (1 | subject) + (1 | item)",
        "--family",
        "bernoulli",
        "-o",
        out,
        "--chains",
        "2",
        "--iter",
        "400",
        "--seed",
        "2",
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    return out


def test_numeric_effect_is_the_median_line_over_the_range(sleepstudy_fit):
    out, _ = sleepstudy_fit
    fit = load(out)
    table = conditional_effects(fit.design, fit.posterior, "Days")
    assert list(table.columns) == ["Days", "estimate__", "se__", "lower__", "upper__"]
    assert len(table) == 100 and table["Days"].iloc[0] == 0 and table["Days"].iloc[-1] == 9
    line = fit.posterior.intercept[:, None] + fit.posterior.b[:, [0]] * table["Days"].to_numpy()
    np.testing.assert_allclose(table["estimate__"], np.median(line, axis=0), rtol=1e-12)
    np.testing.assert_allclose(table["lower__"], np.quantile(line, 0.025, axis=0), rtol=1e-12)


def test_a_fit_plots_each_predictor_and_reports_it(sleepstudy_fit, bernoulli_fit):
    out, _ = sleepstudy_fit
    assert (out / "plots" / "conditional_effects_Days.png").is_file()
    assert 'id="plot-conditional_effects_Days"' in (out / "report.html").read_text()
    for name in ("x", "trt"):
        image = matplotlib.image.imread(bernoulli_fit / "plots" / f"conditional_effects_{name}.png")
        assert image.shape[0] > 200 and image.std() > 0.01


def test_categorical_effect_by_numeric_and_the_reverse(bernoulli_fit, run_mixfit, tmp_path):
    fit = load(bernoulli_fit)
    table = conditional_effects(fit.design, fit.posterior, "trt", by="x")
    assert list(table.columns) == ["trt", "x", "estimate__", "se__", "lower__", "upper__"]
    x = fit.design["variables"]["x"]
    assert sorted(table["x"].unique()) == pytest.approx(
        [x["mean"] - x["sd"], x["mean"], x["mean"] + x["sd"]]
    )
    assert set(table["trt"]) == {"control", "treated"}
    assert table["estimate__"].between(0, 1).all()  # probabilities: the inverse link applied
    done = run_mixfit("effects", bernoulli_fit, "--effect", "x:trt", "-o", tmp_path / "e.csv")
    assert done.returncode == 0, done.stderr
    saved = pd.read_csv(tmp_path / "e.csv")
    assert list(saved.columns[:2]) == ["x", "trt"] and len(saved) == 200
    # the others at their reference level: control's line is x's own effect
    control = saved[saved["trt"] == "control"]
    alone = conditional_effects(fit.design, fit.posterior, "x")
    np.testing.assert_allclose(
        control["estimate__"], alone["estimate__"], rtol=1e-5
    )  # e.csv: 6 significant digits
    done = run_mixfit(
        "effects", bernoulli_fit, "--effect", "trt", "--by", "x", "-o", tmp_path / "e.png"
    )
    assert done.returncode == 0, done.stderr
    assert matplotlib.image.imread(tmp_path / "e.png").std() > 0.01

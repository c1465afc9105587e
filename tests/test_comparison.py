"""The posterior beside the classical fit (mixfit/classical/comparison.py): rows, intervals, flags."""

import numpy as np
import pandas as pd
import pytest

from mixfit.classical.comparison import compare
from mixfit.classical.fit import ClassicalFit
from mixfit.classical.verdict import judge


def posterior(rows, keys):
    columns = keys + ["Estimate", "Est.Error", "Q2.5", "Q97.5", "Rhat", "Bulk_ESS", "Tail_ESS"]
    return pd.DataFrame([r + (1.0, 4000, 4000) for r in rows], columns=columns)


FIXEF = posterior([("Intercept", 10.0, 1.0, 8.0, 12.0), ("x", 2.0, 0.2, 1.6, 2.4)], ["term"])
VARCORR = posterior(
    [("g", "sd(Intercept)", 0.5, 0.3, 0.05, 1.2), ("Residual", "sigma", 1.0, 0.1, 0.8, 1.2)],
    ["group", "param"],
)


def classical(fixef_rows, varcorr_rows, singular=False):
    varcorr = pd.DataFrame(varcorr_rows, columns=["group", "param", "Estimate", "Std.Error"])
    verdict = judge(
        "REML",
        converged=True,
        singular=singular,
        pinned=[("g", "Intercept")] if singular else [],
        varcorr=varcorr,
        scale=1.0,
        aliased=[],
        notes=[],
    )
    fixef = pd.DataFrame(fixef_rows, columns=["term", "Estimate", "Std.Error"])
    return ClassicalFit(fixef, varcorr, verdict)


def test_rows_columns_and_wald_intervals():
    fit = classical(
        [("Intercept", 10.2, 1.0), ("x", 2.1, 0.25)],
        [("g", "sd(Intercept)", 0.4, 0.1), ("Residual", "sigma", 1.0, np.nan)],
    )
    table = compare(FIXEF, VARCORR, fit, 0.95)
    assert list(table.columns) == [
        "group", "param", "Estimate", "Est.Error", "Q2.5", "Q97.5",
        "ML_Estimate", "ML_Std.Error", "ML_Q2.5", "ML_Q97.5", "flag",
    ]  # fmt: skip
    assert list(table["param"]) == ["Intercept", "x", "sd(Intercept)", "sigma"]
    assert list(table["group"]) == ["", "", "g", "Residual"]
    row = table.set_index("param").loc["x"]
    assert row["ML_Q2.5"] == pytest.approx(2.1 - 1.959964 * 0.25, rel=1e-6)
    assert row["ML_Q97.5"] == pytest.approx(2.1 + 1.959964 * 0.25, rel=1e-6)
    sd = table.set_index("param").loc["sd(Intercept)"]
    assert sd["ML_Q2.5"] == pytest.approx(0.4 - 1.959964 * 0.1, rel=1e-6)
    assert np.isnan(table.set_index("param").loc["sigma", "ML_Q2.5"])
    assert (table["flag"] == "").all()


def test_boundary_and_disagreement_flags():
    fit = classical(
        [("Intercept", 10.0, 1.0), ("x", 3.5, 0.3)],  # x: each outside the other's interval
        [("g", "sd(Intercept)", 0.0, np.nan), ("Residual", "sigma", 1.5, np.nan)],
        singular=True,
    )
    flags = compare(FIXEF, VARCORR, fit, 0.95).set_index("param")["flag"]
    assert flags["Intercept"] == ""
    assert flags["x"] == "disagree"
    # an SD at 0 lies outside any posterior interval: boundary says it all
    assert flags["sd(Intercept)"] == "boundary"
    # no classical interval for sigma: outside the posterior interval is enough
    assert flags["sigma"] == "disagree"


def test_overlapping_one_way_is_not_a_disagreement():
    """The classical estimate outside the posterior interval, but the posterior mean inside the
    classical interval: within their uncertainty."""
    fit = classical(
        [("Intercept", 12.5, 2.0), ("x", 2.0, 0.2)],
        [("g", "sd(Intercept)", 0.5, 0.2), ("Residual", "sigma", 1.0, np.nan)],
    )
    flags = compare(FIXEF, VARCORR, fit, 0.95).set_index("param")["flag"]
    assert flags["Intercept"] == ""


def test_intervals_follow_prob():
    fit = classical(
        [("Intercept", 10.0, 1.0), ("x", 2.0, 0.2)],
        [("g", "sd(Intercept)", 0.5, 0.2), ("Residual", "sigma", 1.0, np.nan)],
    )
    fixef = FIXEF.rename(columns={"Q2.5": "Q5", "Q97.5": "Q95"})
    varcorr = VARCORR.rename(columns={"Q2.5": "Q5", "Q97.5": "Q95"})
    table = compare(fixef, varcorr, fit, 0.9)
    assert {"Q5", "Q95", "ML_Q5", "ML_Q95"} <= set(table.columns)
    assert table.loc[0, "ML_Q95"] == pytest.approx(10 + 1.644854, rel=1e-6)

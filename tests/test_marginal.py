"""The analytic gaussian path (group-level effects integrated out) against the full model."""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
from conftest import SAMPLE_DATA

TABLES = [
    ("fixef.csv", ["term"]),
    ("varcorr.csv", ["group", "param"]),
    ("ranef.csv", ["group", "level", "term"]),
]


def fit_both_ways(run_mixfit, data, formula, out):
    """The marginal and the full program on the same data and seed."""
    for name, extra in (("marginal", []), ("full", ["--no-marginal"])):
        done = run_mixfit(
            "fit",
            data,
            "-f",
            formula,
            "-o",
            out / name,
            "--seed",
            "1",
            "--no-plots",
            "--quiet",
            *extra,
        )
        assert done.returncode == 0, done.stderr
    return out / "marginal", out / "full"


def assert_agree(marginal, full, limits):
    """Posterior means within limits[table] posterior SDs of the full model's."""
    assert "integrated out" in (marginal / "model.stan").read_text()
    assert "z_1" in (full / "model.stan").read_text()
    for name, keys in TABLES:
        a = pd.read_csv(marginal / name, dtype={"level": str}).set_index(keys)
        b = pd.read_csv(full / name, dtype={"level": str}).set_index(keys)
        assert list(a.index) == list(b.index), name
        gap = (a["Estimate"] - b["Estimate"]).abs() / b["Est.Error"]
        assert gap.max() < limits[name], (name, gap.idxmax(), gap.max())
    # log_lik and y_rep: from the draws in Python on one path, in Stan's generated quantities on
    # the other; they must describe the same posterior predictive distribution
    a, b = az.from_netcdf(marginal / "draws.nc"), az.from_netcdf(full / "draws.nc")
    for group in ("log_likelihood", "posterior_predictive"):
        x = next(iter(a[group].data_vars.values()))
        y = next(iter(b[group].data_vars.values()))
        assert x.shape == y.shape, group
        mean_gap = np.abs(x.mean(("chain", "draw")) - y.mean(("chain", "draw")))
        sd_ratio = x.std(("chain", "draw")) / y.std(("chain", "draw"))
        assert float((mean_gap / y.std(("chain", "draw"))).max()) < 0.15, group
        # one row's SD is noisy (log_lik is skewed), the typical row's is not
        assert 0.97 < float(np.median(sd_ratio)) < 1.03, group


def test_marginal_and_full_model_agree_on_sleepstudy(sleepstudy_fit, run_mixfit, tmp_path):
    """Two correlated terms per level: the closed-form 2 x 2 likelihood."""
    marginal, _ = sleepstudy_fit
    done = run_mixfit(
        "fit",
        SAMPLE_DATA / "sleepstudy.csv",
        "-f",
        "Reaction ~ Days + (Days | Subject)",
        "-o",
        tmp_path / "full",
        "--seed",
        "1",
        "--no-marginal",
        "--no-plots",
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    assert_agree(
        marginal, tmp_path / "full", dict.fromkeys(("fixef.csv", "varcorr.csv", "ranef.csv"), 0.1)
    )


def test_marginal_and_full_model_agree_with_one_term(run_mixfit, tmp_path):
    """A varying intercept alone: the scalar closed form. With 85 counties' effects compared,
    the ranef limit allows for the Monte Carlo error of the largest of 85 gaps."""
    marginal, full = fit_both_ways(
        run_mixfit, SAMPLE_DATA / "radon.csv", "log_radon ~ floor + (1 | county)", tmp_path
    )
    assert_agree(marginal, full, {"fixef.csv": 0.1, "varcorr.csv": 0.1, "ranef.csv": 0.2})

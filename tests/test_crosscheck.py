"""stanli against PyStan on the same programs, data and seed: the same posterior.

One program per kind of likelihood mixfit writes: gaussian joint (group effects sampled), poisson
with an offset and crossed factors (Stan's GLM functions; bernoulli's GLM program is built on CmdStan
in tests/test_cmdstan.py), and cumulative (whose log_lik and y_rep come from Python on stanli, from
Stan on PyStan, as for the other families without a GLM function; negative binomial and
zero-inflated poisson, once here too, cost CI two more PyStan builds for what tests/test_families.py
and test_family_predictions.py check on stanli). Population effects, SDs and family parameters:
posterior means within 0.1 posterior SD of each other, posterior SDs within 10% (or three Monte Carlo
errors, where the effective sample size can't resolve that); log_lik and y_rep describe the same
posterior predictive distribution.

Chains of 2,000 draws each (8,000 per fit) keep the Monte Carlo error of a difference of means near
0.03 posterior SD, so the limits test the engines, not the noise. This module builds three PyStan
programs (a minute or more each; set MIXFIT_CACHE_DIR to keep them between runs).
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE_DATA, read_json

pytestmark = pytest.mark.pystan

CASES = {
    "gaussian_joint": [
        SAMPLE_DATA / "sleepstudy.csv",
        "-f",
        "Reaction ~ Days + (Days | Subject)",
        "--no-marginal",
    ],
    "poisson_offset": [
        SAMPLE_DATA / "poisson_crossed.csv",
        "-f",
        "count ~ x + offset(log(exposure)) + (1 | site) + (1 | year)",
        "--family",
        "poisson",
    ],
    "cumulative": [
        SAMPLE_DATA / "family_cumulative_logit.csv",
        "-f",
        "y ~ x + (1 | g)",
        "--family",
        "cumulative",
        "--levels",
        "none,mild,moderate,severe",
    ],
}
RUN = ["--iter", "4000", "--seed", "11", "--no-plots", "--quiet"]


@pytest.fixture(scope="module", params=list(CASES))
def both(request, run_mixfit, tmp_path_factory):
    root = tmp_path_factory.mktemp(request.param)
    for engine in ("stanli", "pystan"):
        done = run_mixfit(
            "fit",
            *CASES[request.param],
            *RUN,
            "--backend",
            engine,
            "-o",
            root / engine,
            timeout=1800,
        )
        assert done.returncode == 0, done.stderr
        assert read_json(root / engine / "run.json")["backend"] == engine
    return root / "stanli", root / "pystan"


def summary_rows(out) -> pd.DataFrame:
    fixef = pd.read_csv(out / "fixef.csv").set_index("term")
    varcorr = pd.read_csv(out / "varcorr.csv")
    varcorr = varcorr[~varcorr["param"].str.startswith("cor(")]
    varcorr = varcorr.set_index(varcorr["group"] + " " + varcorr["param"])
    return pd.concat([fixef, varcorr])[["Estimate", "Est.Error", "Bulk_ESS"]]


def test_engines_agree_on_the_posterior(both):
    """Within 0.1 posterior SD and 10% of the SD; where the chains' effective sample size can't
    resolve that (an intercept beside few levels, bulk ESS ~700 of 8,000 draws: a Monte Carlo
    error of the difference near 0.05 SD), within three Monte Carlo standard errors instead."""
    stanli, pystan = (summary_rows(out) for out in both)
    assert list(stanli.index) == list(pystan.index)
    noise = np.sqrt(1 / stanli["Bulk_ESS"] + 1 / pystan["Bulk_ESS"])  # in posterior SDs
    gap = (stanli["Estimate"] - pystan["Estimate"]).abs() / pystan["Est.Error"]
    assert (gap <= np.maximum(0.1, 3 * noise)).all(), (gap.idxmax(), gap.max(), noise.to_dict())
    ratio = stanli["Est.Error"] / pystan["Est.Error"]
    # an SD's relative Monte Carlo error is about 1 / sqrt(2 ESS) for each fit
    assert ((ratio - 1).abs() <= np.maximum(0.1, 3 * noise / np.sqrt(2))).all(), ratio.to_dict()


def test_engines_agree_on_the_predictions(both):
    """log_lik and y_rep per row: the same posterior mean, up to Monte Carlo error."""
    stanli, pystan = (az.from_netcdf(out / "draws.nc") for out in both)
    for group in ("log_likelihood", "posterior_predictive"):
        a = next(iter(stanli[group].data_vars.values()))
        b = next(iter(pystan[group].data_vars.values()))
        assert a.shape == b.shape, group
        sd = b.std(("chain", "draw")).values
        gap = np.abs(a.mean(("chain", "draw")).values - b.mean(("chain", "draw")).values)
        varies = sd > 0  # a row whose log_lik is the same in every draw has nothing to compare
        assert float(np.median(gap[varies] / sd[varies])) < 0.05, group
        assert float(np.max(gap[varies] / sd[varies])) < 0.25, group

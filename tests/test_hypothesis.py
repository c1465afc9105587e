"""brms's hypothesis(): the table against brms 2.18, and the expression parser (arithmetic on
draws, nothing run as Python)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from conftest import REFERENCE

from mixfit.analysis.hypothesis import PosteriorDraws, hypotheses, hypothesis
from mixfit.errors import InputError

BRMS = json.loads((REFERENCE / "sleepstudy_post.json").read_text())["hypothesis_days_gt_5"][0]


def test_days_above_5_matches_brms(sleepstudy_fit, run_mixfit):
    out, _ = sleepstudy_fit
    done = run_mixfit("hypothesis", out, "Days > 5", "--json")
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)
    assert row["Hypothesis"] == BRMS["Hypothesis"] == "(Days)-(5) > 0"
    assert abs(row["Post.Prob"] - BRMS["Post.Prob"]) < 0.01
    for column in ("Estimate", "CI.Lower", "CI.Upper"):
        assert abs(row[column] - BRMS[column]) < 0.1 * BRMS["Est.Error"], column
    assert row["Star"] == "*"
    text = run_mixfit("hypothesis", out, "Days > 5", "Intercept + 10 * Days = 350")
    assert text.returncode == 0, text.stderr
    assert "Hypothesis Tests for class b:" in text.stdout
    assert "(Intercept+10*Days)-(350) = 0" in text.stdout


def test_every_class_brms_allows_on_a_real_fit(sleepstudy_fit, run_mixfit):
    """class sd names sd_Subject__Days as Subject__Days; class "" takes full names: a
    correlation, a family parameter, one level's group-level effect."""
    import xarray as xr

    out, _ = sleepstudy_fit
    with xr.open_dataset(out / "draws.nc", group="posterior", engine="h5netcdf") as posterior:
        sd = posterior["sd_Subject__Days"].values.ravel()
        level = posterior["r_Subject"].sel(Subject="308", Subject__term="Intercept").values.ravel()
        sigma = posterior["sigma"].values.ravel()
    done = run_mixfit("hypothesis", out, "Subject__Days > 5", "--class", "sd", "--json")
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)
    assert row["Post.Prob"] == pytest.approx(np.mean(sd > 5))
    expressions = ["r_Subject[308,Intercept] > 0", "sigma - 2 * sd_Subject__Days > 0"]
    done = run_mixfit("hypothesis", out, *expressions, "--class", "", "--json")
    assert done.returncode == 0, done.stderr
    first, second = json.loads(done.stdout)
    assert first["Estimate"] == pytest.approx(level.mean())
    assert second["Estimate"] == pytest.approx((sigma - 2 * sd).mean())
    wrong = run_mixfit("hypothesis", out, "Days > 5", "--class", "sd")
    assert wrong.returncode == 2
    assert wrong.stderr.startswith(
        "mixfit: error: hypothesis 'Days > 5': 'Days' is not a parameter of class 'sd' "
        "(class 'sd': Subject__Intercept, Subject__Days)"
    )


def posterior_dataset():
    """draws.nc's shape: scalars, a distributional parameter's coefficient, thresholds, levels."""
    import xarray as xr

    rng = np.random.default_rng(2)
    scalar = ("chain", "draw")
    return xr.Dataset(
        {
            "b_Intercept": (scalar, rng.normal(1, 0.1, (2, 50))),
            "b_sigma_SexMale": (scalar, rng.normal(-0.3, 0.1, (2, 50))),
            "sd_Subject__Intercept": (scalar, np.abs(rng.normal(2, 0.3, (2, 50)))),
            "r_Subject": (
                ("chain", "draw", "Subject", "Subject__term"),
                rng.normal(0, 1, (2, 50, 3, 2)),
            ),
        },
        coords={"Subject": ["308", "309", "310"], "Subject__term": ["Intercept", "Days"]},
    )


def test_names_resolve_over_whatever_draws_nc_holds():
    posterior = posterior_dataset()
    draws = PosteriorDraws(posterior)
    male = hypothesis("sigma_SexMale < 0", draws)  # class b: b_sigma_SexMale
    assert male["Estimate"] == pytest.approx(posterior["b_sigma_SexMale"].values.mean())
    level = hypothesis("r_Subject[309,Days] > 0", draws, cls="")
    values = posterior["r_Subject"].sel(Subject="309", Subject__term="Days").values
    assert level["Estimate"] == pytest.approx(values.mean())
    assert hypothesis("Subject[309,Days] > 0", draws, cls="r")["Estimate"] == level["Estimate"]
    with pytest.raises(
        InputError, match=re.escape("r_Subject[308,Intercept], r_Subject[308,Days]")
    ):
        hypothesis("r_Subject[999,Days] > 0", draws, cls="")
    with pytest.raises(InputError, match="'r_Subject' is not a parameter of class ''"):
        hypothesis("r_Subject > 0", draws, cls="")


@pytest.fixture
def effects() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "b_Intercept": rng.normal(250, 7, 4000),
        "b_Days": rng.normal(10, 1.6, 4000),
        "b_zBase:Trt1": rng.normal(-0.1, 0.1, 4000),
    }


def test_arithmetic_follows_r(effects):
    a, d = effects["b_Intercept"], effects["b_Days"]
    cases = {
        "Intercept + 10 * Days > 350": a + 10 * d - 350,
        "(Intercept - Days) / 2 < 100": (a - d) / 2 - 100,
        "-Days^2 < -90": -(d**2) + 90,  # as in R: -(Days^2)
        "2^3^2 * Days > 0": 2**9 * d,  # right-associative, as in R
        "b_Days - .5e1 > 0": d - 5,
        "zBase:Trt1 < 0": effects["b_zBase:Trt1"],
    }
    for text, draws in cases.items():
        row = hypothesis(text, effects)
        assert row["Estimate"] == pytest.approx(draws.mean(), rel=1e-12), text
        assert row["Est.Error"] == pytest.approx(draws.std(ddof=1), rel=1e-12), text


def test_one_and_two_sided(effects):
    one = hypothesis("Days > 9", effects)
    share = float((effects["b_Days"] > 9).mean())
    assert one["Post.Prob"] == pytest.approx(share)
    assert one["Evid.Ratio"] == pytest.approx(share / (1 - share))
    assert one["CI.Lower"] == pytest.approx(np.quantile(effects["b_Days"] - 9, 0.05))
    assert hypothesis("Days > 0", effects)["Evid.Ratio"] == float("inf")
    assert hypothesis("Days > 0", effects)["Hypothesis"] == "(Days) > 0"
    two = hypothesis("Days = 10", effects)
    assert two["Evid.Ratio"] is None and two["Post.Prob"] is None and two["Star"] == ""
    assert two["CI.Upper"] == pytest.approx(np.quantile(effects["b_Days"] - 10, 0.975))
    assert hypothesis("Days = 0", effects)["Star"] == "*"
    assert list(hypotheses(["Days > 9", "Days = 10"], effects, 0.05).columns) == [
        "Hypothesis",
        "Estimate",
        "Est.Error",
        "CI.Lower",
        "CI.Upper",
        "Evid.Ratio",
        "Post.Prob",
        "Star",
    ]


REFUSED = {
    "__import__('os').system('touch X') > 0": "can't read",
    "Days.real > 0": "'Days.real' is not a population-level effect",
    "1 > 0": "names no parameter",
    "open(1) > 0": "'open' is not a population-level effect",
    "Days > 5 > 3": "must be of the form",
    "Days >= 5": "must be of the form",
    "Days": "must be of the form",
    "(Days > 5": "unbalanced parentheses",
    "Days + > 5": "'Days+' is incomplete",
    "Days) > 5": "unexpected ')'",
    "Dayz > 5": "'Dayz' is not a population-level effect (effects: Intercept, Days, zBase:Trt1)",
    "Days; 1 > 0": "can't read",
}


@pytest.mark.parametrize("text", list(REFUSED))
def test_anything_but_effects_and_arithmetic_is_refused(effects, text):
    with pytest.raises(InputError) as caught:
        hypothesis(text, effects)
    assert REFUSED[text] in str(caught.value)

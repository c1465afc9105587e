"""brms's hypothesis(): the table against brms 2.18, and the expression parser (arithmetic on
draws, nothing run as Python)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import REFERENCE

from mixfit.analysis.hypothesis import hypotheses, hypothesis
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


@pytest.fixture
def effects() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "Intercept": rng.normal(250, 7, 4000),
        "Days": rng.normal(10, 1.6, 4000),
        "zBase:Trt1": rng.normal(-0.1, 0.1, 4000),
    }


def test_arithmetic_follows_r(effects):
    a, d = effects["Intercept"], effects["Days"]
    cases = {
        "Intercept + 10 * Days > 350": a + 10 * d - 350,
        "(Intercept - Days) / 2 < 100": (a - d) / 2 - 100,
        "-Days^2 < -90": -(d**2) + 90,  # as in R: -(Days^2)
        "2^3^2 * Days > 0": 2**9 * d,  # right-associative, as in R
        "b_Days - .5e1 > 0": d - 5,
        "zBase:Trt1 < 0": effects["zBase:Trt1"],
    }
    for text, draws in cases.items():
        row = hypothesis(text, effects)
        assert row["Estimate"] == pytest.approx(draws.mean(), rel=1e-12), text
        assert row["Est.Error"] == pytest.approx(draws.std(ddof=1), rel=1e-12), text


def test_one_and_two_sided(effects):
    one = hypothesis("Days > 9", effects)
    share = float((effects["Days"] > 9).mean())
    assert one["Post.Prob"] == pytest.approx(share)
    assert one["Evid.Ratio"] == pytest.approx(share / (1 - share))
    assert one["CI.Lower"] == pytest.approx(np.quantile(effects["Days"] - 9, 0.05))
    assert hypothesis("Days > 0", effects)["Evid.Ratio"] == float("inf")
    assert hypothesis("Days > 0", effects)["Hypothesis"] == "(Days) > 0"
    two = hypothesis("Days = 10", effects)
    assert two["Evid.Ratio"] is None and two["Post.Prob"] is None and two["Star"] == ""
    assert two["CI.Upper"] == pytest.approx(np.quantile(effects["Days"] - 10, 0.975))
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

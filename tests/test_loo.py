"""PSIS-LOO and loo_compare from results folders, against brms 2.18 (tests/reference)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import REFERENCE, SAMPLE_DATA

from mixfit.analysis.loo import Loo, compare, loo

REFERENCE_POST = json.loads((REFERENCE / "sleepstudy_post.json").read_text())


def brms_loo(key: str) -> dict:
    return {row["_row"]: row for row in REFERENCE_POST[key]}


@pytest.fixture(scope="module")
def intercepts_only(run_mixfit, tmp_path_factory):
    """brms's m0: Reaction ~ Days + (1 | Subject), same settings as the session's m1."""
    out = tmp_path_factory.mktemp("loo") / "m0"
    done = run_mixfit(
        "fit",
        SAMPLE_DATA / "sleepstudy.csv",
        "-f",
        "Reaction ~ Days + (1 | Subject)",
        "-o",
        out,
        "--seed",
        "1",
        "--no-plots",
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    return out


def test_loo_matches_brms(sleepstudy_fit):
    out, _ = sleepstudy_fit
    result = loo(out, "m1")
    estimates = result.estimates()
    brms = brms_loo("loo_m1")
    assert abs(estimates.loc["elpd_loo", "Estimate"] - brms["elpd_loo"]["Estimate"]) < 2
    assert estimates.loc["elpd_loo", "SE"] == pytest.approx(brms["elpd_loo"]["SE"], rel=0.1)
    assert estimates.loc["p_loo", "Estimate"] == pytest.approx(brms["p_loo"]["Estimate"], rel=0.15)
    assert estimates.loc["looic", "Estimate"] == pytest.approx(
        -2 * estimates.loc["elpd_loo", "Estimate"]
    )
    table = result.pareto_table()
    assert table["Count"].sum() == 180 and table["Pct."].sum() == pytest.approx(100)
    assert result.k_threshold == 0.7  # 4000 draws: min(1 - 1 / log10(4000), 0.7)
    high = int((result.pareto_k > 0.7).sum())
    assert (result.advice() is None) == (high == 0)


def test_compare_ranks_the_models_as_brms(sleepstudy_fit, intercepts_only, run_mixfit):
    out, _ = sleepstudy_fit
    table = compare([loo(intercepts_only, "m0"), loo(out, "m1")])
    brms = {row["_row"]: row for row in REFERENCE_POST["loo_compare"]}
    assert list(table.index) == ["m1", "m0"]
    assert table.loc["m1", "elpd_diff"] == 0 and table.loc["m1", "se_diff"] == 0
    assert abs(table.loc["m0", "elpd_diff"] - brms["m0"]["elpd_diff"]) < 4
    assert table.loc["m0", "se_diff"] == pytest.approx(brms["m0"]["se_diff"], rel=0.2)
    assert abs(table.loc["m0", "elpd_loo"] - brms["m0"]["elpd_loo"]) < 2
    # the command: the same table, best first, and as JSON
    done = run_mixfit("loo", intercepts_only, out, "--json")
    assert done.returncode == 0, done.stderr
    parsed = json.loads(done.stdout)
    names = [out.name, intercepts_only.name]
    assert [row["model"] for row in parsed["compare"]] == names
    assert parsed["compare"][1]["elpd_diff"] == pytest.approx(table.loc["m0", "elpd_diff"])
    assert set(parsed["loo"][out.name]) >= {"elpd_loo", "p_loo", "looic", "pareto_k"}
    text = run_mixfit("loo", intercepts_only, out)
    assert text.returncode == 0 and "elpd_diff" in text.stdout and "Pareto k" in text.stdout


def test_se_diff_is_the_sd_of_the_pointwise_differences(sleepstudy_fit, intercepts_only):
    out, _ = sleepstudy_fit
    a, b = loo(out, "m1"), loo(intercepts_only, "m0")
    diff = b.elpd_i - a.elpd_i
    table = compare([a, b])
    assert table.loc["m0", "elpd_diff"] == pytest.approx(diff.sum())
    assert table.loc["m0", "se_diff"] == pytest.approx(np.sqrt(180 * diff.var(ddof=1)))


def test_high_pareto_k_advice_names_what_mixfit_has():
    rows = np.zeros(10)
    high = Loo("m1", rows, rows, np.array([0.1] * 8 + [0.8, 1.2]), 4000, "y", rows)
    advice = high.advice()
    assert advice.startswith("Warning: Found 2 observations with a pareto_k > 0.7 in model 'm1'")
    assert "mixfit kfold" in advice and "--iter" in advice
    assert "moment_match" not in advice and "reloo" not in advice
    one = Loo("m1", rows, rows, np.array([0.1] * 9 + [0.8]), 4000, "y", rows)
    assert "Found 1 observation with" in one.advice()

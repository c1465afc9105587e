"""The verdict: R-hat and ESS of what the summary reports, under brms's names; per-level figures in
the table only; a check that can't be computed fails."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SAMPLE_DATA, read_json

from mixfit.pipeline import prepare
from mixfit.results.arviz_api import convergence, inference_data, split_rhat
from mixfit.results.diagnostics import diagnose
from mixfit.spec import build_spec

SLEEP = [SAMPLE_DATA / "sleepstudy.csv", "-f", "Reaction ~ Days + (Days | Subject)"]


@pytest.fixture(scope="module")
def model():
    spec = build_spec(
        {},
        {"data": SAMPLE_DATA / "sleepstudy.csv", "formula": "Reaction ~ Days + (Days | Subject)"},
    )
    return prepare(spec).model


def draws(model, chains=4, n=500, seed=1):
    """Independent draws of every parameter the tables read: chains that agree, as a good fit's."""
    rng = np.random.default_rng(seed)
    block = model.design.blocks[0]
    shape = (chains, n)
    cor = np.broadcast_to(np.eye(2), shape + (2, 2)).copy()
    cor[..., 0, 1] = cor[..., 1, 0] = rng.uniform(-0.5, 0.5, shape)
    posterior = {
        "b_Intercept": rng.normal(250, 7, shape),
        "b": rng.normal(10, 1.7, shape + (1,)),
        "sd_1": np.abs(rng.normal([25, 6], 5, shape + (2,))),
        "Cor_1": cor,
        "r_1": rng.normal(0, 20, shape + (len(block.levels), 2)),
        "sigma": np.abs(rng.normal(26, 1.5, shape)),
    }
    stats = {
        "diverging": np.zeros(shape, bool),
        "tree_depth": np.full(shape, 3),
        "energy": rng.normal(100, 3, shape),
        "step_size": np.full(shape, 0.5),
    }
    return posterior, stats


def idata(posterior, stats):
    return inference_data({"posterior": posterior, "sample_stats": stats}, {}, {})


def stuck(values: np.ndarray) -> np.ndarray:
    """The same draws with each chain shifted apart: chains that never met."""
    offsets = np.arange(values.shape[0]).reshape(-1, *[1] * (values.ndim - 1))
    return values + 5 * values.std() * offsets


def test_good_draws_pass_and_the_table_uses_brms_names(model):
    checks = diagnose(model, idata(*draws(model)), max_treedepth=10, warmup=500)
    assert checks.ok, checks.failed
    names = checks.parameters["parameter"].tolist()
    assert names[:6] == [
        "b_Intercept",
        "b_Days",
        "sd_Subject__Intercept",
        "sd_Subject__Days",
        "cor_Subject__Intercept__Days",
        "sigma",
    ]
    assert "r_Subject[308,Intercept]" in names and "r_Subject[372,Days]" in names
    assert len(names) == 6 + 18 * 2
    assert checks.parameters[["Rhat", "Bulk_ESS", "Tail_ESS"]].notna().all().all()


def test_a_bad_level_is_in_the_table_not_in_the_verdict(model):
    posterior, stats = draws(model)
    posterior["r_1"][:, :, 0, 0] = stuck(posterior["r_1"][:, :, 0, 0])
    checks = diagnose(model, idata(posterior, stats), max_treedepth=10, warmup=500)
    assert checks.ok, checks.failed
    row = checks.parameters.set_index("parameter").loc["r_Subject[308,Intercept]"]
    assert row["Rhat"] > 1.5 and row["Bulk_ESS"] < 100


@pytest.mark.parametrize(
    ("variable", "name"),
    [
        ("b", "b_Days"),
        ("sd_1", "sd_Subject__Intercept"),
        ("sigma", "sigma"),
    ],
)
def test_a_bad_summarised_parameter_fails_by_its_brms_name(model, variable, name):
    posterior, stats = draws(model)
    values = posterior[variable]
    if values.ndim == 3:
        values[..., 0] = stuck(values[..., 0])
    else:
        posterior[variable] = stuck(values)
    checks = diagnose(model, idata(posterior, stats), max_treedepth=10, warmup=500)
    failed = {f["check"]: f["message"] for f in checks.failed}
    assert set(failed) == {"rhat", "ess"}
    assert f"(worst {name}: " in failed["rhat"] and f"(worst {name}: " in failed["ess"]
    assert f"Warning: 1 parameter has R-hat above 1.01 (worst {name}: " in checks.verdict()


@pytest.mark.parametrize("chains", [2, 4])
def test_split_rhat_is_arvizs_rank_rhat(chains):
    """The R-hat mixfit computes for one chain is ArviZ's rank-normalised split R-hat, taken over
    the halves of each chain: given two chains or more, it is ArviZ's to the last digit (on
    whichever ArviZ series is installed)."""
    import arviz as az

    rng = np.random.default_rng(chains)
    values = rng.normal(size=(chains, 301, 3))
    values[0] += 0.4  # chains that disagree a little
    values[..., 2] = np.round(values[..., 2])  # ties
    theirs = az.rhat(az.convert_to_dataset({"x": values}))["x"].values
    np.testing.assert_allclose(split_rhat(values), theirs, rtol=1e-12)


def test_one_chain_gets_brms_split_rhat(model):
    """brms reports split R-hat for one chain: a chain that moved passes, one whose halves
    disagree fails by name; ArviZ alone would give NaN for both."""
    posterior, stats = draws(model, chains=1, n=600)
    checks = diagnose(model, idata(posterior, stats), max_treedepth=10, warmup=500)
    assert checks.ok, checks.failed
    table = checks.parameters.set_index("parameter")
    assert table[["Rhat", "Bulk_ESS"]].notna().all().all()
    assert table.loc["b_Intercept", "Rhat"] == pytest.approx(split_rhat(posterior["b_Intercept"]))
    posterior["sigma"][0, 300:] += 3 * posterior["sigma"].std()  # a chain that drifted
    checks = diagnose(model, idata(posterior, stats), max_treedepth=10, warmup=500)
    failed = {f["check"]: f["message"] for f in checks.failed}
    assert "R-hat above 1.01 (worst sigma: " in failed["rhat"]
    assert convergence({"x": posterior["sigma"][..., None]})["x"]["Rhat"][0] > 1.1


def test_one_draw_per_chain_fails_every_check_it_cannot_compute(model):
    checks = diagnose(model, idata(*draws(model, n=1)), max_treedepth=10, warmup=0)
    assert not checks.ok
    failed = {f["check"]: f["message"] for f in checks.failed}
    assert set(failed) == {"rhat", "ess", "ebfmi"}
    assert (
        "R-hat can't be computed for b_Intercept, b_Days, sd_Subject__Intercept and 3 more "
        "(1 draw per chain)" in failed["rhat"]
    )
    assert "E-BFMI can't be computed in 4 chains (1 draw per chain)" in failed["ebfmi"]
    assert checks.as_dict()["run"]["ebfmi"] == [None] * 4  # JSON has no NaN


def test_non_finite_draws_fail_the_check_and_are_counted(model):
    posterior, stats = draws(model)
    posterior["b_Intercept"][1, [3, 40, 41]] = [np.nan, np.inf, -np.inf]
    posterior["r_1"][0, 5, 2, 1] = np.nan  # a level's: counted, not checked
    checks = diagnose(model, idata(posterior, stats), max_treedepth=10, warmup=500)
    failed = {f["check"]: f["message"] for f in checks.failed}
    assert set(failed) == {"rhat", "ess"}
    assert (
        "R-hat can't be computed for b_Intercept (3 of 2000 draws are not finite)" in failed["rhat"]
    )
    assert checks.nonfinite == {"b_Intercept": 3, "r_Subject[310,Days]": 1}
    assert checks.as_dict()["nonfinite_draws"] == checks.nonfinite
    assert "left out of the estimates (b_Intercept: 3 of 2000" in checks.verdict()


def test_iter_1_fails_and_strict_exits_4(run_mixfit, tmp_path):
    done = run_mixfit(
        "fit",
        *SLEEP,
        "--iter",
        "1",
        "--seed",
        "1",
        "--no-plots",
        "--strict",
        "-o",
        tmp_path / "out",
    )
    assert done.returncode == 4, done.stderr
    diagnostics = read_json(tmp_path / "out" / "diagnostics.json")
    assert diagnostics["ok"] is False
    assert {f["check"] for f in diagnostics["failed_checks"]} == {"rhat", "ess", "ebfmi"}
    summary = (tmp_path / "out" / "summary.txt").read_text()
    assert "all checks passed" not in summary and "R-hat can't be computed" in summary

"""Smooth terms s() and t2() in a fit (mixfit/model/terms/smooth.py, stan_templates/terms/smooth.stan):
brms 2.18's ChickWeight fit (the one slow agreement test, 4 chains x 1000), and fast fits of
simulated curves: s(x, by = f), t2(x, z), predictions at new x, loo, conditional effects, a
smooth in sigma's formula, and chains run as jobs then combined."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE, ROOT, assert_same_log_density, fit_as_chain_jobs, mixfit

CHICK_DATA = ROOT / "tests" / "data" / "ChickWeight.csv"
CHICK_FORMULA = "weight ~ Diet + s(Time) + (1 | Chick)"
QUICK = ["--chains", "2", "--iter", "400", "--seed", "1", "--quiet", "--no-plots"]


def _fit(folder: Path, data: Path, *formulas: str, extra: tuple[str, ...] = ()) -> Path:
    args = ["fit", data]
    for formula in formulas:
        args += ["-f", formula]
    done = mixfit(*args, "-o", "out", *(extra or QUICK), cwd=folder, timeout=900)
    assert done.returncode == 0, done.stderr
    return folder / "out"


def _predict(out: Path, rows: pd.DataFrame, *extra: str) -> pd.DataFrame:
    rows.to_csv(out.parent / "new.csv", index=False)
    done = mixfit("predict", out, "new.csv", "-o", "pred.csv", *extra, cwd=out.parent)
    assert done.returncode == 0, done.stderr
    return pd.read_csv(out.parent / "pred.csv")


# --- brms's ChickWeight fit ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def chick(tmp_path_factory):
    """The slow agreement fit: 4 chains x 1000 iterations, as few as the comparison allows."""
    folder = tmp_path_factory.mktemp("chick")
    extra = ("--chains", "4", "--iter", "1000", "--seed", "7", "--quiet", "--no-plots")
    out = _fit(folder, CHICK_DATA, CHICK_FORMULA, extra=extra)
    brms = json.loads((REFERENCE / "chick_spline.json").read_text())["brms"]
    return out, brms


def test_chick_agrees_with_brms(chick):
    """The curve at brms's grid (Diet D1, group-level terms left out) within 0.3 posterior SD of
    brms's at every point, the population effects (sTime_1 among them) within 0.3 SD, and
    sd(Intercept), sigma and the smooth's SD within 15%."""
    out, brms = chick
    grid = pd.DataFrame([{"Time": r["Time"], "Diet": r["Diet"]} for r in brms["grid"]])
    curve = _predict(out, grid, "--re-formula", "NA")
    for row, ref in zip(curve.itertuples(), brms["grid"]):
        assert abs(row.Estimate - ref["Estimate"]) < 0.3 * ref["Est.Error"], (row, ref)
    fixef = pd.read_csv(out / "fixef.csv").set_index("term")
    assert list(fixef.index) == [r["_row"] for r in brms["fixed"]]
    for ref in brms["fixed"]:
        assert abs(fixef.loc[ref["_row"], "Estimate"] - ref["Estimate"]) < 0.3 * ref["Est.Error"]
    varcorr = pd.read_csv(out / "varcorr.csv").set_index("param")
    sd = brms["random"]["Chick"][0]["Estimate"]
    assert abs(varcorr.loc["sd(Intercept)", "Estimate"] / sd - 1) < 0.15
    sigma = brms["spec_pars"][0]["Estimate"]
    assert abs(varcorr.loc["sigma", "Estimate"] / sigma - 1) < 0.15


def test_chick_program_data_priors_and_summary_are_brms_s(chick):
    """brms's Stan data (Xs, Zs_1_1 equal up to sign), its default priors (sds as sd: the
    response's scale), its names of the draws, and a Smooth Terms section before the
    group-level effects."""
    out, _ = chick
    # brms's make_standata() at ChickWeight's 12 times (its rows: one of these each)
    ref = json.loads((REFERENCE / "chick_spline_smooth.json").read_text())
    data = json.loads((out / "standata.json").read_text())
    assert data["Ks"] == ref["Ks"] and data["nb_1"] == ref["nb_1"]
    assert data["knots_1"] == ref["knots_1"]
    row = np.searchsorted(np.array(ref["unique_Time"], float), np.array(ref["Time"], float))
    for name in ("Xs", "Zs_1_1"):
        ours, theirs = np.array(data[name]), np.array(ref[name])[row]
        signs = np.sign(np.sum(ours * theirs, axis=0))
        assert np.allclose(ours * signs, theirs, atol=1e-6), name
    code = (out / "model.stan").read_text()
    for line in ("vector[Ks] bs;", "vector[knots_1[1]] zs_1_1;", "real<lower=0> sds_1_1;"):
        assert line in code
    assert "target += std_normal_lpdf(zs_1_1);" in code
    priors = pd.read_csv(out / "prior.csv").fillna("")
    sds = priors[priors["class"] == "sds"]
    assert set(sds["prior"]) == {"student_t(3, 0, 69.7)"}
    assert set(sds["coef"]) == {"", "s(Time)"}
    assert "sTime_1" in set(priors[priors["class"] == "b"]["coef"])
    import xarray as xr

    with xr.open_dataset(out / "draws.nc", group="posterior") as draws:
        assert {"bs_sTime_1", "sds_sTime_1", "s_sTime_1"} <= set(draws.data_vars)
        assert draws["s_sTime_1"].shape[2:] == (8,)
        assert not any(str(v).startswith("zs_") for v in draws.data_vars)
    text = (out / "summary.txt").read_text()
    assert text.index("Smooth Terms:") < text.index("Group-Level Effects:")
    assert "sds(sTime_1)" in text
    smooths = pd.read_csv(out / "smooths.csv")
    assert list(smooths["param"]) == ["sds(sTime_1)"]
    assert smooths.loc[0, "Estimate"] > 0 and {"Rhat", "Bulk_ESS"} <= set(smooths.columns)


def test_chick_loo_agrees_with_brms(chick):
    out, brms = chick
    assert abs(_elpd_loo(out) - brms["elpd_loo"][0]) < 0.5 * brms["elpd_loo"][1]


def _elpd_loo(out: Path) -> float:
    done = mixfit("loo", out, cwd=out.parent)
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("elpd_loo"))
    return float(line.split()[1])


# --- simulated curves ---------------------------------------------------------------------------


def _by_truth(x: np.ndarray, f: np.ndarray) -> np.ndarray:
    return np.where(f == "a", np.sin(x), 0.5 + np.cos(x / 2))


def _t2_truth(x: np.ndarray, z: np.ndarray) -> np.ndarray:
    return 2 * np.sin(x / 2) * z


@pytest.fixture(scope="module")
def by_fit(tmp_path_factory):
    """y = sin(x) for level a, 0.5 + cos(x / 2) for b, noise SD 0.3: `y ~ f + s(x, by = f)`."""
    folder = tmp_path_factory.mktemp("by")
    rng = np.random.default_rng(1)
    n = 300
    x, f = rng.uniform(0, 10, n), rng.choice(["a", "b"], n)
    data = pd.DataFrame({"y": _by_truth(x, f) + rng.normal(0, 0.3, n), "x": x, "f": f})
    data.to_csv(folder / "by.csv", index=False)
    return _fit(folder, folder / "by.csv", "y ~ f + s(x, by = f)"), data


def test_by_recovers_a_curve_per_level_at_new_x(by_fit):
    """A smooth per level of f (brms's sx:fa_1, sds(sxfa_1)), evaluated at x the fit never saw."""
    out, _ = by_fit
    x = np.linspace(0.25, 9.75, 12)
    rows = pd.DataFrame({"x": np.r_[x, x], "f": ["a"] * 12 + ["b"] * 12})
    pred = _predict(out, rows)
    error = pred["Estimate"] - _by_truth(rows["x"].to_numpy(), rows["f"].to_numpy())
    assert np.sqrt(np.mean(error**2)) < 0.1
    assert np.max(np.abs(error)) < 0.25
    assert np.mean(np.abs(error) < 2.5 * pred["Est.Error"]) > 0.85
    fixef = pd.read_csv(out / "fixef.csv")
    assert list(fixef["term"]) == ["Intercept", "fb", "sx:fa_1", "sx:fb_1"]
    smooths = pd.read_csv(out / "smooths.csv")
    assert list(smooths["param"]) == ["sds(sxfa_1)", "sds(sxfb_1)"]
    design = json.loads((out / "design.json").read_text())
    (term,) = design["population"]["smooths"]
    assert term["state"]["by"]["levels"] == ["a", "b"]
    assert design["effects"] == ["f", "x"]


def test_by_effects_draw_each_level_s_curve_with_its_interval(by_fit):
    out, _ = by_fit
    done = mixfit("effects", out, "--effect", "x", "--by", "f", "-o", "eff.csv", cwd=out.parent)
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out.parent / "eff.csv")
    assert set(table["f"]) == {"a", "b"} and len(table) == 200
    truth = _by_truth(table["x"].to_numpy(), table["f"].to_numpy())
    assert np.sqrt(np.mean((table["estimate__"] - truth) ** 2)) < 0.12
    assert (table["lower__"] < table["estimate__"]).all()
    assert (table["estimate__"] < table["upper__"]).all()
    inside = (table["lower__"] <= truth) & (truth <= table["upper__"])
    assert inside.mean() > 0.8


def test_by_loo_and_new_levels_of_by(by_fit):
    """loo reads the smooths' log_lik; a by level the fit never saw is one clear error."""
    out, data = by_fit
    elpd = _elpd_loo(out)
    # about what a gaussian of SD 0.3 gives per row, less the smooths' effective parameters
    assert -len(data) * (np.log(0.3 * np.sqrt(2 * np.pi)) + 0.5) - 40 < elpd
    (out.parent / "odd.csv").write_text("x,f\n1.0,c\n")
    done = mixfit("predict", out, "odd.csv", cwd=out.parent)
    assert done.returncode == 2 and "never appeared" in done.stderr


def test_tampered_smooth_state_is_one_error(by_fit, tmp_path):
    """design.json's smooth state is untrusted: a transform of the wrong shape is refused."""
    import shutil

    out, _ = by_fit
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    design = json.loads((copy / "design.json").read_text())
    design["population"]["smooths"][0]["state"]["transform"] = [[1.0, 2.0]]
    (copy / "design.json").write_text(json.dumps(design))
    (tmp_path / "new.csv").write_text("x,f\n1.0,a\n")
    done = mixfit("predict", copy, "new.csv", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.splitlines()) == 1 and "transform" in done.stderr


@pytest.fixture(scope="module")
def t2_fit(tmp_path_factory):
    """y = 2 sin(x / 2) z, noise SD 0.3: `y ~ t2(x, z)` (three penalised blocks)."""
    folder = tmp_path_factory.mktemp("t2")
    rng = np.random.default_rng(2)
    n = 300
    x, z = rng.uniform(0, 10, n), rng.uniform(-1, 1, n)
    data = pd.DataFrame({"y": _t2_truth(x, z) + rng.normal(0, 0.3, n), "x": x, "z": z})
    data.to_csv(folder / "t2.csv", index=False)
    return _fit(folder, folder / "t2.csv", "y ~ t2(x, z)")


def test_t2_recovers_a_surface(t2_fit):
    out = t2_fit
    x, z = np.meshgrid(np.linspace(0.5, 9.5, 8), [-0.8, -0.3, 0.3, 0.8])
    rows = pd.DataFrame({"x": x.ravel(), "z": z.ravel()})
    pred = _predict(out, rows)
    error = pred["Estimate"] - _t2_truth(rows["x"].to_numpy(), rows["z"].to_numpy())
    assert np.sqrt(np.mean(error**2)) < 0.1
    assert np.max(np.abs(error)) < 0.3
    smooths = pd.read_csv(out / "smooths.csv")
    assert list(smooths["param"]) == ["sds(t2xz_1)", "sds(t2xz_2)", "sds(t2xz_3)"]
    code = (out / "model.stan").read_text()
    assert "matrix[N, knots_1[3]] Zs_1_3;" in code


def test_smooths_in_mu_and_sigma_as_chain_jobs_then_combined(tmp_path):
    """A chain-array run (each chain a job, then combine) of s(x, bs = "cr") in mu's formula and
    s(x) in sigma's: brms's Zs_sigma_1_1 and sds_sigma_sx_1, read back by predict."""
    rng = np.random.default_rng(3)
    n = 200
    x = rng.uniform(0, 1, n)
    sigma = np.exp(-1.5 + x)
    pd.DataFrame({"y": np.sin(6 * x) + rng.normal(0, sigma), "x": x}).to_csv(
        tmp_path / "sim.csv", index=False
    )
    spec = {
        "data": "sim.csv",
        "formula": ['y ~ s(x, bs = "cr", k = 8)', "sigma ~ s(x, k = 5)"],
        "backend": "stanli",
        "sampler": {"chains": 2, "iter": 400, "seed": 5},
    }
    out = fit_as_chain_jobs(spec, tmp_path)
    code = (out / "model.stan").read_text()
    assert "matrix[N, knots_sigma_1[1]] Zs_sigma_1_1;" in code
    smooths = pd.read_csv(out / "smooths.csv")
    assert list(smooths["param"]) == ["sds(sx_1)", "sds(sigma_sx_1)"]
    fixef = pd.read_csv(out / "fixef.csv")
    assert list(fixef["term"]) == ["Intercept", "sigma_Intercept", "sx_1", "sigma_sx_1"]
    rows = pd.DataFrame({"x": np.linspace(0.05, 0.95, 10)})
    pred = _predict(out, rows)
    assert np.max(np.abs(pred["Estimate"] - np.sin(6 * rows["x"]))) < 0.25
    sig = _predict(out, rows, "--dpar", "sigma")
    assert np.max(np.abs(np.log(sig["Estimate"]) - (-1.5 + rows["x"]))) < 0.5


def test_reduce_sum_form_of_smooths_has_the_same_log_density(tmp_path):
    """Threads: the slices' smooth columns (Xs, Zs_i_j of mu and sigma) give the plain program's
    log density and gradient."""
    stanli = pytest.importorskip("stanli")
    from mixfit.pipeline import prepare
    from mixfit.spec import build_spec

    frame = pd.read_csv(CHICK_DATA)
    frame["z"] = np.random.default_rng(4).uniform(-1, 1, len(frame))
    frame.to_csv(tmp_path / "chick.csv", index=False)

    def prepared(threads: int):
        formulas = ["weight ~ Diet + s(Time, by = Diet, k = 5) + t2(Time, z)", "sigma ~ s(Time)"]
        spec = {"data": tmp_path / "chick.csv", "formula": formulas}
        return prepare(build_spec({}, spec | {"sampler": {"threads_per_chain": threads}}))

    plain, threaded = prepared(1), prepared(3)
    assert (
        "reduce_sum" in threaded.code and "Zs_sigma_1_1[start:end] * s_sigma_1_1" in threaded.code
    )
    threaded.data["grainsize"] = max(1, threaded.data["N"] // 7)
    one = stanli.Model(stan_code=plain.code, data=plain.data, seed=1)
    many = stanli.Model(stan_code=threaded.code, data=threaded.data, seed=1, threads_per_chain=3)
    assert_same_log_density(one, many, points=2)


def test_bases_without_an_unpenalised_part_and_clashing_smooths(tmp_path):
    """bs = "cc" and "cs" leave no unpenalised columns (Ks = 0, no bs draws); two smooths that
    brms would name alike are refused."""
    from mixfit.errors import InputError
    from mixfit.pipeline import prepare
    from mixfit.spec import build_spec

    frame = pd.read_csv(CHICK_DATA)

    def prepared(formula: str):
        return prepare(build_spec({}, {"data": CHICK_DATA, "formula": formula}))

    cyclic = prepared('weight ~ s(Time, bs = "cc", k = 6) + s(Time, bs = "cs", k = 5, by = Diet)')
    assert cyclic.data["Ks"] == 0 and cyclic.data["Xs"].shape == (len(frame), 0)
    assert cyclic.data["knots_1"] == [4] and cyclic.data["nb_2"] == 1
    assert [s.name for s in cyclic.model.slots if s.cls == "sds"][:2] == ["sds_1_1", "sds_2_1"]
    with pytest.raises(InputError, match="another smooth of the formula has the same covariates"):
        prepared('weight ~ s(Time) + s(Time, bs = "cr")')

"""Category-specific effects, cs(z), of brms 2.18's sratio, cratio and acat: one coefficient per
threshold (bcs_z[1], bcs_z[2], ...), taken off the thresholds row by row (brms's thres - mucs[n]').
One sratio fit of simulated data whose cs effect differs clearly between thresholds, asserted on:
recovery, brms's names, the saved log_lik and predict against the definition, loo and effects;
and the refusals (cumulative, a column the data lack)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from test_ordinal_families import direct_probabilities

THRESHOLDS = np.array([-0.8, 0.2, 1.0])
B_X = 0.6
BCS_Z = np.array([1.2, -0.2, -1.0])  # z's effect at each threshold: clearly not one effect


def simulate(n: int = 300, groups: int = 15, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x, z = rng.normal(size=n), rng.normal(size=n)
    g = np.arange(n) % groups
    eta = B_X * x + rng.normal(0, 0.3, groups)[g]
    y = [
        rng.choice(4, p=direct_probabilities("sratio", "logit", e, THRESHOLDS - BCS_Z * zi)) + 1
        for e, zi in zip(eta, z)
    ]
    return pd.DataFrame({"y": y, "x": x, "z": z, "g": [f"g{i}" for i in g]})


@pytest.fixture(scope="module")
def fitted(run_mixfit, tmp_path_factory):
    work = tmp_path_factory.mktemp("cs")
    data = simulate()
    data.to_csv(work / "data.csv", index=False)
    done = run_mixfit(
        "fit", work / "data.csv", "-f", "y ~ x + cs(z) + (1 | g)", "--family", "sratio",
        "--chains", "2", "--iter", "400", "--seed", "2", "--no-plots", "-o", work / "out",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return work, data, done


def draws(out):
    posterior = xr.open_dataset(out / "draws.nc", group="posterior", engine="h5netcdf")
    return posterior.stack(sample=("chain", "draw"))


def test_recovers_a_coefficient_per_threshold(fitted):
    work, _, done = fitted
    fixef = pd.read_csv(work / "out" / "fixef.csv").set_index("term")
    assert list(fixef.index) == [
        "Intercept[1]", "Intercept[2]", "Intercept[3]", "x", "z[1]", "z[2]", "z[3]"
    ]  # fmt: skip
    truth = {f"Intercept[{k + 1}]": t for k, t in enumerate(THRESHOLDS)} | {"x": B_X}
    truth |= {f"z[{k + 1}]": b for k, b in enumerate(BCS_Z)}
    for term, value in truth.items():
        row = fixef.loc[term]
        assert abs(row["Estimate"] - value) < 3 * row["Est.Error"], term
    bcs = draws(work / "out")["bcs_z"]
    difference = (bcs.sel(threshold=1) - bcs.sel(threshold=3)).values
    assert np.quantile(difference, 0.025) > 0.5  # the thresholds' effects told apart
    assert "z[1]" in done.stdout and "z[3]" in done.stdout


def test_brms_names_program_design_and_priors(fitted):
    out = fitted[0] / "out"
    posterior = xr.open_dataset(out / "draws.nc", group="posterior", engine="h5netcdf")
    assert posterior["bcs_z"].dims == ("chain", "draw", "threshold")
    assert "bcs" not in posterior  # the Stan program's flattened parameter stays inside
    code = (out / "model.stan").read_text()
    assert "matrix[N, nthres] mucs = Xcs * to_matrix(bcs, Kcs, nthres);" in code
    assert "sratio_logit_lpmf(Y[n] | mu[n], 1, Intercept - transpose(mucs[n]))" in code
    design = json.loads((out / "design.json").read_text())
    assert design["category_specific"]["coefs"] == ["z"]
    assert design["category_specific"]["variables"] == ["z"]
    prior = pd.read_csv(out / "prior.csv").fillna("")
    assert len(prior[(prior["class"] == "b") & (prior["coef"] == "z")]) == 1  # brms's one row


def probabilities_of(sample, x: float, z: float, group_effect: np.ndarray) -> np.ndarray:
    """Each draw's category probabilities of one row, from the definition: draws x 4."""
    eta = sample["b_x"].values * x + group_effect
    thresholds = sample["b_Intercept"].values.T - sample["bcs_z"].values.T * z
    return np.array(
        [direct_probabilities("sratio", "logit", e, t) for e, t in zip(eta, thresholds)]
    )


def test_saved_log_lik_is_the_definition(fitted):
    work, data, _ = fitted
    out = work / "out"
    sample = draws(out)
    stored = xr.open_dataset(out / "draws.nc", group="log_likelihood", engine="h5netcdf")
    stored = stored.stack(sample=("chain", "draw"))["y"]
    for row in (0, 150, len(data) - 1):
        r = sample["r_g"].sel(g=data.loc[row, "g"]).values[0]
        p = probabilities_of(sample, data.loc[row, "x"], data.loc[row, "z"], r)
        expected = np.log(p[:, data.loc[row, "y"] - 1])
        np.testing.assert_allclose(stored.isel(obs=row).values, expected, rtol=1e-8)


def test_log_lik_of_new_rows_is_the_saved(fitted):
    """predict's numpy log_lik (kfold's) of the fitted rows read anew: the saved log_lik."""
    from mixfit.analysis.predict import log_lik

    work, data, _ = fitted
    out = work / "out"
    rows = pd.read_csv(work / "data.csv")
    mine = log_lik(out, rows, allow_new_levels=False, sample_new_levels="uncertainty", seed=1)
    stored = xr.open_dataset(out / "draws.nc", group="log_likelihood", engine="h5netcdf")["y"]
    np.testing.assert_allclose(mine, stored.values.reshape(-1, len(data)), rtol=1e-8)


def test_predict_on_new_data(fitted, run_mixfit):
    work = fitted[0]
    new = pd.DataFrame({"x": [0.0, 0.5], "z": [-2.0, 2.0], "g": ["g0", "g3"]})
    new.to_csv(work / "new.csv", index=False)
    done = run_mixfit("predict", work / "out", work / "new.csv", "-o", work / "epred.csv")
    assert done.returncode == 0, done.stderr
    epred = pd.read_csv(work / "epred.csv")
    means = epred[[f"Estimate.P(Y = {k})" for k in range(1, 5)]].to_numpy()
    sample = draws(work / "out")
    for row in range(2):
        r = sample["r_g"].sel(g=new.loc[row, "g"]).values[0]
        direct = probabilities_of(sample, new.loc[row, "x"], new.loc[row, "z"], r).mean(axis=0)
        np.testing.assert_allclose(means[row], direct, rtol=1e-4)
    # bcs_z[1] > 0 lowers the first threshold as z grows: at z = -2 the first category is
    # common, at z = 2 rare
    assert means[0, 0] > 0.5 and means[1, 0] < 0.2
    missing = work / "no_z.csv"
    new.drop(columns=["z"]).to_csv(missing, index=False)
    done = run_mixfit("predict", work / "out", missing)
    assert done.returncode == 2 and "lacks the column 'z'" in done.stderr


def test_loo_and_effects(fitted, run_mixfit):
    work, data, _ = fitted
    out = work / "out"
    done = run_mixfit("loo", out, "--json")
    assert done.returncode == 0, done.stderr
    loo = json.loads(done.stdout)["loo"][out.name]
    assert -len(data) * np.log(4) < loo["elpd_loo"]["Estimate"] < 0
    assert 3 < loo["p_loo"]["Estimate"] < 25  # about 3 thresholds, b_x, 3 bcs_z and the levels
    done = run_mixfit("effects", out, "--effect", "z", "-o", work / "effects.csv")
    assert done.returncode == 0, done.stderr
    effects = pd.read_csv(work / "effects.csv")
    sample = draws(out)
    first = effects.iloc[0]
    p = probabilities_of(sample, data["x"].mean(), first["z"], 0.0)
    expected = np.median(p @ np.arange(1, 5))
    assert first["estimate__"] == pytest.approx(expected, rel=1e-4)
    assert effects["estimate__"].iloc[-1] > first["estimate__"] + 0.5  # fewer 1s as z grows
    # x's effect, z held at its mean: the grid has the cs() columns too
    done = run_mixfit("effects", out, "--effect", "x", "-o", work / "effects_x.csv")
    assert done.returncode == 0, done.stderr
    effect = pd.read_csv(work / "effects_x.csv")["estimate__"].to_numpy()
    assert np.all(np.diff(effect) >= 0) and effect[0] < effect[-1]  # b_x > 0


@pytest.mark.parametrize(
    "formula, family, message",
    [
        ("y ~ x + cs(z)", "cumulative", "need family sratio, cratio or acat, not cumulative"),
        ("y ~ x + cs(nothere)", "sratio", "column 'nothere' is not in"),
        ("y ~ x + cs(x)", "acat", "'x' is both a population-level and a category-specific"),
        ("y ~ x + (cs(1) | g)", "cratio", "category-specific group-level terms"),
    ],
)
def test_refused_in_one_line(fitted, run_mixfit, formula, family, message):
    work = fitted[0]
    out = work / f"refused_{family}"
    done = run_mixfit("fit", work / "data.csv", "-f", formula, "--family", family, "-o", out)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not out.exists()


def test_a_factor_is_coded_against_its_reference_with_a_prior_per_coefficient(fitted, run_mixfit):
    """cs(z + f): f's treatment coding (R's model.matrix less its intercept, as brms's data_cs),
    and a prior on one coefficient reaching it at every threshold (and no other element)."""
    work, data, _ = fitted
    frame = data.assign(f=np.array(["a", "b", "c"])[np.arange(len(data)) % 3])
    frame.to_csv(work / "factor.csv", index=False)
    done = run_mixfit(
        "standata", work / "factor.csv", "-f", "y ~ x + cs(z + f)", "--family", "acat",
        "--prior", "normal(0, 1) : b : fb",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    standata = json.loads(done.stdout)
    expected = np.column_stack([frame["z"], frame["f"] == "b", frame["f"] == "c"]).astype(float)
    assert standata["Kcs"] == 3
    np.testing.assert_allclose(np.array(standata["Xcs"]), expected)
    # bcs is to_matrix(bcs, Kcs, nthres) flattened: fb (column 2) at thresholds 1, 2, 3
    assert standata["prior_bcs_normal_idx"] == [2, 5, 8]


def test_chains_as_jobs_and_combine(tmp_path):
    """cs() fitted a chain per job (as a SLURM array runs them), then combined: the combined fit
    has every threshold's coefficient, and its stored log_lik is numpy's for the same rows."""
    from conftest import fit_as_chain_jobs

    from mixfit.analysis.predict import log_lik

    data = simulate(n=150, seed=12)
    data.to_csv(tmp_path / "data.csv", index=False)
    spec = {
        "data": "data.csv",
        "formula": "y ~ x + cs(z) + (1 | g)",
        "family": "acat",
        "backend": "stanli",
        "sampler": {"chains": 2, "iter": 300, "seed": 4},
    }
    out = fit_as_chain_jobs(spec, tmp_path)
    fixef = pd.read_csv(out / "fixef.csv").set_index("term")
    assert {"z[1]", "z[2]", "z[3]", "x"} <= set(fixef.index)
    with xr.open_dataset(out / "draws.nc", group="log_likelihood", engine="h5netcdf") as saved:
        stored = saved["y"].values.reshape(-1, len(data))
    mine = log_lik(out, data, allow_new_levels=False, sample_new_levels="uncertainty", seed=0)
    np.testing.assert_allclose(mine, stored, rtol=1e-8, atol=1e-10)

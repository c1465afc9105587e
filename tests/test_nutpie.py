"""The nutpie engine: stanli's programs sampled by nutpie's NUTS (mixfit/engines/nutpie.py)."""

from __future__ import annotations

import pandas as pd
import pytest
import xarray as xr
from conftest import SAMPLE_DATA, read_json

from mixfit.engines.nutpie import unavailable

pytestmark = pytest.mark.skipif(unavailable() is not None, reason=str(unavailable()))

SLEEPSTUDY = ("Reaction ~ Days + (Days | Subject)", SAMPLE_DATA / "sleepstudy.csv")


def fit(run_mixfit, out, formula, data, *options, backend="nutpie"):
    done = run_mixfit(
        "fit",
        data,
        "-f",
        formula,
        "-o",
        out,
        "--seed",
        "3",
        "--backend",
        backend,
        "--no-plots",
        "--quiet",
        *options,
    )
    assert done.returncode == 0, done.stderr
    return out


def test_nutpie_agrees_with_stanli_on_the_joint_sleepstudy_model(run_mixfit, tmp_path):
    # --no-marginal: the joint program, with a Cholesky factor (a matrix nutpie must lay out as
    # Stan does) and group-level effects from the sampler itself
    options = ("--no-marginal", "--iter", "1000", "--chains", "2")
    ours = fit(run_mixfit, tmp_path / "nutpie", *SLEEPSTUDY, *options)
    stan = fit(run_mixfit, tmp_path / "stanli", *SLEEPSTUDY, *options, backend="stanli")
    run = read_json(ours / "run.json")
    assert run["backend"] == "nutpie" and run["backend_version"].startswith("nutpie ")
    fixef = {
        name: pd.read_csv(folder / "fixef.csv", index_col=0)
        for name, folder in (("nutpie", ours), ("stanli", stan))
    }
    for term in ("Intercept", "Days"):
        a, b = fixef["nutpie"].loc[term], fixef["stanli"].loc[term]
        # a few Monte Carlo standard errors of 1,000 draws apart at most
        assert abs(a["Estimate"] - b["Estimate"]) < 0.25 * b["Est.Error"]
    varcorr = {
        name: pd.read_csv(folder / "varcorr.csv", index_col="param")
        for name, folder in (("nutpie", ours), ("stanli", stan))
    }
    assert list(varcorr["nutpie"].index) == list(varcorr["stanli"].index)
    gap = (varcorr["nutpie"]["Estimate"] - varcorr["stanli"]["Estimate"]).abs()
    assert (gap < 0.3 * varcorr["stanli"]["Est.Error"]).all(), gap
    stats = xr.open_dataset(ours / "draws.nc", group="sample_stats", engine="h5netcdf")
    assert stats["tree_depth"].shape == (2, 500) and stats["n_steps"].min() >= 1


def test_an_intercept_only_model_thinned(run_mixfit, tmp_path):
    # no population-level slope: b is an empty vector; thinning keeps every fifth draw. (With 200
    # warmup iterations one chain of two stayed where it started, far from the intercept of 1527:
    # nutpie wants a longer warmup than Stan's NUTS does from a poor start)
    out = fit(
        run_mixfit,
        tmp_path / "out",
        "Yield ~ 1 + (1 | Batch)",
        SAMPLE_DATA / "Dyestuff.csv",
        "--no-marginal",
        "--iter",
        "1000",
        "--chains",
        "2",
        "--thin",
        "5",
    )
    posterior = xr.open_dataset(out / "draws.nc", group="posterior", engine="h5netcdf")
    assert posterior["b_Intercept"].shape == (2, 100)
    assert (posterior["b_Intercept"].std("draw") > 1).all()  # every chain moves
    assert 1450 < float(posterior["b_Intercept"].mean()) < 1605


def test_an_ordinal_model_gets_its_predictions_from_python_as_on_stanli(run_mixfit, tmp_path):
    # stanli has no ordered_logistic_rng: nutpie runs stanli's program, y_rep and log_lik come
    # from the draws, and loo reads them
    out = fit(
        run_mixfit,
        tmp_path / "out",
        "y ~ x + (1 | g)",
        SAMPLE_DATA / "family_cumulative_logit.csv",
        "--family",
        "cumulative",
        "--levels",
        "none,mild,moderate,severe",
        "--iter",
        "400",
        "--chains",
        "2",
    )
    done = run_mixfit("loo", out)
    assert done.returncode == 0, done.stderr
    assert "elpd_loo" in done.stdout


def test_an_init_nutpie_cannot_honour_is_refused_before_sampling(run_mixfit, tmp_path):
    done = run_mixfit(
        "fit",
        SAMPLE_DATA / "Dyestuff.csv",
        "-f",
        "Yield ~ 1 + (1 | Batch)",
        "-o",
        tmp_path / "out",
        "--backend",
        "nutpie",
        "--init",
        "0",
        "--quiet",
    )
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        "mixfit: error: --init 0: nutpie starts its chains in (-2, 2) only"
    ]
    assert not (tmp_path / "out").exists()


def test_a_large_trace_is_drawn_to_disk_with_the_same_draws(tmp_path, monkeypatch):
    """A trace beyond ON_DISK_FROM goes to a zarr store in a private temporary folder while it is
    drawn: the same draws as nutpie's in-memory store, and the folder is gone after."""
    import tempfile

    import numpy as np

    from mixfit.engines import nutpie as engine
    from mixfit.pipeline import prepare
    from mixfit.spec import RunSpec, SamplerSettings

    formula, data = SLEEPSTUDY
    prepared = prepare(RunSpec(data=data, formula=formula, marginal=False))
    backend = engine.NutpieBackend()
    compiled = backend.compile(prepared.code, prepared.data, 1, lambda *_: None)
    settings = SamplerSettings(chains=2, iter=200, seed=1)

    def quiet(*_):
        return None

    in_memory = backend.sample(compiled, prepared.data, settings, quiet).posterior
    monkeypatch.setattr(engine, "ON_DISK_FROM", 0)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    on_disk = backend.sample(compiled, prepared.data, settings, quiet).posterior
    assert list(tmp_path.iterdir()) == []
    assert set(on_disk) == set(in_memory)
    for name, values in in_memory.items():
        np.testing.assert_array_equal(on_disk[name], values)

"""log_lik and y_rep computed in numpy for the families stanli can't generate them for, against
Stan's own densities (the family templates' log_lik, run by stanli without the _rng calls it
lacks) and against each distribution's mean."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import SAMPLE_DATA
from scipy import stats

from mixfit.engines.stanli import StanliBackend
from mixfit.pipeline import for_stanli, prepare
from mixfit.results.family_predictions import FAMILIES, complete, wanted
from mixfit.spec import SamplerSettings, build_spec

TRUTH = json.loads((SAMPLE_DATA / "families_truth.json").read_text())
CASES = [
    "zero_inflated_poisson",
    "zero_inflated_negbinomial",
    "beta",
    "cumulative_logit",
    "cumulative_probit",
]


def prepared_for(name: str):
    true = TRUTH[name]
    values = {
        "data": SAMPLE_DATA / true["data"],
        "formula": true["formula"],
        "family": true["family"],
        "sampler": {"seed": 1},
    }
    if true.get("levels"):
        values["levels"] = tuple(true["levels"])
    return prepare(build_spec({}, values))


@pytest.fixture(scope="module", params=CASES)
def case(request):
    """Draws from Stan's program with log_lik kept and y_rep (the _rng) taken out."""
    prepared = prepared_for(request.param)
    posterior = without_y_rep(prepared, SamplerSettings(chains=2, iter=400, seed=1))
    return request.param, prepared.model, posterior


def without_y_rep(prepared, settings: SamplerSettings) -> dict[str, np.ndarray]:
    """The posterior draws of the program with its y_rep lines (the _rng calls) taken out."""
    code = "\n".join(line for line in prepared.code.splitlines() if "y_rep" not in line)
    backend = StanliBackend()
    compiled = backend.compile(code, prepared.data, 1, lambda *_: None)
    return backend.sample(compiled, prepared.data, settings, lambda *_: None).posterior


def test_log_lik_is_stans_own(case):
    _, model, posterior = case
    mine = complete(model, posterior, seed=1)["log_lik"]
    np.testing.assert_allclose(mine, posterior["log_lik"], rtol=1e-10, atol=1e-10)


def test_y_rep_has_each_distributions_mean(case):
    """The mean of y_rep over draws and rows against the mean of the distribution it is drawn
    from, computed here from the parameters (scipy for the ordinal CDFs)."""
    name, model, posterior = case
    y_rep = complete(model, posterior, seed=1)["y_rep"]
    design = model.design
    eta = posterior["b"] @ design.X.T
    for block in design.blocks:
        eta += posterior[f"r_{block.id}"][:, :, block.J - 1, 0]
    if name.startswith("cumulative"):
        cdf = stats.logistic.cdf if name.endswith("logit") else stats.norm.cdf
        cuts = posterior["b_Intercept"][:, :, None, :] - eta[..., None]  # P(y <= k)
        expected = 1 + np.sum(1 - cdf(cuts), axis=-1)
    else:
        eta += posterior["b_Intercept"][..., None]
        if name == "beta":
            expected = 1 / (1 + np.exp(-eta))
        else:
            expected = (1 - posterior["zi"][..., None]) * np.exp(eta)
    spread = y_rep.std() / np.sqrt(y_rep.size)
    assert abs(y_rep.mean() - expected.mean()) < 5 * spread
    assert y_rep.shape == eta.shape and np.isfinite(y_rep).all()


def test_the_same_seed_gives_the_same_predictions(case):
    _, model, posterior = case
    a, b = complete(model, posterior, seed=3), complete(model, posterior, seed=3)
    np.testing.assert_array_equal(a["y_rep"], b["y_rep"])


def test_only_those_families_leave_their_predictions_to_python():
    assert sorted(FAMILIES) == [
        "acat",
        "beta",
        "cratio",
        "cumulative",
        "exgaussian",
        "frechet",
        "hurdle_gamma",
        "hurdle_lognormal",
        "hurdle_negbinomial",
        "hurdle_poisson",
        "skew_normal",
        "sratio",
        "zero_inflated_beta",
        "zero_inflated_binomial",
        "zero_inflated_negbinomial",
        "zero_inflated_poisson",
        "zero_one_inflated_beta",
    ]
    ordinal = prepared_for("cumulative_logit")
    assert wanted(ordinal.model)
    stanli = for_stanli(ordinal)
    assert "ordered_logistic_rng" in ordinal.code and "_rng" not in stanli.code
    assert "log_lik" not in stanli.code and stanli.model.python_predictions
    negbinomial = prepared_for("negbinomial")
    assert for_stanli(negbinomial) is negbinomial  # stanli compiles its predictions


TERMS = [
    "s(x, k = 5)",
    "t2(x, z, k = 3)",
    "gp(x, k = 8, c = 5/4)",
    "gp(x)",
    "gp(x, by = f, k = 6, c = 5/4)",
]


@pytest.mark.parametrize("term", TERMS)
def test_smooth_and_gp_terms_are_in_pythons_log_lik(term, tmp_path):
    """The predictor Python rebuilds after sampling has the smooths' and GPs' share too: its
    log_lik is the program's own (a zero-inflated poisson on 150 rows, x on 15 points)."""
    rng = np.random.default_rng(5)
    x, z = rng.integers(0, 15, 150) / 14, rng.normal(size=150)
    y = np.where(rng.random(150) < 0.2, 0, rng.poisson(np.exp(0.5 + np.sin(3 * x))))
    f = np.where(rng.random(150) < 0.5, "a", "b")
    (tmp_path / "d.csv").write_text(
        "y,x,z,f\n" + "".join(f"{a},{b},{c:.4f},{d}\n" for a, b, c, d in zip(y, x, z, f))
    )
    values = {
        "data": tmp_path / "d.csv",
        "formula": f"y ~ {term}" + (" + f" if "by" in term else ""),
        "family": "zero_inflated_poisson",
        "sampler": {"seed": 1},
    }
    prepared = prepare(build_spec({}, values))
    posterior = without_y_rep(prepared, SamplerSettings(chains=1, iter=60, warmup=30, seed=1))
    posterior.setdefault("b", np.empty((1, 30, 0)))  # as pipeline.finish: stanli omits an empty b
    mine = complete(prepared.model, posterior, seed=1)["log_lik"]
    np.testing.assert_allclose(mine, posterior["log_lik"], rtol=1e-10, atol=1e-10)

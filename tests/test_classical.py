"""The classical fit (mixfit/classical/fit.py) against lme4 1.1-31, and its verdicts on
boundary fits, failures and models the library can't express. No sampling: these fit by glmm only.
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixfit.classical.fit import Deferred, check_supported, fit_classical, glmm_call
from mixfit.classical.verdict import SINGULAR
from mixfit.errors import InputError
from mixfit.pipeline import prepare
from mixfit.spec import build_spec

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_data"
DATA = ROOT / "tests" / "data"
REFERENCE = ROOT / "tests" / "reference"

LME4 = {
    "sleepstudy": ("sleepstudy.csv", "Reaction ~ Days + (Days | Subject)"),
    "radon": ("radon.csv", "log_radon ~ floor + log_uranium + (1 + floor | county)"),
    "dyestuff": ("Dyestuff.csv", "Yield ~ 1 + (1 | Batch)"),
}


def design_of(path: Path, formula: str, family: str = "gaussian", factors=(), priors=()):
    spec = build_spec(
        {},
        {"data": path, "formula": formula, "family": family, "factors": factors, "priors": priors},
    )
    return prepare(spec).model.design


def lme4_tables(case: str) -> tuple[dict, dict, dict]:
    """lme4's fixed effects, their SEs, and its SDs/correlations keyed as mixfit names them."""
    ref = json.loads((REFERENCE / f"{case}.json").read_text())["lme4"]
    name = {"(Intercept)": "Intercept"}
    fixef = {name.get(k, k): v for k, v in ref["fixef"].items()}
    se = {name.get(k, k): v for k, v in ref["fixef_se"].items()}
    components = {}
    for row in ref["varcorr"]:
        first = name.get(row.get("var1"), row.get("var1"))
        if row["grp"] == "Residual":
            key = ("Residual", "sigma")
        elif row.get("var2"):
            key = (row["grp"], f"cor({first},{name.get(row['var2'], row['var2'])})")
        else:
            key = (row["grp"], f"sd({first})")
        components[key] = row["sdcor"]
    return fixef, se, components


@pytest.mark.parametrize("case", LME4)
def test_reml_matches_lme4(case):
    data, formula = LME4[case]
    fit = fit_classical(design_of(SAMPLES / data, formula), "REML")
    fixef, se, components = lme4_tables(case)
    assert fit.verdict.headline == "converged, not singular"
    estimates = fit.fixef.set_index("term")
    for term, value in fixef.items():
        assert estimates.loc[term, "Estimate"] == pytest.approx(value, rel=1e-3)
        assert estimates.loc[term, "Std.Error"] == pytest.approx(se[term], rel=1e-3)
    varcorr = fit.varcorr.set_index(["group", "param"])["Estimate"]
    assert set(varcorr.index) == set(components)
    for key, value in components.items():
        if key[1].startswith("cor("):
            # lme4 stopped short on radon's correlation (0.20423; its REML criterion there is
            # 7.5e-7 above glmm's optimum at 0.20452, which mixedlm finds too): absolute 1e-3
            assert varcorr[key] == pytest.approx(value, abs=1e-3)
        else:
            assert varcorr[key] == pytest.approx(value, rel=1e-3)


def test_ml_differs_from_reml_as_lme4s_would():
    """ML shrinks the variance components (divides by n, not n - p): sigma and the SD fall."""
    design = design_of(SAMPLES / "sleepstudy.csv", LME4["sleepstudy"][1])
    reml, ml = fit_classical(design, "REML"), fit_classical(design, "ML")
    assert ml.verdict.method == "ML"
    reml_vc = reml.varcorr.set_index("param")["Estimate"]
    ml_vc = ml.varcorr.set_index("param")["Estimate"]
    assert ml_vc["sigma"] < reml_vc["sigma"] and ml_vc["sd(Intercept)"] < reml_vc["sd(Intercept)"]
    # lme4's ML fit of sleepstudy: sd(Intercept) 23.78, sd(Days) 5.717, sigma 25.59
    assert ml_vc["sd(Intercept)"] == pytest.approx(23.78, abs=0.01)
    assert ml_vc["sd(Days)"] == pytest.approx(5.717, abs=0.001)


def test_glmm_gets_mixfits_design_not_the_users_formula():
    design = design_of(
        SAMPLES / "poisson_crossed.csv",
        "count ~ x + offset(log(exposure)) + (1 | site) + (1 | year)",
        "poisson",
    )
    call = glmm_call(design)
    assert call.formula == "y ~ 1 + b1 + (1 | g1) + (1 | g2)"
    assert call.names == {"(Intercept)": "Intercept", "b1": "x"}
    np.testing.assert_array_equal(call.data["b1"], design.X[:, 0])
    fit = fit_classical(design, "Laplace ML")
    assert fit.verdict.method == "Laplace ML" and fit.verdict.converged
    # the offset is used: without it the intercept would absorb log(exposure)
    assert fit.fixef.set_index("term").loc["x", "Estimate"] == pytest.approx(0.5, abs=0.05)
    assert list(fit.varcorr["group"]) == ["site", "year"]
    assert fit.varcorr["Std.Error"].notna().all()  # glmm gives GLMM SDs a standard error


def test_binomial_trials_become_successes_and_failures():
    design = design_of(
        SAMPLES / "family_binomial_cloglog.csv",
        "k | trials(n) ~ x + (1 | g)",
        "binomial(link=cloglog)",
    )
    call = glmm_call(design)
    assert call.formula.startswith("cbind(y, failures) ~ ")
    np.testing.assert_array_equal(call.data["y"] + call.data["failures"], design.response.trials)
    fit = fit_classical(design, "Laplace ML")
    assert fit.verdict.converged
    # simulated with x = 0.4 on the cloglog scale (sample_data/families_truth.json)
    truth = json.loads((SAMPLES / "families_truth.json").read_text())["binomial_cloglog"]
    x = fit.fixef.set_index("term").loc["x"]
    assert abs(x["Estimate"] - truth["b"]["x"]) < 3 * x["Std.Error"]


def test_negbinomial_reports_its_shape():
    design = design_of(SAMPLES / "family_negbinomial.csv", "y ~ x + (1 | g)", "negbinomial")
    fit = fit_classical(design, "Laplace ML")
    assert list(fit.varcorr["param"]) == ["sd(Intercept)", "shape"]
    # simulated with shape 3 (sample_data/families_truth.json)
    assert fit.varcorr.set_index("param").loc["shape", "Estimate"] == pytest.approx(3, rel=0.25)


def test_no_between_group_variance_is_a_boundary_fit():
    fit = fit_classical(design_of(DATA / "no_group_variance.csv", "y ~ 1 + (1 | g)"), "REML")
    verdict = fit.verdict
    assert verdict.converged and verdict.singular
    assert verdict.boundary == [{"group": "g", "param": "sd(Intercept)", "at": "0"}]
    assert verdict.headline == "converged, boundary (singular) fit: ~g: sd(Intercept) = 0"
    assert SINGULAR in verdict.messages
    assert "help(" not in SINGULAR and "an SD at 0" in SINGULAR  # says what singular means


def test_the_librarys_arithmetic_warnings_stay_inside_the_verdict():
    """Two SDs at 0 make glmm divide 0 by 0 for their correlation: numpy's RuntimeWarning used to
    print on the terminal; the verdict already says what it means."""
    design = design_of(DATA / "no_group_variance_slope.csv", "y ~ x + (x | g)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = fit_classical(design, "REML")
    # glmm's own reports (UserWarnings) are the verdict's input, filtered outside pytest
    assert [str(w.message) for w in caught if not issubclass(w.category, UserWarning)] == []
    assert fit.verdict.singular
    assert fit.verdict.boundary == [
        {"group": "g", "param": "sd(Intercept)", "at": "0"},
        {"group": "g", "param": "sd(x)", "at": "0"},
    ]


def test_random_slope_on_three_groups_names_the_correlation():
    fit = fit_classical(design_of(DATA / "slope_three_groups.csv", "y ~ x + (x | g)"), "REML")
    assert fit.verdict.singular
    assert fit.verdict.boundary == [{"group": "g", "param": "cor(Intercept,x)", "at": "+1"}]


def test_more_random_effects_than_rows_fails_as_lme4_does():
    fit = fit_classical(design_of(DATA / "more_effects_than_rows.csv", "y ~ x + (x | g)"), "REML")
    assert not fit.ok and fit.verdict.status == "failed"
    assert fit.verdict.reason.startswith(
        "number of observations (=12) <= number of random effects (=12) for term (1 + x | g)"
    )
    assert fit.fixef.empty and fit.varcorr.empty


def test_rank_deficient_population_effects_are_named(tmp_path):
    frame = pd.read_csv(SAMPLES / "sleepstudy.csv").assign(Weeks=lambda d: d["Days"] / 7)
    frame.to_csv(tmp_path / "sleep.csv", index=False)
    # a proper prior identifies the Bayesian model (mixfit refuses it under flat priors)
    design = design_of(
        tmp_path / "sleep.csv",
        "Reaction ~ Days + Weeks + (1 | Subject)",
        priors=("normal(0, 10) : b",),
    )
    fit = fit_classical(design, "REML")
    assert fit.verdict.rank_deficient == ["Weeks"]
    assert any(
        "rank deficient so dropping 1 column / coefficient" in m for m in fit.verdict.messages
    )


@pytest.mark.parametrize(
    "formula, why",
    [
        ("Reaction ~ Days + (Days || Subject)", "(1 + Days || Subject) has them fixed at 0"),
        ("Reaction ~ Days + (0 + Days | Subject)", "beside an intercept"),
        ("Reaction ~ 1 + (Days | Subject)", "'Days' of (1 + Days | Subject) is not one"),
    ],
)
def test_structures_glmm_cannot_fit_fail_with_the_reason(formula, why):
    fit = fit_classical(design_of(SAMPLES / "sleepstudy.csv", formula), "REML")
    assert fit.verdict.status == "failed"
    assert why in fit.verdict.reason


def test_families_without_a_classical_fit_are_bad_input():
    design = design_of(SAMPLES / "family_student.csv", "y ~ x + (1 | g)", "student")
    with pytest.raises(InputError, match="no classical fit for family 'student'"):
        check_supported(design)
    with pytest.raises(InputError):
        Deferred(design, "REML")


def test_deferred_fits_once_whichever_thread_asks():
    deferred = Deferred(design_of(SAMPLES / "Dyestuff.csv", LME4["dyestuff"][1]), "REML")
    deferred.run()
    first = deferred.result()
    assert deferred.result() is first
    assert first.verdict.converged

"""lme4's view of the classical fit, against lme4 1.1-31's own summaries
(tests/reference/lme4_summaries.json: sleepstudy by REML and ML, cbpp by glmer): the criterion,
the scaled residuals, the Variance column, t values (z values and Pr(>|z|) for glmer), the
correlation of the fixed effects, and lme4's convergence check (max|grad|), which passes at the
optimum and fails off it with lme4's message. No sampling."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from mixfit.classical import gradient
from mixfit.classical.fit import fit_classical
from mixfit.classical.text import abbreviate, classical_text
from mixfit.pipeline import prepare
from mixfit.results.numbers import formatted
from mixfit.spec import build_spec

ROOT = Path(__file__).resolve().parent.parent
LME4 = json.loads((ROOT / "tests" / "reference" / "lme4_summaries.json").read_text())
SLEEP = (ROOT / "sample_data" / "sleepstudy.csv", "Reaction ~ Days + (Days | Subject)", "gaussian")
CBPP = (
    ROOT / "tests" / "data" / "cbpp.csv",
    "incidence | trials(size) ~ period + (1 | herd)",
    "binomial",
)
CASES = {
    "sleepstudy_reml": (SLEEP, "REML"),
    "sleepstudy_ml": (SLEEP, "ML"),
    "cbpp_glmer": (CBPP, "Laplace ML"),
}


def design_of(data: Path, formula: str, family: str):
    return prepare(
        build_spec({}, {"data": data, "formula": formula, "family": family})
    ).model.design


@pytest.fixture(scope="module")
def fits():
    out = {}
    for case, ((data, formula, family), method) in CASES.items():
        design = design_of(data, formula, family)
        out[case] = (design, fit_classical(design, method))
    return out


def printed_after(case: str, heading: str, offset: int = 1) -> list[str]:
    """The tokens of the line ``offset`` lines after ``heading`` in lme4's printed summary."""
    lines = LME4[case]["printed"]
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(heading))
    return lines[start + offset].split()


def text_after(text: str, heading: str, offset: int = 1) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(heading))
    return lines[start + offset].split()


def test_reml_criterion_residuals_variances_and_t_values(fits):
    design, fit = fits["sleepstudy_reml"]
    ref = LME4["sleepstudy_reml"]
    figures = fit.figures
    assert figures.criterion["REML criterion at convergence"] == pytest.approx(
        ref["REMLcrit"], abs=1e-3
    )
    quantiles = list(ref["scaled_residuals"].values())
    np.testing.assert_allclose(list(figures.residuals.values()), quantiles, atol=1e-4)
    t = figures.tests.set_index("term")["t value"]
    assert t.tolist() == pytest.approx([c["t value"] for c in ref["coefficients"]], rel=1e-4)
    assert figures.correlation.loc["Days", "Intercept"] == pytest.approx(ref["vcov_cor"], abs=1e-4)
    text = classical_text(fit, design, "s")
    assert "REML criterion at convergence: 1743.6" in text.splitlines()
    assert text_after(text, "Scaled residuals:", 2) == printed_after(
        "sleepstudy_reml", "Scaled residuals:", 2
    )
    assert text_after(text, "Random effects:") == ["Groups", "Name", "Variance", "Std.Dev.", "Corr"]
    variances = [float(v) for v in text_after(text, "Random effects:", 2)[2:3]]
    assert variances == pytest.approx([ref["varcorr"][0]["vcov"]], rel=1e-4)
    assert text_after(text, "Fixed effects:")[:3] == ["Estimate", "Std.", "Error"]
    assert text_after(text, "Fixed effects:", 2)[:4] == ["Intercept", "251.405", "6.825", "36.838"]
    assert text_after(text, "Correlation of Fixed Effects:", 2) == ["Days", "-0.138"]


def test_ml_information_criteria(fits):
    design, fit = fits["sleepstudy_ml"]
    ref = LME4["sleepstudy_ml"]
    criterion = fit.figures.criterion
    for name in ("logLik", "AIC", "BIC"):
        assert criterion[name] == pytest.approx(ref[name], abs=1e-3), name
    assert criterion["df.resid"] == ref["df.resid"]
    assert criterion["deviance"] == pytest.approx(-2 * ref["logLik"], abs=1e-3)  # as printed
    text = classical_text(fit, design, "s")
    assert text_after(text, "AIC") == printed_after("sleepstudy_ml", "AIC")
    assert text_after(text, "Scaled residuals:", 2) == printed_after(
        "sleepstudy_ml", "Scaled residuals:", 2
    )
    days = printed_after("sleepstudy_ml", "Fixed effects:", 3)
    assert text_after(text, "Fixed effects:", 3)[:3] == days[:3]  # Days, Estimate, SE


def test_glmer_z_values_p_values_and_correlations(fits):
    """glmm's optimum for cbpp is a little better than lme4's (logLik -92.0263 against -92.0266),
    and its SEs, from the Hessian at that point, differ from lme4's by about half a percent."""
    design, fit = fits["cbpp_glmer"]
    ref = LME4["cbpp_glmer"]
    criterion = fit.figures.criterion
    for name in ("logLik", "AIC", "BIC"):
        assert criterion[name] == pytest.approx(ref[name], abs=2e-3), name
    assert criterion["df.resid"] == ref["df.resid"]
    # lme4's deviance() is the sum of squared deviance residuals; summary prints -2 logLik
    assert criterion["deviance"] == pytest.approx(-2 * ref["logLik"], abs=2e-3)
    tests = fit.figures.tests
    z = [c["z value"] for c in ref["coefficients"]]
    p = [c["Pr(>|z|)"] for c in ref["coefficients"]]
    assert tests["z value"].tolist() == pytest.approx(z, rel=0.015)
    assert np.abs(np.log(tests["Pr(>|z|)"] / p)).max() < 0.25
    printed = [printed_after("cbpp_glmer", "Correlation of Fixed Effects:", k) for k in (2, 3, 4)]
    lower = [float(v) for row in printed for v in row[1:]]
    correlation = fit.figures.correlation.to_numpy()
    ours = [correlation[i, j] for i in range(1, 4) for j in range(i)]
    assert ours == pytest.approx(lower, abs=5e-3)
    text = classical_text(fit, design, "cb")
    assert text_after(text, "AIC") == printed_after("cbpp_glmer", "AIC")
    header = text_after(text, "Fixed effects:")
    assert header[:6] == ["Estimate", "Std.", "Error", "z", "value", "Pr(>|z|)"]
    assert text_after(text, "Fixed effects:", 2)[-1] == "***"
    assert "Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1" in text


@pytest.mark.parametrize("case", CASES)
def test_lme4s_gradient_check_passes_at_the_optimum_and_fails_off_it(fits, case):
    design, fit = fits[case]
    method = CASES[case][1]
    assert fit.verdict.gradient_check == "passed"
    assert fit.verdict.max_grad < gradient.GRAD_TOL
    varcorr = fit.varcorr.copy()
    varcorr.loc[0, "Estimate"] *= 1.3  # the first SD away from its optimum
    off = gradient.check(design, method, fit.fixef, varcorr)
    assert not off.converged and off.max_grad > gradient.GRAD_TOL
    assert off.messages[0] == (
        f"Model failed to converge with max|grad| = {off.max_grad:g} (tol = 0.002, component 1)"
    )


def test_a_failed_gradient_check_is_a_fit_that_did_not_converge():
    from mixfit.classical.verdict import judge

    check = gradient.judge(np.array([0.5, 1e-4]), np.array([[4.0, 0.0], [0.0, 1.0]]), 2)
    assert check.messages == [
        "Model failed to converge with max|grad| = 0.25 (tol = 0.002, component 1)"
    ]
    verdict = judge(
        "REML",
        converged=True,
        singular=False,
        pinned=[],
        varcorr=None,
        scale=1.0,
        aliased=[],
        notes=[],
        gradient=check,
    )
    assert verdict.status == "not converged" and verdict.headline.startswith("did not converge")
    assert verdict.as_dict()["max_grad"] == 0.25 and verdict.as_dict()["gradient_check"] == "failed"


def test_lme4s_hessian_check_wording():
    check = gradient.judge(np.zeros(2), np.array([[1.0, 0.0], [0.0, -1.0]]), 2)
    assert (
        "Model failed to converge: degenerate Hessian with 1 negative eigenvalues" in check.messages
    )
    check = gradient.judge(np.zeros(2), np.array([[1e7, 0.0], [0.0, 1.0]]), 2)
    assert check.messages == [
        "Model is nearly unidentifiable: very large eigenvalue - Rescale variables?"
    ]


def test_numbers_are_formatted_a_column_at_a_time_as_r_does():
    assert formatted([251.4051, 10.4673, 6.8246, 1.5458]) == ["251.405", "10.467", "6.825", "1.546"]
    assert formatted([612.1, 35.0717, 654.94]) == ["612.10", "35.07", "654.94"]
    assert formatted([-1.39834, 0.231214, math.nan]) == ["-1.3983", "0.2312", ""]
    assert [abbreviate(t) for t in ("Intercept", "period2", "Days")] == ["Intrcp", "perid2", "Days"]

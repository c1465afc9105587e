"""R's poly(), ns() and bs() in formulas, against R itself.

The reference is R 4.2.2 (tests/reference/r_bases.json, made by r_bases.R beside it): each basis
on a small x with ties, its coefficients (poly's alpha and norm2, the splines' knots) and
``predict()`` on new values beyond the fitted range; the column names of R's model.matrix as
brms's rename() spells them; and lm() on a regression of all of them. Everything goes through
the formula (R's spelling), the design, design.json and the new-rows path, as a fit and
``mixfit predict`` use them. The last tests sample for real (one fit, about 20 s on 2 cores).
"""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import REFERENCE

from mixfit.analysis.newdata import new_rows, read_csv
from mixfit.analysis.predict import log_lik
from mixfit.errors import InputError
from mixfit.model.design import build_design
from mixfit.model.families import choose_family
from mixfit.model.formula import parse_formula
from mixfit.model.r_syntax import r_number
from mixfit.pipeline import prepare
from mixfit.results.design_file import describe
from mixfit.spec import build_spec

R = json.loads((REFERENCE / "r_bases.json").read_text())


def prepared(tmp_path, frame: pd.DataFrame, formula: str):
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    # a proper prior: bs() of tied values can have fewer distinct rows than columns
    flags = {"data": path, "formula": formula, "priors": ("normal(0, 10) : b",)}
    return prepare(build_spec({}, flags))


def saved_design(fit) -> dict:
    """design.json as a results folder holds it: through JSON."""
    return json.loads(json.dumps(describe(fit.model, fit.table.frame)))


def data_of(case: str) -> tuple[str, list[float]]:
    if case == "poly(1:10, 2)":
        return "poly(x, 2)", list(range(1, 11))
    if "ties" in case:
        return case.replace("ties", "x"), R["ties"]
    return case, R["x"]


@pytest.mark.parametrize("case", list(R["cases"]))
def test_each_basis_is_rs_on_the_data_and_on_new_rows(tmp_path, case):
    term, x = data_of(case)
    frame = pd.DataFrame({"y": np.linspace(0, 1, len(x)), "x": x})
    fit = prepared(tmp_path, frame, f"y ~ 0 + {term}")
    expected = R["cases"][case]
    np.testing.assert_allclose(fit.model.design.X, expected["basis"], rtol=0, atol=1e-12)
    if "new" not in expected:
        return
    design = saved_design(fit)
    state = design["population"]["state"][0]["transforms"][0]
    if "alpha" in expected:
        np.testing.assert_allclose(state["alpha"], expected["alpha"], rtol=1e-13)
        np.testing.assert_allclose(state["norm2"], expected["norm2"], rtol=1e-13)
    if "knots" in expected:
        assert state["knots"] == expected["knots"]  # R's quantiles, to the bit
        assert state["boundary_knots"] == expected["Boundary.knots"]
    new = pd.DataFrame({"x": R["newx"]})
    np.testing.assert_allclose(new_rows(design, new, "new").X, expected["new"], atol=1e-12)
    # one new row alone is coded with the fitted state too (nothing learnt from it)
    one = new_rows(design, new.iloc[[2]].reset_index(drop=True), "new").X
    np.testing.assert_allclose(one, [expected["new"][2]], atol=1e-12)


@pytest.mark.parametrize("term, same", [("ns(x, df = 1)", "ns(x)"), ("bs(x, df = 3)", "bs(x)")])
def test_a_df_of_no_interior_knots_is_the_basis_without_knots(term, same):
    """R: df = 1 + intercept (ns) or degree + intercept (bs) places no interior knots."""
    frame = pd.DataFrame({"y": np.linspace(0, 1, 12), "x": R["x"]})
    X = build_design(parse_formula(f"y ~ 0 + {term}"), choose_family("gaussian"), frame).X
    np.testing.assert_allclose(X, R["cases"][same]["basis"], atol=1e-12)


def test_poly_is_the_published_poly_of_1_to_10():
    """poly(1:10, 2) as printed in R sessions (e.g. the Stack Overflow answer "What does the R
    function poly really do?"): columns, and coefs alpha = 5.5, 5.5 and norm2 = 1, 10, 82.5, 528."""
    parsed = parse_formula("y ~ 0 + poly(x, 2)")
    frame = pd.DataFrame({"y": np.linspace(0, 1, 10), "x": np.arange(1.0, 11.0)})
    X = build_design(parsed, choose_family("gaussian"), frame).X
    printed = [
        [-0.49543369, 0.52223297],
        [-0.38533732, 0.17407766],
        [-0.27524094, -0.08703883],
        [-0.16514456, -0.26111648],
        [-0.05504819, -0.34815531],
    ]
    np.testing.assert_allclose(X[:5], printed, atol=5e-9)
    np.testing.assert_allclose(X[5:], [[-a, b] for a, b in reversed(printed)], atol=5e-9)
    np.testing.assert_allclose(R["cases"]["poly(1:10, 2)"]["alpha"], [5.5, 5.5])
    np.testing.assert_allclose(R["cases"]["poly(1:10, 2)"]["norm2"], [1, 10, 82.5, 528])


def test_coefficients_are_named_as_brms_names_rs_columns():
    rhs = (
        "poly(x, 2) + poly(x, 2, raw = TRUE) + ns(x, df = 3) + ns(x) + bs(x, 4) + "
        "ns(x, knots = c(3, 6), Boundary.knots = c(0, 13)) + I(x^2) + I(x * 1e5) + "
        "I(x * 2.5e-3) + I(x - 1) + I(x / 2) + log(x + 1)"
    )
    frame = pd.DataFrame({"y": np.linspace(0, 1, 12), "x": R["x"]})
    design = build_design(parse_formula(f"y ~ {rhs}"), choose_family("gaussian"), frame)
    assert design.fixef_names == R["brms_names"]


@pytest.mark.parametrize(
    "value, text",
    [
        (100000, "1e+05"),
        (0.0025, "0.0025"),
        (1e-4, "1e-04"),
        (123456, "123456"),
        (0.1, "0.1"),
        (1 / 3, "0.333333333333333"),
        (2.0, "2"),
        (-1e5, "-1e+05"),
        (1e100, "1e+100"),
    ],
)
def test_numbers_in_names_are_written_as_r_deparses_them(value, text):
    assert r_number(value) == text


@pytest.mark.parametrize(
    "formula, phrase",
    [
        ("y ~ poly(x, 12)", "'degree' must be less than number of unique points"),
        ("y ~ poly(x, 0)", "'degree' must be a whole number from 1"),
        ("y ~ poly(x, 2.5)", "not 2.5"),
        ("y ~ poly(g, 2)", "needs a numeric variable"),
        ("y ~ ns(x, df = 0)", "ns(): 'df' must be a whole number from 1"),
        ("y ~ ns(x, df = 1, intercept = TRUE)", "from 2"),
        ("y ~ bs(x, df = 2)", "bs(): 'df' must be a whole number from 3"),
        ("y ~ bs(x, degree = 0)", "'degree' must be a whole number from 1"),
        ("y ~ ns(x, knots = 20)", "the knot 20 is not inside the boundary knots (0.5, 12)"),
        ("y ~ bs(x, Boundary.knots = c(1, 2, 3))", "takes two numbers"),
        ("y ~ ns(x, intercept = 1)", "takes TRUE or FALSE"),
        ("y ~ ns(x, df = 10**9)", "from 1 to 1,000"),
        ("y ~ ns(c5)", "its variable takes one value (5)"),
    ],
)
def test_bases_the_data_cannot_make_are_errors(formula, phrase):
    frame = pd.DataFrame(
        {"y": np.linspace(0, 1, 12), "x": R["x"], "g": list("ab") * 6, "c5": np.full(12, 5.0)}
    )
    with pytest.raises(InputError, match=re.escape(phrase)):
        build_design(parse_formula(formula), choose_family("gaussian"), frame)


def test_an_edited_state_in_design_json_is_an_error(tmp_path):
    frame = pd.DataFrame({"y": np.linspace(0, 1, 12), "x": R["x"]})
    design = saved_design(prepared(tmp_path, frame, "y ~ ns(x, df = 3)"))
    design["population"]["state"][0]["transforms"][0]["knots"] = list(range(5000))
    with pytest.raises(InputError, match=r"terms 'ns\(x, df = 3\)'.*state of ns\(\) is not one"):
        new_rows(design, pd.DataFrame({"x": [1.0]}), "new")


@pytest.fixture(scope="module")
def regression(run_mixfit, tmp_path_factory):
    """R's lm() regression of r_bases.json, fitted with flat priors on the coefficients."""
    root = tmp_path_factory.mktemp("r_habits")
    pd.DataFrame(R["fit"]["data"]).to_csv(root / "data.csv", index=False)
    pd.DataFrame(R["fit"]["new"]).to_csv(root / "new.csv", index=False)
    out = root / "fit"
    done = run_mixfit(
        "fit",
        root / "data.csv",
        "-f",
        R["fit"]["formula"],
        "-o",
        out,
        "--chains",
        "2",
        "--iter",
        "600",
        "--seed",
        "4",
        "--no-plots",
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    return root, out


def test_the_fit_finds_lms_coefficients(regression):
    _, out = regression
    fixef = pd.read_csv(out / "fixef.csv", index_col=0)
    assert list(fixef.index) == R["fit"]["coef"]
    estimate, se = np.array(R["fit"]["estimate"]), np.array(R["fit"]["se"])
    assert np.all(np.abs(fixef["Estimate"] - estimate) < 0.3 * fixef["Est.Error"])
    np.testing.assert_allclose(fixef["Est.Error"], se, rtol=0.25)


def test_predictions_for_new_rows_are_lms(regression, run_mixfit):
    root, out = regression
    done = run_mixfit("predict", out, root / "new.csv", "--type", "linpred")
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(io.StringIO(done.stdout))
    error = np.abs(table["Estimate"] - R["fit"]["predict"])
    assert np.all(error < 0.3 * table["Est.Error"]), (table, R["fit"]["predict"])


def test_design_json_rebuilds_the_fitted_rows_exactly(regression):
    """The log-likelihood of the fitted rows, recomputed from design.json, is Stan's own."""
    root, out = regression
    values = log_lik(
        out,
        read_csv(root / "data.csv"),
        allow_new_levels=False,
        sample_new_levels="uncertainty",
        seed=1,
    )
    stored = xr.open_dataset(out / "draws.nc", group="log_likelihood", engine="h5netcdf")
    expected = next(iter(stored.data_vars.values())).values
    np.testing.assert_allclose(values, expected.reshape(values.shape), rtol=1e-6, atol=1e-8)


def test_effects_draw_lms_curve(regression, run_mixfit):
    """The conditional effect of x (the others at their means) follows lm()'s coefficients."""
    root, out = regression
    done = run_mixfit("effects", out, "--effect", "x", "-o", root / "x.csv")
    assert done.returncode == 0, done.stderr
    curve = pd.read_csv(root / "x.csv")
    data = pd.DataFrame(R["fit"]["data"])
    assert curve["x"].min() == data["x"].min() and curve["x"].max() == data["x"].max()
    grid = pd.DataFrame({"x": curve["x"], **{v: data[v].mean() for v in "zwv"}})
    design = json.loads((out / "design.json").read_text())
    X = new_rows(design, grid, "the grid").X
    expected = R["fit"]["estimate"][0] + X @ np.array(R["fit"]["estimate"][1:])
    assert np.all(np.abs(curve["estimate__"] - expected) < 0.3 * curve["se__"])

"""New rows coded as the fit coded its data (design.json, no Stan): the fitted rows give back the
fitted matrices exactly; rows the model can't code are one-line errors naming the problem."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE_DATA

from mixfit.analysis.newdata import new_rows, read_csv, response, training_rows
from mixfit.errors import InputError
from mixfit.pipeline import prepare
from mixfit.results.design_file import describe
from mixfit.spec import build_spec

CASES = {
    "sleepstudy": ("sleepstudy.csv", "Reaction ~ Days + (Days | Subject)", {}),
    "scaled, two blocks": (
        "sleepstudy.csv",
        "Reaction ~ scale(Days) + I(Days ** 2) + (1 | Subject) + (0 + Days | Subject)",
        {},
    ),
    "factor, interaction": (
        "epilepsy_sim.csv",
        "count ~ zAge + zBase * Trt + center(log(Base)) + (1 | patient)",
        {"family": "poisson", "factors": ("Trt",)},
    ),
    "offset, crossed": (
        "poisson_crossed.csv",
        "count ~ x + offset(log(exposure)) + (1 | site) + (1 | year)",
        {"family": "poisson"},
    ),
    "text factor, bernoulli": (
        "bernoulli_crossed.csv",
        "y ~ x + trt + (1 + trt || subject) + (1 | item)",
        {"family": "bernoulli"},
    ),
    "trials, factor() call": (
        "family_binomial_cloglog.csv",
        "k | trials(n) ~ x + factor(n) + (1 | g)",
        {"family": "binomial(link=cloglog)"},
    ),
    "nested groups": ("radon.csv", "log_radon ~ floor + (1 | county/floor)", {}),
    "intercept only": ("Dyestuff.csv", "Yield ~ 1 + (1 | Batch)", {}),
    "no intercept": ("sleepstudy.csv", "Reaction ~ 0 + Days + (1 | Subject)", {}),
    "group-level terms only": ("sleepstudy.csv", "Reaction ~ 0 + (1 | Subject)", {}),
    "response expression, a:b group": (
        "poisson_crossed.csv",
        "log(exposure) ~ x + (1 | site:year)",
        {},
    ),
    "bernoulli text response": (
        "bernoulli_crossed.csv",
        "trt ~ x + (1 | subject)",
        {"family": "bernoulli"},
    ),
    "uncorrelated slope, numeric group": (
        "poisson_crossed.csv",
        "count ~ x + (1 + x || year)",
        {"family": "poisson"},
    ),
    "ordinal text response": (
        "family_cumulative_logit.csv",
        "y ~ x + (1 | g)",
        {"family": "cumulative", "levels": ("none", "mild", "moderate", "severe")},
    ),
}


def prepared(name: str):
    data, formula, extra = CASES[name]
    spec = build_spec({}, {"data": SAMPLE_DATA / data, "formula": formula, **extra})
    return prepare(spec)


def saved_design(prepared_fit) -> dict:
    """design.json as a results folder holds it (through JSON, so types are what a reader gets)."""
    return json.loads(json.dumps(describe(prepared_fit.model, prepared_fit.table.frame)))


@pytest.mark.parametrize("name", list(CASES))
def test_the_fitted_rows_give_back_the_fitted_matrices(name):
    fit = prepared(name)
    design = saved_design(fit)
    raw = read_csv(fit.table.path).loc[
        lambda f: f[list(fit.table.frame.columns)].notna().all(axis=1)
    ]
    rows = new_rows(design, raw.reset_index(drop=True), "data")
    fitted = training_rows(fit.model.design)
    np.testing.assert_allclose(rows.X, fitted.X, rtol=1e-12, atol=1e-12)
    if fitted.offset is None:
        assert rows.offset is None
    else:
        np.testing.assert_allclose(rows.offset, fitted.offset, rtol=1e-12)
    for new, old in zip(rows.groups, fitted.groups):
        np.testing.assert_array_equal(new.index, old.index)
        np.testing.assert_allclose(new.Z, old.Z, rtol=1e-12)
        assert new.new_levels == []
    if fitted.trials is not None:
        np.testing.assert_array_equal(rows.trials, fitted.trials)
    np.testing.assert_array_equal(
        response(design, raw.reset_index(drop=True), "data"), fit.model.design.response.values
    )


def test_stateful_transforms_keep_the_fitted_values_for_one_new_row():
    fit = prepared("scaled, two blocks")
    design = saved_design(fit)
    state = design["population"]["state"][0]["transforms"][0]
    assert state["mean"] == pytest.approx(4.5) and state["std"] == pytest.approx(
        np.std(np.arange(10))
    )
    rows = new_rows(design, pd.DataFrame({"Days": [9], "Subject": [308]}), "new")
    # scale(9) with the fitted mean and SD, not those of one row (which would divide by zero)
    assert rows.X[0].tolist() == pytest.approx([(9 - 4.5) / np.std(np.arange(10)), 81.0])


def test_factor_levels_not_in_the_new_rows_keep_their_columns():
    fit = prepared("factor, interaction")
    design = saved_design(fit)
    one = pd.DataFrame({"zAge": [0.0], "zBase": [1.0], "Trt": [1], "Base": [10], "patient": [1]})
    rows = new_rows(design, one, "new")
    assert design["population"]["coefs"] == ["zAge", "zBase", "Trt1", "zBase:Trt1", "centerlogBase"]
    base = np.log(fit.table.frame["Base"]).mean()
    assert rows.X[0].tolist() == pytest.approx([0.0, 1.0, 1.0, 1.0, np.log(10) - base])


def write(tmp_path: Path, text: str) -> pd.DataFrame:
    (tmp_path / "new.csv").write_text(text)
    return read_csv(tmp_path / "new.csv")


ERRORS = {
    "a column missing": ("Subject\n308\n", {}, "lacks the column 'Days' that the model uses"),
    "text in a numeric column": (
        "Days,Subject\nfour,308\n",
        {},
        "'Days' of new.csv must be numeric",
    ),
    "a population value missing": ("Days,Subject\n,308\n", {}, "'Days' of new.csv has no value"),
    "a new level": ("Days,Subject\n1,999\n", {}, "level '999' of grouping factor 'Subject'"),
    "an empty level": ("Days,Subject\n1,\n", {}, "(empty) of grouping factor 'Subject'"),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_rows_the_model_cannot_code_are_errors_naming_them(tmp_path, name):
    text, options, phrase = ERRORS[name]
    design = saved_design(prepared("sleepstudy"))
    with pytest.raises(InputError, match=None) as caught:
        new_rows(design, write(tmp_path, text), "new.csv", **options)
    assert phrase in str(caught.value)


def test_a_population_level_never_seen_is_an_error(tmp_path):
    design = saved_design(prepared("text factor, bernoulli"))
    frame = write(tmp_path, "x,trt,subject,item\n0,placebo,s01,i01\n")
    with pytest.raises(InputError, match="level 'placebo' of 'trt' never appeared"):
        new_rows(design, frame, "new.csv")


def test_new_and_empty_levels_are_new_levels_when_allowed(tmp_path):
    design = saved_design(prepared("sleepstudy"))
    frame = write(tmp_path, "Days,Subject\n1,999\n2,999\n3,\n4,308\n")
    group = new_rows(design, frame, "new.csv", allow_new_levels=True).groups[0]
    assert group.new_levels == ["999", ""]
    assert group.index.tolist() == [18, 18, 19, 0]


def test_left_out_groups_need_no_grouping_column(tmp_path):
    design = saved_design(prepared("offset, crossed"))
    frame = write(tmp_path, "x,exposure\n0.5,2\n")
    rows = new_rows(design, frame, "new.csv", groups=False)
    assert rows.groups == [None, None]
    assert rows.offset.tolist() == pytest.approx([np.log(2)])

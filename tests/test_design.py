"""From a formula and a CSV file to the matrices and group indexes Stan gets."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixfit.errors import InputError
from mixfit.model.data import read_table
from mixfit.model.design import build_design, columns_used
from mixfit.model.families import choose_family
from mixfit.model.formula import parse_formula

SAMPLES = Path(__file__).resolve().parent.parent / "sample_data"


def design(tmp_path, frame: pd.DataFrame, formula: str, family="gaussian", factors=()):
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    parsed = parse_formula(formula)
    table = read_table(path, columns_used(parsed), list(factors))
    return build_design(parsed, choose_family(family), table.frame), table


@pytest.fixture
def epilepsy_like():
    rng = np.random.default_rng(1)
    n = 16
    return pd.DataFrame(
        {
            "count": rng.poisson(5, n),
            "period": np.tile([1, 2, 3, 4], 4),
            "zBase": rng.normal(size=n),
            "Trt": np.repeat([0, 1], 8),
            "patient": np.repeat([101, 102, 103, 104], 4),
            "exposure": rng.uniform(1, 2, n),
        }
    )


def test_brms_term_names(tmp_path, epilepsy_like):
    d, _ = design(
        tmp_path,
        epilepsy_like,
        "count ~ period + zBase * Trt + (1 | patient)",
        "poisson",
        factors=["period", "Trt"],
    )
    assert d.fixef_names == [
        "Intercept",
        "period2",
        "period3",
        "period4",
        "zBase",
        "Trt1",
        "zBase:Trt1",
    ]
    assert d.X.shape == (16, 6)


def test_sleepstudy_design():
    parsed = parse_formula("Reaction ~ Days + (Days | Subject)")
    table = read_table(SAMPLES / "sleepstudy.csv", columns_used(parsed), [])
    d = build_design(parsed, choose_family("gaussian"), table.frame)
    assert d.n == 180 and d.has_intercept and d.coefs == ["Days"]
    (block,) = d.blocks
    assert block.group == "Subject" and block.terms == ["Intercept", "Days"]
    assert len(block.levels) == 18 and block.has_cor
    assert block.J.min() == 1 and block.J.max() == 18
    np.testing.assert_array_equal(block.Z[:, 1], table.frame["Days"])


def test_reference_level_is_the_first_sorted(tmp_path):
    frame = pd.DataFrame({"y": [1.0, 2, 3, 4, 5, 6], "arm": ["c", "a", "b", "c", "a", "b"]})
    d, _ = design(tmp_path, frame, "y ~ arm")
    assert d.coefs == ["armb", "armc"]
    np.testing.assert_array_equal(d.X[:, 0], [0, 0, 1, 0, 0, 1])


def test_factor_flag_makes_a_numeric_column_categorical_sorted_numerically(tmp_path):
    frame = pd.DataFrame({"y": [1.0, 2, 3, 4, 5, 6], "YEAR": [96, 95, 97, 95, 96, 100]})
    assert design(tmp_path, frame, "y ~ YEAR")[0].coefs == ["YEAR"]
    d, _ = design(tmp_path, frame, "y ~ YEAR", factors=["YEAR"])
    assert d.coefs == ["YEAR96", "YEAR97", "YEAR100"]


@pytest.mark.parametrize(
    "values", [[3, 1, 2, 3, 1, 2], [3.0, 1.0, 2.0, 3.0, 1.0, 2.0], ["c", "a", "b"] * 2]
)
def test_grouping_columns_are_categorical_whatever_the_dtype(tmp_path, values):
    frame = pd.DataFrame({"y": [1.0, 2, 3, 4, 5, 6], "g": values})
    d, _ = design(tmp_path, frame, "y ~ 1 + (1 | g)")
    (block,) = d.blocks
    assert len(block.levels) == 3
    assert block.levels[0] in {"1", "a"}
    assert list(block.J) == [3, 1, 2, 3, 1, 2]
    assert block.Z.shape == (6, 1)


def test_nested_groups_index_the_interaction(tmp_path):
    frame = pd.DataFrame(
        {"y": np.arange(8.0), "a": ["p", "p", "q", "q"] * 2, "b": [1, 2, 1, 2] * 2}
    )
    d, _ = design(tmp_path, frame, "y ~ 1 + (1 | a/b)")
    assert [b.group for b in d.blocks] == ["a", "a:b"]
    assert len(d.blocks[0].levels) == 2 and len(d.blocks[1].levels) == 4
    assert d.blocks[1].levels == ["p_1", "p_2", "q_1", "q_2"]


def test_uncorrelated_block_has_no_correlation(tmp_path, epilepsy_like):
    d, _ = design(tmp_path, epilepsy_like, "count ~ zBase + (1 + zBase || patient)", "poisson")
    assert d.blocks[0].terms == ["Intercept", "zBase"] and not d.blocks[0].has_cor


def test_slope_only_block(tmp_path, epilepsy_like):
    d, _ = design(tmp_path, epilepsy_like, "count ~ zBase + (0 + zBase | patient)", "poisson")
    assert d.blocks[0].terms == ["zBase"]


@pytest.mark.parametrize("rhs", ["0 + (1 | patient)", "-1 + (1 | patient)"])
def test_group_level_terms_only(tmp_path, epilepsy_like, rhs):
    d, _ = design(tmp_path, epilepsy_like, f"count ~ {rhs}", "poisson")
    assert not d.has_intercept and d.fixef_names == [] and d.X.shape == (16, 0)
    assert len(d.blocks) == 1


@pytest.mark.parametrize("rhs", ["zBase - 1", "0 + zBase"])
def test_no_intercept(tmp_path, epilepsy_like, rhs):
    d, _ = design(tmp_path, epilepsy_like, f"count ~ {rhs}", "poisson")
    assert not d.has_intercept and d.fixef_names == ["zBase"]


def test_offset_is_taken_out_of_X(tmp_path, epilepsy_like):
    d, _ = design(tmp_path, epilepsy_like, "count ~ zBase + offset(log(exposure))", "poisson")
    assert d.coefs == ["zBase"]
    np.testing.assert_allclose(d.offset, np.log(epilepsy_like["exposure"]))


def test_binomial_trials(tmp_path):
    frame = pd.DataFrame({"k": [1, 2, 0, 5], "n": [5, 5, 5, 5], "x": [0.1, 0.2, 0.3, 0.4]})
    d, _ = design(tmp_path, frame, "k | trials(n) ~ x", "binomial")
    assert list(d.response.values) == [1, 2, 0, 5] and list(d.response.trials) == [5] * 4


def test_missing_values_in_used_columns_drop_rows_other_columns_do_not(tmp_path):
    frame = pd.DataFrame(
        {
            "y": [1.0, None, 3, 4, 5, 6],
            "x": [1.0, 2, None, 4, 5, 6],
            "g": ["a", "a", "b", None, "b", "a"],
            "unused": [None] * 6,
        }
    )
    d, table = design(tmp_path, frame, "y ~ x + (1 | g)")
    assert table.rows_read == 6 and table.rows_dropped == 3
    assert d.n == 3 and list(d.response.values) == [1.0, 5.0, 6.0]


def test_columns_used_covers_every_part():
    parsed = parse_formula("k | trials(n) ~ x + offset(log(e)) + (z | g) + (1 | a/b)")
    assert set(columns_used(parsed)) == {"k", "n", "x", "e", "z", "g", "a", "b"}


def test_missing_column_is_named(tmp_path):
    with pytest.raises(InputError, match="'nope' is not in"):
        design(tmp_path, pd.DataFrame({"y": [1.0, 2]}), "y ~ nope")


def test_one_level_group_is_an_error(tmp_path):
    frame = pd.DataFrame({"y": [1.0, 2, 3], "g": ["a"] * 3})
    with pytest.raises(InputError, match="only one level"):
        design(tmp_path, frame, "y ~ 1 + (1 | g)")


def test_response_used_as_predictor_is_an_error(tmp_path):
    with pytest.raises(InputError, match="also a predictor"):
        design(tmp_path, pd.DataFrame({"y": [1.0, 2], "x": [1, 2]}), "y ~ x + y")


@pytest.mark.parametrize(
    "family, values, phrase",
    [
        ("gaussian", ["a", "b", "c"], "must be numeric"),
        ("poisson", ["a", "b", "c"], "must be numeric"),
        ("poisson", [1, -2, 3], "non-negative"),
        ("poisson", [1, 2.5, 3], "whole numbers"),
        ("bernoulli", [0, 1, 2], "must be 0/1"),
        ("bernoulli", ["a", "b", "c"], "exactly two levels"),
    ],
)
def test_responses_the_family_cannot_take(tmp_path, family, values, phrase):
    frame = pd.DataFrame({"y": values, "x": [1.0, 2, 3]})
    with pytest.raises(InputError, match=phrase):
        design(tmp_path, frame, "y ~ x", family)


def test_bernoulli_text_response_reports_the_level_taken_as_one(tmp_path):
    frame = pd.DataFrame({"y": ["yes", "no", "yes"], "x": [1.0, 2, 3]})
    d, _ = design(tmp_path, frame, "y ~ x", "bernoulli")
    assert list(d.response.values) == [1, 0, 1] and "'yes' taken as 1" in d.response.note


def test_successes_above_trials(tmp_path):
    frame = pd.DataFrame({"k": [1, 6], "n": [5, 5], "x": [0.1, 0.2]})
    with pytest.raises(InputError, match="exceeds its trials"):
        design(tmp_path, frame, "k | trials(n) ~ x", "binomial")


@pytest.mark.parametrize(
    "formula, phrase",
    [
        ("y ~ log(x - 2)", "the predictor 'log(x - 2)' is not finite in 2 rows"),
        ("log(y - 1) ~ x", "the response 'log(y - 1)' is not finite"),
        ("y ~ x + offset(log(x - 1))", "the offset is not finite"),
        ("y ~ x + (log(x - 1) | g)", "the g term 'logxM1' is not finite"),
    ],
)
def test_non_finite_values_are_an_error_before_stan_sees_them(tmp_path, formula, phrase):
    frame = pd.DataFrame({"y": [1.0, 2, 3, 4], "x": [1.0, 2, 3, 4], "g": ["a", "b"] * 2})
    with pytest.raises(InputError, match=re.escape(phrase)):
        design(tmp_path, frame, formula)

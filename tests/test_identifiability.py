"""Population-level effects the data can't identify, named before sampling; wide factors warned."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixfit.errors import InputError, MixfitWarning
from mixfit.model.data import read_table
from mixfit.model.design import build_design, columns_used, predictor_columns
from mixfit.model.families import choose_family
from mixfit.model.formula import parse_formula
from mixfit.model.identifiability import check_identified, warn_wide_terms
from mixfit.model.priors import parse_prior_spec
from mixfit.model.program import build_model


def model(tmp_path: Path, frame: pd.DataFrame, formula: str, priors=()):
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    parsed = parse_formula(formula)
    table = read_table(path, columns_used(parsed), [], predictor_columns(parsed))
    design = build_design(parsed, choose_family("gaussian"), table.frame)
    return build_model(design, [parse_prior_spec(p) for p in priors])


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 60
    x = rng.normal(size=n)
    return pd.DataFrame(
        {
            "y": rng.normal(size=n),
            "x": x,
            "z": rng.normal(size=n),
            "c": 5.0,
            "g": [f"g{i % 6}" for i in range(n)],
            "h": [f"h{i // 6 % 3}" for i in range(n)],
            "within": [f"w{i % 3}" for i in range(n)],  # a function of g: g0 and g3 are w0, ...
            "twice": 2 * x,
            "sum": x + 1.0,
            "many": [f"m{i}" for i in range(n)],
        }
    )


@pytest.mark.parametrize(
    "formula, phrase",
    [
        ("y ~ x + c + (1 | g)", "predictor 'c' is constant (5 in every row)"),
        ("y ~ x + twice + (1 | g)", "predictor 'twice' is a linear combination of 'x'"),
        ("y ~ x + I(2 * x)", "predictor 'I2MUx' is a linear combination of 'x'"),
        ("y ~ x + sum", "predictor 'sum' is a linear combination of 'x'"),
        ("y ~ 0 + x + twice", "linear combination of 'x'"),
        ("y ~ x + many", "61 population-level coefficients for 60 rows"),
        ("y ~ g + within", "predictor 'withinw1' is a linear combination of 'gg1', 'gg4'"),
    ],
)
def test_unidentified_flat_prior_coefficients_are_refused(tmp_path, frame, formula, phrase):
    m = model(tmp_path, frame, formula)
    with pytest.raises(InputError, match="can't") as caught:
        check_identified(m.design, m.slots)
    assert phrase in str(caught.value)


@pytest.mark.parametrize(
    "formula", ["y ~ x + z + (1 | g)", "y ~ g * x", "y ~ 0 + c + x", "y ~ (1 | g)", "y ~ g * h"]
)
def test_identified_models_pass(tmp_path, frame, formula):
    m = model(tmp_path, frame, formula)
    check_identified(m.design, m.slots)


def test_proper_priors_identify_what_the_data_cannot(tmp_path, frame):
    m = model(tmp_path, frame, "y ~ x + twice + c", ["normal(0, 1) : b"])
    check_identified(m.design, m.slots)


def test_a_large_sample_is_checked_on_a_subset_first(tmp_path):
    rng = np.random.default_rng(4)
    n = 20_000
    x = rng.normal(size=n)
    big = pd.DataFrame({"y": rng.normal(size=n), "x": x, "z": rng.normal(size=n), "w": x - 3})
    check_identified(*_parts(model(tmp_path, big, "y ~ x + z")))
    with pytest.raises(InputError, match="'w' is a linear combination of 'x'"):
        check_identified(*_parts(model(tmp_path, big, "y ~ x + z + w")))


def _parts(m):
    return m.design, m.slots


def test_a_factor_of_hundreds_of_levels_warns_once(tmp_path):
    n = 400
    rng = np.random.default_rng(5)
    wide = pd.DataFrame(
        {
            "y": rng.normal(size=n),
            "x": rng.normal(size=n),
            "site": [f"s{i % 150}" for i in range(n)],
        }
    )
    m = model(tmp_path, wide, "y ~ x + site")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_wide_terms(m.design, m.slots)
    assert [w.category for w in caught] == [MixfitWarning]
    assert "'site' brings 149 population-level coefficients" in str(caught[0].message)
    assert "(1 | site)" in str(caught[0].message)
    narrow = model(tmp_path, wide, "y ~ x + site", ["normal(0, 1) : b"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_wide_terms(narrow.design, narrow.slots)
    assert caught == []

"""Which group-level blocks are sampled centred, and the population effects each is centred on."""

import numpy as np
import pandas as pd
import pytest

from mixfit.model.centring import centred_blocks, population_map
from mixfit.model.design import build_design
from mixfit.model.families import choose_family
from mixfit.model.formula import parse_formula


def simulate(levels: int, rows: int, sd: float, seed: int = 1) -> pd.DataFrame:
    """Poisson counts, log link: a varying intercept and slope per level of g."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(levels), rows)
    x = rng.normal(size=levels * rows)
    r = rng.normal(0, sd, size=(levels, 2))
    eta = 0.5 + r[g, 0] + (0.3 + r[g, 1] * 0.5) * x
    return pd.DataFrame({"g": g, "x": x, "h": g % 7, "count": rng.poisson(np.exp(eta))})


def design(frame, formula, family="poisson"):
    return build_design(parse_formula(formula), choose_family(family), frame)


@pytest.mark.parametrize(
    ("levels", "rows", "sd", "centred"),
    [
        (100, 50, 0.5, True),  # many rows per level, levels far apart: the data pin each level
        (300, 2, 0.3, False),  # two rows per level: the population distribution shapes them
        (100, 50, 0.0, False),  # no differences between levels to speak of
    ],
)
def test_data_rich_levels_are_centred(levels, rows, sd, centred):
    assert centred_blocks(design(simulate(levels, rows, sd), "count ~ x + (x | g)")) == [centred]


def test_only_blocks_with_an_intercept_and_a_known_estimate_are_centred():
    frame = simulate(100, 50, 0.5)
    assert centred_blocks(design(frame, "count ~ x + (0 + x | g)")) == [False]
    frame["count"] += 1
    assert centred_blocks(design(frame, "count ~ x + (1 | g)", "Gamma")) == [False]
    assert centred_blocks(design(frame, "count ~ x + (1 | g)", "poisson")) == [True]


def test_each_population_effect_centres_one_block():
    frame = simulate(100, 50, 0.5)
    d = design(frame, "count ~ x + (x | g) + (1 | h) + (1 | g:h)")
    F = population_map(d, [True, False, True], intercept=True)
    # columns: Intercept, x
    np.testing.assert_array_equal(F[0], [[1, 0], [0, 1]])
    np.testing.assert_array_equal(F[1], [[0, 0]])  # non-centred: effects centred on zero
    np.testing.assert_array_equal(F[2], [[0, 0]])  # the intercept already centres block 1
    F = population_map(d, [False, True, True], intercept=False)  # no intercept column
    np.testing.assert_array_equal(F[0], [[0], [0]])
    np.testing.assert_array_equal(F[1], [[0]])

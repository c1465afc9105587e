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


def instructors(depts: int, per_dept: int, sd_dept: float, rows: int, seed: int = 1):
    """The shape of lme4's InstEval: students crossed with instructors, instructors nested in
    departments; a gaussian rating with service as a population-level effect."""
    rng = np.random.default_rng(seed)
    teachers = depts * per_dept
    dept_of = np.repeat(np.arange(depts), per_dept)
    students = rows // 20
    s, d = rng.integers(0, students, rows), rng.integers(0, teachers, rows)
    service = rng.integers(0, 2, rows)
    effects = rng.normal(0, 0.3, students)[s] + rng.normal(0, 0.5, teachers)[d]
    y = 3.2 - 0.1 * service + effects + rng.normal(0, sd_dept, depts)[dept_of[d]]
    y += rng.normal(0, 1.2, rows)
    frame = pd.DataFrame({"y": y, "service": service, "s": s, "d": d, "dept": dept_of[d]})
    return frame.astype({"s": str, "d": str, "dept": str})


INSTEVAL = "y ~ service + (1 | s) + (1 | d) + (1 | dept)"


@pytest.mark.parametrize(
    ("depts", "per_dept", "rows", "sd_dept", "dept_centred"),
    [
        # InstEval's own shape: 14 departments of ~5,000 rows, a department SD of 0.08. Counting
        # rows, the departments looked data-rich and were centred; through their ~80 instructors
        # each is pinned down no better than the SD itself: non-centred
        (14, 80, 73_000, 0.08, False),
        (6, 10, 3_000, 0.08, False),
        # departments far apart, their means pinned by many instructors: centred
        (14, 80, 73_000, 1.0, True),
    ],
)
def test_a_block_with_nested_levels_is_judged_through_them(
    depts, per_dept, rows, sd_dept, dept_centred
):
    d = design(instructors(depts, per_dept, sd_dept, rows), INSTEVAL, "gaussian")
    assert [b.group for b in d.blocks] == ["s", "d", "dept"]
    # students (20 rows each, SD 0.3 against a residual 1.2) stay non-centred; instructors
    # (~60 rows each, SD 0.5) are data-rich
    assert centred_blocks(d) == [False, True, dept_centred]


def test_nested_formula_outer_block_sees_its_inner_levels():
    """(1 | a/b) is (1 | a) + (1 | a:b): a learns only through the a:b levels inside it."""
    rng = np.random.default_rng(3)
    a = np.repeat(np.arange(5), 400)
    b = np.tile(np.repeat(np.arange(4), 100), 5)
    eta = 1.0 + rng.normal(0, 0.05, 5)[a] + rng.normal(0, 0.6, 20)[a * 4 + b]
    frame = pd.DataFrame({"count": rng.poisson(np.exp(eta)), "a": a, "b": b})
    d = design(frame.astype({"a": str, "b": str}), "count ~ 1 + (1 | a/b)")
    assert [blk.group for blk in d.blocks] == ["a", "a:b"]
    assert centred_blocks(d) == [False, True]

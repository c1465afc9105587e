"""Which group-level blocks are sampled centred, and the population effects each is centred on."""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import assert_same_log_density

from mixfit.model.centring import centred_blocks, nesting, population_map
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


def test_a_centred_block_nests_in_the_block_holding_its_levels():
    d = design(instructors(14, 80, 0.08, 73_000), INSTEVAL, "gaussian")
    # instructors (block 2) are centred on their department's effect (block 3) as well
    assert nesting(d, centred_blocks(d)) == [0, 3, 0]
    # students are crossed with both; a non-centred block keeps brms's form
    assert nesting(d, [True, False, False]) == [0, 0, 0]


def test_nesting_takes_the_nearest_outer_block_and_never_chains():
    rng = np.random.default_rng(4)
    a = np.repeat(np.arange(3), 600)
    b = np.tile(np.repeat(np.arange(4), 150), 3)
    c = np.tile(np.repeat(np.arange(3), 50), 12)
    frame = pd.DataFrame({"count": rng.poisson(3, 1800), "a": a, "b": b, "c": c})
    d = design(frame.astype({"a": str, "b": str, "c": str}), "count ~ 1 + (1 | a/b/c)")
    assert [blk.group for blk in d.blocks] == ["a", "a:b", "a:b:c"]
    # a:b:c nests in a:b (not a); a:b, its centre, keeps the intercept alone as its own centre
    assert nesting(d, [True, True, True]) == [0, 0, 2]
    assert nesting(d, [True, True, False]) == [0, 1, 0]


def test_nested_centring_is_the_same_model(tmp_path):
    """Instructors centred on the intercept plus their department's effect, against brms's form
    (every block non-centred): the same posterior, sampled by stanli."""
    import stanli

    from mixfit.pipeline import prepare
    from mixfit.spec import build_spec

    path = tmp_path / "ratings.csv"
    instructors(10, 8, 0.3, 3_000, seed=2).to_csv(path, index=False)
    prepared = prepare(build_spec({}, {"data": path, "formula": INSTEVAL, "sampler": {"seed": 1}}))
    assert prepared.data["centred_2"] == 1 and prepared.data["nest_2"] == 3
    brms_form = {**prepared.data, "centred_2": 0, "nest_2": 0}
    means, sds = [], []
    for data in (prepared.data, brms_form):
        fit = stanli.Model(stan_code=prepared.code, data=data).sample(
            chains=4, seed=3, warmup=1000, samples=1000, refresh=0
        )
        names = list(fit.names)
        kept = {"Intercept", "b", "sd_1", "sd_2", "sd_3", "sigma", "r_2", "r_3"}
        wanted = [n for n in names if n.split("[")[0].split(".")[0] in kept]
        draws = fit.draws()[:, :, [names.index(n) for n in wanted]].reshape(-1, len(wanted))
        means.append(draws.mean(axis=0))
        sds.append(draws.std(axis=0))
    difference = np.abs(means[0] - means[1]) / sds[1]
    assert np.median(difference) < 0.1 and difference.max() < 0.3, dict(zip(wanted, difference))
    # a few hundred effective draws of the departments' skewed SD: its own SD is known to ~20%
    spread = np.abs(sds[0] / sds[1] - 1)
    assert np.median(spread) < 0.1 and spread.max() < 0.3, dict(zip(wanted, spread))


def test_run_json_says_how_each_block_was_sampled(run_mixfit, tmp_path):
    path = tmp_path / "ratings.csv"
    instructors(10, 8, 0.3, 3_000, seed=2).to_csv(path, index=False)
    out = tmp_path / "out"
    args = ["--chains", "1", "--iter", "200", "--seed", "1", "--no-plots", "--quiet"]
    done = run_mixfit("fit", path, "-f", INSTEVAL, "-o", out, *args)
    assert done.returncode == 0, done.stderr
    run = json.loads((out / "run.json").read_text())
    assert [(b["group"], b["sampled"]) for b in run["group_effects"]] == [
        ("s", "non-centred"),
        ("d", "centred within dept"),
        ("dept", "non-centred"),
    ]


def test_the_outer_blocks_intercepts_reach_the_rows_through_the_inner_block(tmp_path):
    """With instructors centred within departments, the departments' intercepts reach each row
    through its instructor (one gather fewer over the rows): the same log density and gradient
    as the program with every such fold switched off, each block gathering its own."""
    import re

    import stanli

    from mixfit.pipeline import prepare
    from mixfit.spec import build_spec

    path = tmp_path / "ratings.csv"
    instructors(10, 8, 0.3, 3_000, seed=2).to_csv(path, index=False)
    prepared = prepare(build_spec({}, {"data": path, "formula": INSTEVAL, "sampler": {"seed": 1}}))
    assert prepared.data["nest_2"] == 3
    code = prepared.code
    assert "int carried_3 = nest_1 == 3 || nest_2 == 3;" in code
    unfolded = re.sub(r"int carried_(\d) = [^;]*;", r"int carried_\1 = 0;", code)
    unfolded = re.sub(r"reach \+= col\(r_\d, 1\)\[nest_level_\d\];", "", unfolded)
    assert unfolded != code and "reach +=" not in unfolded
    folded = stanli.Model(stan_code=code, data=prepared.data, seed=1)
    plain = stanli.Model(stan_code=unfolded, data=prepared.data, seed=1)
    assert_same_log_density(folded, plain, grad_tol=1e-9)

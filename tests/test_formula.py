"""Splitting an lme4/brms formula into response, population part and group-level terms."""

import re

import pytest

from mixfit.errors import InputError
from mixfit.model.formula import GroupTerm, parse_formula


def groups(text: str) -> list[tuple[str, str, bool]]:
    return [(g.lhs, g.group, g.correlated) for g in parse_formula(text).groups]


def test_random_intercept_is_taken_out_of_the_population_part():
    parsed = parse_formula("y ~ x + (1 | g)")
    assert parsed.response == "y"
    assert parsed.fixed == "x"
    assert parsed.groups == (GroupTerm("1", ("g",), True),)


def test_correlated_slope():
    assert groups("y ~ x + (x | g)") == [("x", "g", True)]


def test_slope_without_intercept():
    assert groups("y ~ x + (0 + x | g)") == [("0 + x", "g", True)]


def test_double_bar_is_uncorrelated():
    assert groups("y ~ x + (1 + x || g)") == [("1 + x", "g", False)]


def test_crossed_groups_are_two_blocks():
    parsed = parse_formula("y ~ x + (1 | a) + (1 | b)")
    assert parsed.fixed == "x"
    assert [g.group for g in parsed.groups] == ["a", "b"]


def test_nested_slash_expands_to_a_and_a_colon_b():
    assert groups("y ~ (1 | a/b)") == [("1", "a", True), ("1", "a:b", True)]
    assert [g.factors for g in parse_formula("y ~ (1 | a/b)").groups] == [("a",), ("a", "b")]


def test_interaction_group_is_one_block():
    assert [g.factors for g in parse_formula("y ~ (1 | a:b)").groups] == [("a", "b")]


def test_group_term_in_the_middle_leaves_the_rest_joined():
    assert parse_formula("y ~ x + (1 | g) + z").fixed == "x + z"
    assert parse_formula("y ~ (1 | g) + x * z").fixed == "x * z"


def test_only_group_terms_leaves_an_intercept():
    assert parse_formula("y ~ (1 | g)").fixed == "1"


def test_binomial_trials_column_and_number():
    parsed = parse_formula("y | trials(n) ~ x")
    assert (parsed.response, parsed.trials) == ("y", "n")
    assert parse_formula("y | trials(10) ~ x").trials == "10"


def test_offset_stays_in_the_population_part():
    assert parse_formula("y ~ x + offset(log(e)) + (1 | g)").fixed == "x + offset(log(e))"


@pytest.mark.parametrize("text", ["y ~ x - 1", "y ~ 0 + x"])
def test_no_intercept_forms_are_kept(text):
    assert parse_formula(text).fixed == text.split("~ ")[1]


@pytest.mark.parametrize(
    "text, phrase",
    [
        ("", "empty"),
        ("y ~ x + (1 | g", "unbalanced"),
        ("y ~ x)", "without a matching"),
        ("y ~ x ~ z", "more than one '~'"),
        ("y ~ ", "nothing after"),
        ("~ x", "no response"),
        ("y ~ x | g", "needs parentheses"),
        ("y ~ (1 | )", "no grouping factor"),
        ("y ~ ( | g)", "nothing before"),
        ("y | wieghts(w) ~ x", "unknown addition term wieghts()"),
        ("y | n ~ x", "trials(n)"),
        ("y ~ __import__('os').system('touch X')", "Unexpected character: _"),
        ("y ~ system('touch X')", "not allowed"),
        ('y ~ os.system("x")', "not allowed"),
        ("y ~ eval(x)", "function 'eval' is not allowed"),
        ("y ~ x[0]", "not allowed"),
    ],
)
def test_bad_formulas_are_input_errors(text, phrase):
    with pytest.raises(InputError) as caught:
        parse_formula(text)
    assert phrase in str(caught.value)
    assert "\n" not in str(caught.value)


def test_backticked_grouping_factors():
    parsed = parse_formula("y ~ Days + (Days | `Subject ID`) + (1 | `a b`:c)")
    assert [g.factors for g in parsed.groups] == [("Subject ID",), ("a b", "c")]
    assert parsed.groups[0].group == "Subject ID"


def test_numbers_in_calls_are_left_as_written():
    assert parse_formula("y ~ I(x ** 2) + log(z + 1)").fixed == "I(x ** 2) + log(z + 1)"


@pytest.mark.parametrize(
    "text, phrase",
    [
        ("y ~ I(x * 10**100000000)", "overflows"),
        ("y ~ I(x * (10**5)**(10**5))", "overflows"),
        ("y ~ log(x + 2**99999999999)", "overflows"),
        ("y ~ I(x / 0 * 10**400)", "overflows"),
        ("y ~ " + "(" * 33 + "x" + ")" * 33, "more than 32 deep"),
        ("y ~ " + " + ".join(["x"] * 1001), "at most 2,000"),
        ("y ~ x + trials(n)", "belongs in a binomial response"),
        ("y | trials(12345678901) ~ x", "below 2^31"),
        ("y ~ x + (1 | g/g)", "names the grouping factor 'g' twice"),
        ("y ~ x + (1 | a:b:a)", "names the grouping factor 'a' twice"),
        ("y ~ x**2", "write I(x ** 2)"),
        ("y ~ (x + z)**11", "from 1 to 10"),
        ("y ~ 3 + x", "the number 3 can't be a term"),
        ("y ~ x + True", "True can't be a term"),
        ("y ~ x z", "needs an operator between 'x' and 'z'"),
        ("y ~ x^2", "write I(x ** 2)"),
        ("y^2 ~ x", "a power of the response goes inside I()"),
        ("y ~ I(x * 1e400)", "the number 1e400 overflows"),
        ("y ~ I(x * 1e5x)", "needs an operator between '1' and 'e5x'"),
        ("y ~ poly(x, z, 2)", "poly() of more than one variable is not supported"),
        ("y ~ poly(x, 2, TRUE)", "poly() of more than one variable"),
        ("y ~ poly(x, degree = 2, 3)", "an argument without a name follows a named one"),
        ("y ~ ns(x, foo = 2)", "ns() has no argument 'foo' (its arguments: x, df, knots,"),
        ("y ~ bs(x, df = 3, df = 4)", "bs() is given 'df' twice"),
        ("y ~ ns(df = 3)", "ns() takes a variable first"),
        ("y ~ I(c(1, 2))", "c() gives the knots of ns() and bs()"),
        ("y ~ ns(x, df = c(1, 2))", "c() gives the knots"),
        ("y ~ I(x = 2)", "'=' is not allowed"),
        ("y ~ ns(x, Boundary.knots = c(0, 10**10**10))", "overflows"),
        ("y ~ a.b + x", "goes in backticks: `a.b`"),
    ],
)
def test_formulas_refused_before_anything_is_evaluated(text, phrase):
    with pytest.raises(InputError, match=re.escape(phrase)):
        parse_formula(text)


@pytest.mark.parametrize(
    "text, fixed",
    [
        # R's ^: a power inside I(), the interaction power outside it
        ("y ~ I(x^2) + log(z)^1", "I(x ** 2) + log(z) ** 1"),
        ("y ~ (a + b)^2", "(a + b) ** 2"),
        ("y ~ `a^b` + I(`a^b`^2)", "`a^b` + I(`a^b` ** 2)"),
        # numbers in powers of ten, written out exactly
        (
            "y ~ I(x * 1e5) + I(x / 2.5e-3) + offset(x * 1E-3)",
            "I(x * 100000) + I(x / 0.0025) + offset(x * 0.001)",
        ),
        ("y ~ I(x * 1e300)", "I(x * 1" + "0" * 300 + ".0)"),
        # R's bases and their arguments
        ("y ~ poly(x, 2, raw = TRUE) + (ns(x, df = 3) | g)", "R_poly(x, 2, raw = True)"),
        (
            "y ~ poly(T, 2, raw = T) + ns(F, 2, NULL, F)",
            "R_poly(T, 2, raw = True) + R_ns(F, 2, None, False)",
        ),
        (
            "y ~ bs(x, knots = c(-1, 2.5), Boundary.knots = c(-3, 1e1), intercept = FALSE)",
            "R_bs(x, knots = c(- 1, 2.5), Boundary_knots = c(- 3, 10), intercept = False)",
        ),
    ],
)
def test_r_spellings_become_what_formulae_reads(text, fixed):
    assert parse_formula(text).fixed == fixed


def test_r_numbers_in_trials_and_group_terms():
    parsed = parse_formula("k | trials(1e3) ~ x + (poly(x, 2) | g)")
    assert parsed.trials == "1000"
    assert parsed.groups[0].lhs == "R_poly(x, 2)"


def test_interaction_powers_and_intercept_numbers_are_fine():
    assert parse_formula("y ~ (x + z)**2 - 1 + (0 + x | g)").fixed == "(x + z) ** 2 - 1"

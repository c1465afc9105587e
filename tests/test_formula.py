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
        ("y | weights(w) ~ x", "'weights' is not allowed"),
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
        ("y ~ I(x^2)", "write powers as I(x ** 2)"),
        ("y ~ a.b + x", "goes in backticks: `a.b`"),
    ],
)
def test_formulas_refused_before_anything_is_evaluated(text, phrase):
    with pytest.raises(InputError, match=re.escape(phrase)):
        parse_formula(text)


def test_interaction_powers_and_intercept_numbers_are_fine():
    assert parse_formula("y ~ (x + z)**2 - 1 + (0 + x | g)").fixed == "(x + z) ** 2 - 1"

"""Priors: parsing, brms's defaults, user priors matched to parameters, hyperparameters as data."""

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
from mixfit.model.priors import FLAT, Prior, parse_prior, parse_prior_spec
from mixfit.model.program import build_model, stan_data
from mixfit.model.stancode import stan_code

SAMPLES = Path(__file__).resolve().parent.parent / "sample_data"
SLEEP = ("sleepstudy.csv", "Reaction ~ Days + (Days | Subject)")
RADON = ("radon.csv", "log_radon ~ floor + log_uranium + (1 + floor | county)")


def model(data=SLEEP, priors=(), family="gaussian"):
    parsed = parse_formula(data[1])
    table = read_table(SAMPLES / data[0], columns_used(parsed), [])
    design = build_design(parsed, choose_family(family), table.frame)
    return build_model(design, [parse_prior_spec(p) for p in priors])


def priors_of(m, name: str) -> list[str]:
    return [str(p) for p in m.slot(name).priors]


def test_parse_prior():
    assert parse_prior("normal(0, 5)") == Prior("normal", (0.0, 5.0))
    assert parse_prior(" student_t(3, 0, 2.5) ") == Prior("student_t", (3.0, 0.0, 2.5))
    assert parse_prior("flat") == FLAT


@pytest.mark.parametrize(
    "text, phrase",
    [
        ("nromal(0, 1)", "unknown prior distribution 'nromal'"),
        ("normal(0)", "takes 2 arguments"),
        ("normal(0, -1)", "sigma must be positive"),
        ("normal(0, x)", "must be numbers"),
        ("normal 0 1", "not of the form"),
        ("normal(0, inf)", "finite"),
    ],
)
def test_bad_priors(text, phrase):
    with pytest.raises(InputError, match=phrase.replace("(", r"\(")):
        parse_prior(text)


def test_prior_spec_fields():
    spec = parse_prior_spec("normal(0, 1) : b : Days")
    assert (spec.cls, spec.coef, spec.group) == ("b", "Days", "")
    spec = parse_prior_spec("exponential(1) : sd : Subject")
    assert (spec.cls, spec.coef, spec.group) == ("sd", "", "Subject")
    spec = parse_prior_spec("exponential(1) : sd : Subject : Days")
    assert (spec.cls, spec.coef, spec.group) == ("sd", "Days", "Subject")
    spec = parse_prior_spec({"prior": "normal(0, 1)", "class": "b", "coef": "Days"})
    assert (spec.cls, spec.coef) == ("b", "Days")


def test_brms_defaults_on_sleepstudy():
    m = model()
    assert priors_of(m, "Intercept") == ["student_t(3, 288.7, 59.3)"]
    assert priors_of(m, "sigma") == ["student_t(3, 0, 59.3)"]
    assert priors_of(m, "sd_1") == ["student_t(3, 0, 59.3)"] * 2
    assert priors_of(m, "L_1") == ["lkj(1)"]
    assert priors_of(m, "b") == ["(flat)"]


def test_default_scale_is_at_least_2_5():
    m = model(RADON)
    assert priors_of(m, "sigma") == ["student_t(3, 0, 2.5)"]


def test_user_prior_by_class_coef_and_group():
    m = model(
        priors=[
            "normal(0, 5) : b",
            "normal(0, 1) : Intercept",
            "exponential(1) : sd : Subject",
            "gamma(2, 0.1) : sigma",
            "lkj(2) : cor",
        ]
    )
    assert priors_of(m, "b") == ["normal(0, 5)"]
    assert priors_of(m, "Intercept") == ["normal(0, 1)"]
    assert priors_of(m, "sd_1") == ["exponential(1)"] * 2
    assert priors_of(m, "sigma") == ["gamma(2, 0.1)"]
    assert priors_of(m, "L_1") == ["lkj(2)"]


@pytest.mark.parametrize("order", [1, -1])
def test_most_specific_prior_wins_whatever_the_order(order):
    specs = [
        "exponential(1) : sd",
        "exponential(2) : sd : Subject",
        "exponential(3) : sd : Subject : Days",
    ][::order]
    m = model(priors=specs)
    assert priors_of(m, "sd_1") == ["exponential(2)", "exponential(3)"]
    assert m.slot("sd_1").sources == ["user", "user"]


def test_coef_prior_beats_class_prior():
    m = model(RADON, priors=["normal(0, 1) : b : floor", "normal(0, 5) : b"])
    assert priors_of(m, "b") == ["normal(0, 1)", "normal(0, 5)"]


@pytest.mark.parametrize(
    "spec, phrase",
    [
        ("normal(0, 1) : beta", "no class 'beta'"),
        ("normal(0, 1) : b : Dayz", "unknown coefficient 'Dayz'"),
        ("exponential(1) : sd : Subjekt", "unknown group 'Subjekt'"),
        ("exponential(1) : sd : Subject : Dayz", "unknown coefficient 'Dayz'"),
        ("normal(0, 1) : cor", "takes lkj"),
        ("lkj(2) : b", "other than lkj"),
        ("exponential(1) : b", "excludes part"),
        ("flat : sd", "needs a proper prior"),
        ("normal(0, 1)", "needs a class"),
    ],
)
def test_prior_targets_that_do_not_exist(spec, phrase):
    with pytest.raises(InputError, match=phrase):
        model(priors=[spec])


def test_unknown_class_error_lists_the_classes():
    with pytest.raises(InputError, match="classes: Intercept, b, cor, sd, sigma"):
        model(priors=["normal(0, 1) : beta"])


def test_stan_code_depends_on_structure_only():
    sleep, radon = model(SLEEP), model(RADON)
    rescaled = model(SLEEP, priors=["student_t(3, 0, 10) : sd", "student_t(3, 0, 20) : sigma"])
    code = stan_code(sleep)
    assert stan_code(radon) == code
    assert stan_code(rescaled) == code
    for literal in ("288.7", "59.3", "180"):
        assert literal not in code
    assert stan_data(sleep)["prior_Intercept_student_t"].tolist() == [3.0, 288.7, 59.3]
    assert stan_data(radon)["N"] != stan_data(sleep)["N"]
    np.testing.assert_array_equal(
        stan_data(rescaled)["prior_sd_1_student_t"], [[3.0, 0.0, 10.0], [3.0, 0.0, 10.0]]
    )


def test_another_prior_family_changes_the_code():
    assert stan_code(model(priors=["normal(0, 5) : b"])) != stan_code(model())


# ---- families' parameters, truncation, the prior table and prior-only runs ----------------------

FAMILY_DATA = {
    "negbinomial": ("family_negbinomial.csv", "y ~ x + (1 | g)"),
    "zero_inflated_negbinomial": ("family_zero_inflated_negbinomial.csv", "y ~ x + (1 | g)"),
    "student": ("family_student.csv", "y ~ x + (1 | g)"),
    "lognormal": ("family_lognormal.csv", "y ~ x + (1 | g)"),
    "beta": ("family_beta.csv", "y ~ x + (1 | g)"),
    "Gamma": ("family_Gamma.csv", "y ~ x + (1 | g)"),
    "cumulative(link=probit)": ("family_cumulative_probit.csv", "y ~ x + (1 | g)"),
}


def family_model(family, priors=(), prior_only=False):
    data, formula = FAMILY_DATA[family]
    parsed = parse_formula(formula)
    table = read_table(SAMPLES / data, columns_used(parsed), [])
    design = build_design(parsed, choose_family(family), table.frame)
    return build_model(design, [parse_prior_spec(p) for p in priors], prior_only=prior_only)


def test_brms_defaults_of_family_parameters():
    student = family_model("student")
    assert priors_of(student, "nu") == ["gamma(2, 0.1)"]
    assert priors_of(student, "sigma")[0].startswith("student_t(3, 0, ")
    assert priors_of(family_model("negbinomial"), "shape") == ["gamma(0.01, 0.01)"]
    assert priors_of(family_model("Gamma"), "shape") == ["gamma(0.01, 0.01)"]
    assert priors_of(family_model("beta"), "phi") == ["gamma(0.01, 0.01)"]
    zinb = family_model("zero_inflated_negbinomial")
    assert priors_of(zinb, "zi") == ["beta(1, 1)"] and priors_of(zinb, "shape") == [
        "gamma(0.01, 0.01)"
    ]
    # lognormal: brms takes the default scales from log(y)
    y = np.log(pd.read_csv(SAMPLES / "family_lognormal.csv")["y"])
    location = round(float(np.median(y)), 1)
    assert priors_of(family_model("lognormal"), "Intercept")[0].startswith(
        f"student_t(3, {location:g}, "
    )
    # ordinal: one student_t(3, 0, 2.5) per threshold, in class Intercept
    ordinal = family_model("cumulative(link=probit)")
    assert priors_of(ordinal, "Intercept") == ["student_t(3, 0, 2.5)"] * 3


def test_every_family_parameter_and_threshold_takes_a_prior():
    m = family_model("zero_inflated_negbinomial", ["gamma(2, 1) : shape", "beta(2, 8) : zi"])
    assert priors_of(m, "shape") == ["gamma(2, 1)"] and priors_of(m, "zi") == ["beta(2, 8)"]
    m = family_model("student", ["gamma(2, 0.5) : nu", "exponential(1) : sigma"])
    assert priors_of(m, "nu") == ["gamma(2, 0.5)"] and priors_of(m, "sigma") == ["exponential(1)"]
    m = family_model(
        "cumulative(link=probit)", ["normal(0, 5) : Intercept", "normal(1, 1) : Intercept : 2"]
    )
    assert priors_of(m, "Intercept") == ["normal(0, 5)", "normal(1, 1)", "normal(0, 5)"]
    assert m.slot("Intercept").sources == ["user"] * 3


def test_bounded_parameters_get_normalised_priors():
    code = stan_code(family_model("zero_inflated_negbinomial", ["normal(0.2, 0.1) : zi"]))
    assert "log_diff_exp(normal_lcdf(1 | prior_zi_normal[1], prior_zi_normal[2])" in code
    code = stan_code(family_model("zero_inflated_negbinomial", ["exponential(5) : zi"]))
    assert "- exponential_lcdf(1 | prior_zi_exponential[1]);" in code
    code = stan_code(family_model("zero_inflated_negbinomial"))
    assert "target += beta_lpdf(zi | prior_zi_beta[1], prior_zi_beta[2]);" in code  # no truncation
    code = stan_code(family_model("student", ["normal(5, 10) : nu"]))
    assert "- normal_lccdf(1 | prior_nu_normal[1], prior_nu_normal[2]);" in code


@pytest.mark.parametrize(
    "family, spec, phrase",
    [
        ("zero_inflated_negbinomial", "uniform(0, 10) : shape", "excludes part of shape's support"),
        (
            "zero_inflated_negbinomial",
            "uniform(0.1, 1) : zi",
            r"excludes part of zi's support \(0, 1\)",
        ),
        ("zero_inflated_negbinomial", "beta(2, 2) : shape", "excludes part of shape's support"),
        ("student", "uniform(-10, 10) : b", "excludes part of b's support"),
        ("beta", "normal(0, 1) : sigma", "no class 'sigma'"),
        ("cumulative(link=probit)", "normal(0, 1) : Intercept : 4", "unknown coefficient '4'"),
    ],
)
def test_prior_bounds_are_checked_against_the_parameter(family, spec, phrase):
    with pytest.raises(InputError, match=phrase):
        family_model(family, [spec])


def test_uniform_covering_the_parameter_is_accepted():
    m = family_model("zero_inflated_negbinomial", ["uniform(0, 1) : zi", "uniform(-1, 2) : zi"])
    assert priors_of(m, "zi") == ["uniform(-1, 2)"]
    assert "log_diff_exp(uniform_lcdf(1 | " in stan_code(m)


def test_family_prior_scales_are_data():
    a = family_model("negbinomial", ["gamma(2, 1) : shape"])
    b = family_model("negbinomial", ["gamma(5, 3) : shape"])
    assert stan_code(a) == stan_code(b)
    assert stan_data(b)["prior_shape_gamma"].tolist() == [5.0, 3.0]


def test_prior_only_is_data_and_refuses_flat_priors():
    with pytest.raises(InputError, match=r"b \(x\) has a flat prior"):
        family_model("negbinomial", prior_only=True)
    only = family_model("negbinomial", ["normal(0, 1) : b"], prior_only=True)
    posterior = family_model("negbinomial", ["normal(0, 1) : b"])
    assert stan_code(only) == stan_code(posterior)
    assert (stan_data(only)["prior_only"], stan_data(posterior)["prior_only"]) == (1, 0)


BRMS_SLEEPSTUDY = """\
    class      coef   group                     prior  source
        b                                      (flat) default
        b      Days                            (flat) default
      cor                                      lkj(1) default
      cor           Subject                    lkj(1) default
Intercept                   student_t(3, 288.7, 59.3) default
       sd                       student_t(3, 0, 59.3) default
       sd           Subject     student_t(3, 0, 59.3) default
       sd Intercept Subject     student_t(3, 0, 59.3) default
       sd      Days Subject     student_t(3, 0, 59.3) default
    sigma                       student_t(3, 0, 59.3) default
"""


def test_priors_command_prints_brms_default_table(run_mixfit):
    done = run_mixfit("priors", SAMPLES / "sleepstudy.csv", "-f", SLEEP[1])
    assert done.returncode == 0, done.stderr
    assert done.stdout == BRMS_SLEEPSTUDY


def test_priors_command_marks_user_priors(run_mixfit):
    done = run_mixfit(
        "priors",
        SAMPLES / "sleepstudy.csv",
        "-f",
        SLEEP[1],
        "--prior",
        "normal(0, 10) : b : Days",
        "--prior",
        "exponential(0.1) : sd : Subject : Days",
    )
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines()]
    assert ["b", "Days", "normal(0,", "10)", "user"] in rows
    assert ["sd", "Days", "Subject", "exponential(0.1)", "user"] in rows
    assert ["sd", "Subject", "student_t(3,", "0,", "59.3)", "default"] in rows


@pytest.mark.parametrize(
    "flag, coef, group",
    [
        ("normal(0, 1) : b : x:fv", "x:fv", ""),
        ("normal(0,1):b:Days", "Days", ""),
        ("exponential(1) : sd : a:b : Intercept", "Intercept", "a:b"),
        ("exponential(1) : sd : Subject ID", "", "Subject ID"),
        ("normal(0, 1): b", "", ""),
    ],
)
def test_prior_flag_fields_split_at_spaced_colons(flag, coef, group):
    spec = parse_prior_spec(flag)
    assert (spec.coef, spec.group) == (coef, group)


@pytest.mark.parametrize(
    "brms, ours",
    [
        ("prior(normal(0, 10), class = b)", "normal(0, 10) : b"),
        ("prior(normal(0,1), class = b, coef = Days)", "normal(0, 1) : b : Days"),
        (
            'set_prior("normal(0,1)", class = "sd", group = "Subject")',
            "normal(0, 1) : sd : Subject",
        ),
        (
            'set_prior("exponential(1)", class = "sd", group = "Subject", coef = "Days")',
            "exponential(1) : sd : Subject : Days",
        ),
        ("prior(student_t(3, 250, 50), Intercept)", "student_t(3, 250, 50) : Intercept"),
        ("prior_string('lkj(2)', class = 'cor')", "lkj(2) : cor"),
        ("brms::prior(gamma(2, 0.1), class = sigma)", "gamma(2, 0.1) : sigma"),
        ("prior(normal(-1, 2))", "normal(-1, 2) : b"),  # brms's default class is b
    ],
)
def test_brms_prior_syntax_is_read_as_the_flag_form(brms, ours):
    assert parse_prior_spec(brms) == parse_prior_spec(ours)


def test_brms_dpar_sets_the_prior_specs_dpar():
    spec = parse_prior_spec("prior(normal(0, 1), class = b, coef = SexMale, dpar = sigma)")
    assert (spec.cls, spec.coef, spec.group, spec.dpar) == ("b", "SexMale", "", "sigma")
    assert parse_prior_spec("prior(normal(0, 1), class = b)").dpar == ""


def test_a_brms_prior_reaches_the_model_like_the_flag_form():
    m = model(
        priors=[
            "prior(normal(0, 5), class = b)",
            'set_prior("exponential(1)", class = "sd", group = "Subject")',
        ]
    )
    assert priors_of(m, "b") == ["normal(0, 5)"]
    assert priors_of(m, "sd_1") == ["exponential(1)"] * 2


@pytest.mark.parametrize(
    "text, phrase",
    [
        (
            "prior(normal(0, 1), class = b) + prior(normal(0, 1), class = sd)",
            "one prior per --prior",
        ),
        ("c(prior(normal(0, 1), class = b), prior(lkj(2), class = cor))", "one prior per --prior"),
        ("prior(normal(0, 1), klass = b)", "unknown argument 'klass'"),
        ("prior(normal(0, 1), class = b, class = sd)", "class is given twice"),
        ('set_prior(normal(0, 1), class = "b")', "takes the distribution in quotes"),
        ("prior(normal(0, 1), class = b, lb = 0)", "lb = is not supported"),
        ("prior(normal(0, 1), class = b, resp = y)", "resp = is not supported"),
        ("prior(normal(0, 1), class = b", "a bracket is not closed"),
        ("prior(class = b)", "names no distribution"),
        ("prior(normal(0, 1); class = b)", "unexpected ';'"),
        ("prior(nromal(0, 1), class = b)", "unknown prior distribution 'nromal'"),
        ("prior(system('ls'), class = b)", "unknown prior distribution 'system'"),
    ],
)
def test_bad_brms_priors_say_what_is_wrong(text, phrase):
    with pytest.raises(InputError, match=re.escape(phrase)):
        parse_prior_spec(text)

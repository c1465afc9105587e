"""Priors: parsing, brms's defaults, user priors matched to parameters, hyperparameters as data."""

from pathlib import Path

import numpy as np
import pytest

from mixfit.data import read_table
from mixfit.design import build_design, columns_used
from mixfit.errors import InputError
from mixfit.families import choose_family
from mixfit.formula import parse_formula
from mixfit.model import build_model, stan_code, stan_data
from mixfit.priors import FLAT, Prior, parse_prior, parse_prior_spec

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

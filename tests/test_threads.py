"""Within-chain threads: the reduce_sum form of each family's likelihood gives the same log
density as the plain program (so the same posterior), the plain program is unchanged, and what
has no threaded form is refused with exit 2. The plain program's count likelihoods leave their
terms in Y alone to one constant (_lupmf plus lpmf_Y), the threaded form's keep them (_lpmf):
the same log density here says the constant is exactly what _lupmf leaves out."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import SAMPLE_DATA, assert_same_log_density, mixfit

from mixfit.errors import InputError
from mixfit.pipeline import prepare
from mixfit.spec import build_spec

stanli = pytest.importorskip("stanli")

CASES = [
    (
        "poisson_crossed.csv",
        "count ~ x + offset(log(exposure)) + (1 + x | site) + (1 | year)",
        "poisson",
        (),
    ),
    ("sleepstudy.csv", "Reaction ~ Days + (Days | Subject)", "gaussian", ()),
    (
        "family_cumulative_logit.csv",
        "y ~ x + (1 | g)",
        "cumulative",
        ("none", "mild", "moderate", "severe"),
    ),
    ("family_bernoulli_probit.csv", "y ~ x + (1 | g)", "bernoulli(link=probit)", ()),
    ("bernoulli_crossed.csv", "y ~ x + (1 | subject) + (1 | item)", "bernoulli", ()),
    ("family_negbinomial.csv", "y ~ x + (1 | g)", "negbinomial", ()),
    ("family_Gamma.csv", "y ~ x + (1 | g)", "Gamma", ()),
    ("family_lognormal.csv", "y ~ x + (1 | g)", "lognormal", ()),
    ("family_student.csv", "y ~ x + (1 | g)", "student", ()),
    ("family_binomial_cloglog.csv", "k | trials(n) ~ x + (1 | g)", "binomial(link=cloglog)", ()),
    ("family_binomial_cloglog.csv", "k | trials(n) ~ x + (1 | g)", "binomial", ()),
]


def prepared(data, formula, family, levels=(), threads=1, marginal=False):
    spec = build_spec(
        {},
        {
            "data": SAMPLE_DATA / data,
            "formula": formula,
            "family": family,
            "levels": levels,
            "marginal": marginal,
            "sampler": {"threads_per_chain": threads},
        },
    )
    return prepare(spec)


@pytest.mark.parametrize("case", CASES, ids=[c[2] for c in CASES])
def test_reduce_sum_form_has_the_same_log_density(case):
    plain, threaded = prepared(*case), prepared(*case, threads=3)
    assert "reduce_sum" not in plain.code and "functions" not in plain.code
    assert "target += reduce_sum(partial_log_lik, rows, grainsize" in threaded.code
    threaded.data["grainsize"] = max(1, threaded.data["N"] // 7)  # several slices, even here
    one = stanli.Model(stan_code=plain.code, data=plain.data, seed=1)
    many = stanli.Model(stan_code=threaded.code, data=threaded.data, seed=1, threads_per_chain=3)
    assert_same_log_density(one, many)


def test_grainsize_is_brms_default_and_the_marginal_program_is_left_alone():
    threaded = prepared(*CASES[0], threads=2)
    assert threaded.data["grainsize"] == 300  # max(100, N / (2 * threads)) with N = 1200
    marginal = prepared(*CASES[1], threads=4, marginal=True)
    assert marginal.model.marginal and "reduce_sum" not in marginal.code
    assert "grainsize" not in marginal.data


def test_a_family_without_a_threaded_form_is_refused():
    with pytest.raises(InputError, match="zero_inflated_poisson family does not have"):
        prepared(
            "family_zero_inflated_poisson.csv",
            "y ~ x + (1 | g)",
            "zero_inflated_poisson",
            threads=2,
        )


def test_two_threads_sample_the_same_posterior(tmp_path):
    data, formula, family, _ = CASES[0]
    fits = {}
    for threads in (1, 2):
        done = mixfit(
            "fit",
            SAMPLE_DATA / data,
            "-f",
            formula,
            "--family",
            family,
            "--seed",
            "3",
            "--threads-per-chain",
            threads,
            "--iter",
            "1000",
            "--no-plots",
            "--quiet",
            "-o",
            tmp_path / f"t{threads}",
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
        fits[threads] = pd.read_csv(tmp_path / f"t{threads}" / "fixef.csv").set_index("term")
    assert "reduce_sum" in (tmp_path / "t2" / "model.stan").read_text()
    one, two = fits[1], fits[2]
    assert ((one["Estimate"] - two["Estimate"]).abs() <= 0.25 * one["Est.Error"]).all()


def test_pystan_has_no_threads(tmp_path):
    data, formula, family, _ = CASES[0]
    done = mixfit(
        "fit",
        SAMPLE_DATA / data,
        "-f",
        formula,
        "--family",
        family,
        "--backend",
        "pystan",
        "--threads-per-chain",
        "2",
        "-o",
        tmp_path / "out",
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "--threads-per-chain needs the stanli or cmdstan backend" in done.stderr
    assert not (tmp_path / "out").exists()

"""Which engine a fit runs on, and the reason run.json records."""

from __future__ import annotations

import pytest
from conftest import SAMPLE_DATA, read_json

from mixfit.engines.choice import choose_backend
from mixfit.engines.stanli import NoCompiledPath
from mixfit.errors import InputError, ToolchainError
from mixfit.pipeline import for_stanli, prepare
from mixfit.spec import build_spec

ORDINAL = {
    "data": SAMPLE_DATA / "family_cumulative_logit.csv",
    "formula": "y ~ x + (1 | g)",
    "family": "cumulative",
    "levels": ("none", "mild", "moderate", "severe"),
    "sampler": {"seed": 1},
}


def quiet(*_):
    pass


def test_auto_runs_a_fit_on_stanli_and_says_why(run_mixfit, tmp_path):
    done = run_mixfit(
        "fit",
        SAMPLE_DATA / "Dyestuff.csv",
        "-f",
        "Yield ~ 1 + (1 | Batch)",
        "-o",
        tmp_path / "out",
        "--iter",
        "400",
        "--no-plots",
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    run = read_json(tmp_path / "out" / "run.json")
    assert run["backend"] == "stanli"
    assert run["backend_reason"] == "auto: stanli runs this program with no C++ build"


def test_a_backend_asked_for_by_name_is_used_or_refused_in_one_line(run_mixfit, tmp_path):
    prepared = prepare(build_spec({}, dict(ORDINAL)))
    stanli = for_stanli(prepared)
    loaded = choose_backend("stanli", lambda _: (stanli.code, stanli.data), 1, quiet)
    assert loaded.backend.name == "stanli" and loaded.reason == "asked for (stanli)"
    # asked for by name, stanli refuses what even its interpreter can't run
    with pytest.raises(NoCompiledPath, match="ordered_logistic_rng"):
        choose_backend("stanli", lambda _: (prepared.code, prepared.data), 1, quiet)
    with pytest.raises(InputError, match="unknown backend 'stan'"):
        choose_backend("stan", lambda _: (prepared.code, prepared.data), 1, quiet)
    # tests/test_cmdstan.py's sleepstudy program, so that where CmdStan is, one build serves both
    done = run_mixfit(
        "fit",
        SAMPLE_DATA / "sleepstudy.csv",
        "-f",
        "Reaction ~ Days + (Days | Subject)",
        "-o",
        tmp_path / "out",
        "--backend",
        "cmdstan",
        "--no-plots",
        "--quiet",
    )
    if done.returncode == 3:  # no CmdStan here: one line, the cause, nothing written
        assert done.stderr.splitlines() == [done.stderr.strip()]
        assert done.stderr.startswith("mixfit: error: backend cmdstan is not usable here: ")
        assert not (tmp_path / "out").exists()
    else:
        assert done.returncode == 0, done.stderr
        assert read_json(tmp_path / "out" / "run.json")["backend"] == "cmdstan"


@pytest.mark.pystan
def test_auto_passes_over_stanli_when_it_cannot_run_the_program(cache_dir, monkeypatch):
    """The PyStan program of an ordinal model calls ordered_logistic_rng, which stanli lacks: auto
    says so before sampling and takes the next engine that works here."""
    monkeypatch.setenv("MIXFIT_CACHE_DIR", str(cache_dir))
    prepared = prepare(build_spec({}, dict(ORDINAL)))
    loaded = choose_backend("auto", lambda _: (prepared.code, prepared.data), 1, quiet)
    try:
        assert loaded.backend.name in {"cmdstan", "pystan"}
        assert "passed over stanli: stanli cannot run part of this program" in loaded.reason
        assert "ordered_logistic_rng" in loaded.reason
    finally:
        loaded.backend.close()


def test_no_engine_at_all_is_one_error_naming_each(monkeypatch, tmp_path):
    monkeypatch.setenv("MIXFIT_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CMDSTAN", str(tmp_path / "nowhere"))
    from mixfit.engines import usable

    real = usable.check
    monkeypatch.setattr(
        usable,
        "check",
        lambda name, *a, **k: (
            usable.Verdict(name, False, "gone") if name != "stanli" else real(name, *a, **k)
        ),
    )
    prepared = prepare(build_spec({}, dict(ORDINAL)))
    with pytest.raises(ToolchainError) as caught:
        choose_backend("auto", lambda _: (prepared.code, prepared.data), 1, quiet)
    message = str(caught.value)
    assert message.startswith("no Stan backend can run this model here: stanli: ")
    assert "cmdstan: gone; pystan: gone" in message
    assert isinstance(caught.value.__cause__, NoCompiledPath) or "ordered_logistic_rng" in message

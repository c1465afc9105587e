"""The fit, step by step: spec -> data -> design -> model -> Stan -> draws -> InferenceData."""

from __future__ import annotations

import importlib
import random
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING

from mixfit.analysis.classical import ClassicalFit, Deferred
from mixfit.engines.choice import choose_backend
from mixfit.engines.protocol import Backend, Compiled, Draws, Progress
from mixfit.errors import InputError
from mixfit.model.data import Table, read_table
from mixfit.model.design import (
    build_design,
    check_factor_flags,
    check_separation,
    columns_used,
    predictor_columns,
)
from mixfit.model.families import choose_family
from mixfit.model.formula import parse_formula
from mixfit.model.identifiability import check_identified, warn_wide_terms
from mixfit.model.priors import parse_prior_spec
from mixfit.model.program import Model, build_model, stan_code, stan_data
from mixfit.spec import RunSpec

if TYPE_CHECKING:
    import arviz as az


# log_lik and y_rep each hold rows x draws numbers: past this many, they are not generated
PREDICTION_LIMIT = 25_000_000
# engines that run a chain's reduce_sum on several threads (PyStan runs each chain on one)
THREADED_ENGINES = ("stanli", "cmdstan")


@dataclass
class Prepared:
    spec: RunSpec
    table: Table
    model: Model
    code: str
    data: dict


@dataclass
class FitResult:
    prepared: Prepared
    backend: str
    backend_version: str
    compiled: Compiled
    draws: Draws
    idata: az.InferenceData
    classical: ClassicalFit | None = None  # the same model by REML or ML, when asked for

    @property
    def spec(self) -> RunSpec:
        return self.prepared.spec

    @property
    def model(self) -> Model:
        return self.prepared.model


def prepare(spec: RunSpec) -> Prepared:
    """Everything up to the Stan program and its data; nothing is compiled."""
    family = choose_family(spec.family, spec.levels)
    formula = parse_formula(spec.formula)
    priors = [parse_prior_spec(p) for p in spec.priors]
    check_factor_flags(formula, spec.factors)
    table = read_table(
        spec.data, columns_used(formula), list(spec.factors), predictor_columns(formula)
    )
    design = build_design(formula, family, table.frame)
    predictions = design.n * spec.sampler.chains * spec.sampler.num_samples <= PREDICTION_LIMIT
    model = build_model(
        design,
        priors,
        predictions=predictions,
        marginal=spec.marginal,
        prior_only=spec.sample_prior == "only",
        threads=spec.sampler.threads_per_chain,
    )
    check_separation(design, model.slots)
    check_identified(design, model.slots)
    warn_wide_terms(design, model.slots)
    return Prepared(spec, table, model, stan_code(model), stan_data(model))


@dataclass
class Sampled:
    """What an engine returns for a prepared model: the draws, before anything is derived."""

    backend: str
    backend_version: str
    compiled: Compiled
    draws: Draws


def fit(spec: RunSpec, progress: Progress) -> FitResult:
    if spec.sampler.seed is None:  # pick one, so the run can be repeated from run.json
        spec = replace(spec, sampler=replace(spec.sampler, seed=random.randrange(2**31)))
    prepared = prepare(spec)
    classical = Deferred(prepared.model.design, spec.classical) if spec.classical else None
    return finish(prepared, sample(prepared, progress, classical), classical)


def engine(spec: RunSpec) -> Backend:
    """The engine that runs the spec, refused here if it cannot run it as asked."""
    backend = choose_backend(spec.backend)
    if spec.sampler.threads_per_chain > 1 and backend.name not in THREADED_ENGINES:
        backend.close()
        raise InputError(
            f"--threads-per-chain needs the {' or '.join(THREADED_ENGINES)} backend "
            f"({backend.name} runs each chain on one thread)"
        )
    return backend


def sample(prepared: Prepared, progress: Progress, classical: Deferred | None = None) -> Sampled:
    """Compile (or load) the program and run the chains the spec asks for; the classical fit, if
    any, runs on the thread that waits for the chains."""
    settings = prepared.spec.sampler
    backend = engine(prepared.spec)
    progress("backend", None, f"Backend: {backend.name} ({backend.version()})")
    meanwhile = partial(_import_summaries, classical)
    try:
        compiled = backend.compile(prepared.code, prepared.data, settings.stream_seed, progress)
        draws = backend.sample(compiled, prepared.data, settings, progress, meanwhile=meanwhile)
    finally:
        backend.close()
    return Sampled(backend.name, backend.version(), compiled, draws)


def finish(
    prepared: Prepared, sampled: Sampled, classical: Deferred | None = None
) -> FitResult:
    """The quantities derived from the draws of every chain, the InferenceData, and the classical
    fit when the spec asks for one (run here if no thread ran it while the chains sampled)."""
    draws, seed = sampled.draws, prepared.spec.sampler.seed
    if classical is None and prepared.spec.classical:
        classical = Deferred(prepared.model.design, prepared.spec.classical)
    if prepared.model.marginal:
        from mixfit.results.marginal_draws import complete

        draws.posterior.update(complete(prepared.model, draws.posterior, seed))
    from mixfit.results.inference import to_inference_data

    idata = to_inference_data(prepared.model, draws)
    ml = classical.result() if classical else None
    return FitResult(
        prepared, sampled.backend, sampled.backend_version, sampled.compiled, draws, idata, ml
    )


def _import_summaries(classical: Deferred | None = None) -> None:
    """ArviZ and what it brings take about a second to import: a second the chains can hide."""
    importlib.import_module("mixfit.results.writer")
    if classical is not None:  # the classical fit takes what is left of the sampling time
        classical.run()

"""The fit, step by step: spec -> data -> design -> model -> Stan -> draws -> InferenceData."""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from mixfit.engines.choice import STANLI_PROGRAMS, Loaded, choose_backend
from mixfit.engines.protocol import Compiled, Draws, Progress
from mixfit.errors import InputError
from mixfit.model.checks import check_model
from mixfit.model.data import Table, read_table
from mixfit.model.design import (
    build_design,
    check_factor_flags,
    check_separation,
    columns_used,
    predictor_columns,
    split_levels,
)
from mixfit.model.families import choose_family
from mixfit.model.formulas import check_dpars, parse_formulas
from mixfit.model.identifiability import check_identified, warn_wide_terms
from mixfit.model.priors import parse_prior_spec
from mixfit.model.program import Model, build_model, stan_data
from mixfit.model.stancode import stan_code
from mixfit.model.terms import autocor
from mixfit.spec import RunSpec

if TYPE_CHECKING:  # the classical fit's modules (and scipy's) load only when a fit asks for it
    from mixfit.classical.fit import ClassicalFit, Deferred

# log_lik and y_rep each hold rows x draws numbers: past this many, they are not generated
PREDICTION_LIMIT = 25_000_000
# engines that run a chain's reduce_sum on several threads (PyStan runs each chain on one)
THREADED_ENGINES = ("stanli", "cmdstan")
# what writing the results imports (ArviZ among them), imported while the chains run
WRITER_IMPORTS = (
    "mixfit.results.summaries",
    "mixfit.results.diagnostics",
    "mixfit.results.analysis_files",
    "mixfit.results.summary_text",
)


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
    idata: Any  # the draws as ArviZ lays them out (mixfit/results/fit_data.py)
    classical: ClassicalFit | None = None  # the same model by REML or ML, when asked for
    backend_reason: str = ""  # why this engine (mixfit/engines/choice.py)

    @property
    def spec(self) -> RunSpec:
        return self.prepared.spec

    @property
    def model(self) -> Model:
        return self.prepared.model


def prepare(spec: RunSpec) -> Prepared:
    """Everything up to the Stan program and its data; nothing is compiled."""
    formula = parse_formulas(spec.formula)
    levels, ordered = split_levels(formula, spec.levels, spec.column_levels)
    family = choose_family(spec.family, levels)
    check_dpars(formula, family.family.name, [p.name for p in family.family.params])
    priors = [parse_prior_spec(p) for p in spec.priors]
    check_factor_flags(formula, spec.factors)
    table = read_table(
        spec.data,
        columns_used(formula),
        # an ordered column is categorical (its levels the user's), whatever its values look like
        list(dict.fromkeys([*spec.factors, *ordered])),
        predictor_columns(formula),
        complete=[c for c in formula.mu.additions.columns if c != formula.mu.trials],
    )
    check_model(formula, table.frame)  # mixfit/model/checks.py: what would fail after sampling
    table = autocor.sorted_table(formula, table)  # brms's order: by group, then time
    design = build_design(formula, family, table.frame, ordered)
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
    reason: str = ""  # why this engine (mixfit/engines/choice.py)


def fit(spec: RunSpec, progress: Progress, preload: Callable[[], None] | None = None) -> FitResult:
    """Prepare, sample and summarise the spec; ``preload`` imports what the caller will need after
    the fit (the plots' modules), while the chains run."""
    if spec.sampler.seed is None:  # pick one, so the run can be repeated from run.json
        spec = replace(spec, sampler=replace(spec.sampler, seed=random.randrange(2**31)))
    prepared = prepare(spec)
    classical = _deferred(prepared.model.design, spec.classical)
    return finish(prepared, sample(prepared, progress, classical, preload), classical)


def load_engine(prepared: Prepared, progress: Progress) -> Loaded:
    """The engine that runs the spec, with its program loaded (or compiled): refused here if it
    cannot run the spec as asked."""
    settings = prepared.spec.sampler
    if prepared.spec.backend != "auto":  # refused before anything is built
        _check_threads(prepared.spec.backend, settings.threads_per_chain)

    def program(engine: str) -> tuple[str, dict]:
        chosen = for_engine(prepared, engine)
        return chosen.code, chosen.data

    name = prepared.spec.backend
    if prepared.spec.approximate:  # the approximations are written over stanli's gradients
        name = "stanli"
    loaded = choose_backend(name, program, settings.stream_seed, progress)
    if prepared.spec.approximate and prepared.spec.backend == "auto":
        loaded.reason = f"--algorithm {prepared.spec.algorithm} runs on stanli"
    try:
        _check_threads(loaded.backend.name, settings.threads_per_chain)
    except InputError:
        loaded.backend.close()
        raise
    return loaded


def sample(
    prepared: Prepared,
    progress: Progress,
    classical: Deferred | None = None,
    preload: Callable[[], None] | None = None,
) -> Sampled:
    """Load the program into its engine and run the chains the spec asks for; the classical fit,
    if any, runs on the thread that waits for the chains."""
    loaded = load_engine(prepared, progress)
    backend = loaded.backend
    try:
        said = f"Backend: {backend.name} ({backend.version()})"
        if (
            "passed over" in loaded.reason
        ):  # not the first choice: say why now, not only in run.json
            said += f"; {loaded.reason}"
        progress("backend", None, said)
        chosen = for_engine(prepared, backend.name)
        meanwhile = partial(_import_summaries, classical, preload)
        if prepared.spec.approximate:
            draws = backend.approximate(
                loaded.compiled,
                chosen.code,
                chosen.data,
                prepared.spec.sampler,
                prepared.spec.algorithm,
                progress,
                meanwhile=meanwhile,
            )
        else:
            draws = backend.sample(
                loaded.compiled, chosen.data, prepared.spec.sampler, progress, meanwhile=meanwhile
            )
    finally:
        backend.close()
    return Sampled(backend.name, backend.version(), loaded.compiled, draws, loaded.reason)


def _check_threads(engine: str, threads: int) -> None:
    if threads > 1 and engine not in THREADED_ENGINES:
        raise InputError(
            f"--threads-per-chain needs the {' or '.join(THREADED_ENGINES)} backend "
            f"({engine} runs each chain on one thread)"
        )


def for_engine(prepared: Prepared, engine: str) -> Prepared:
    """The program an engine runs."""
    return for_stanli(prepared) if engine in STANLI_PROGRAMS else prepared


def for_stanli(prepared: Prepared) -> Prepared:
    """The program stanli runs: without the generated quantities it has no compiled path for,
    which Python computes from the draws instead (mixfit/results/family_predictions.py)."""
    from mixfit.results.family_predictions import wanted

    if not wanted(prepared.model):
        return prepared
    model = replace(prepared.model, python_predictions=True)
    return replace(prepared, model=model, code=stan_code(model))


def finish(prepared: Prepared, sampled: Sampled, classical: Deferred | None = None) -> FitResult:
    """The quantities derived from the draws of every chain, the InferenceData, and the classical
    fit when the spec asks for one (run here if no thread ran it while the chains sampled)."""
    draws, seed = sampled.draws, prepared.spec.sampler.seed
    prepared = for_engine(prepared, sampled.backend)
    model = prepared.model
    if classical is None:
        classical = _deferred(model.design, prepared.spec.classical)
    # every predictor has its b, empty in an intercept-only one; stanli's draws omit empty ones
    chains, kept = np.shape(draws.sample_stats["lp"])[:2]
    for predictor in model.design.predictors.values():
        draws.posterior.setdefault(f"b{predictor.suffix}", np.empty((chains, kept, 0)))
    if model.marginal:
        from mixfit.results.marginal_draws import complete

        draws.posterior.update(complete(model, draws.posterior, seed))
    if model.python_predictions:
        from mixfit.results.family_predictions import complete as predictions

        draws.posterior.update(predictions(model, draws.posterior, seed))
    from mixfit.results.inference import to_inference_data

    idata = to_inference_data(model, draws)
    ml = classical.result() if classical else None
    return FitResult(
        prepared,
        sampled.backend,
        sampled.backend_version,
        sampled.compiled,
        draws,
        idata,
        ml,
        backend_reason=sampled.reason,
    )


def _deferred(design, method: str | None) -> Deferred | None:
    """The classical fit the spec asks for, if any, to run while the chains sample."""
    if not method:
        return None
    from mixfit.classical.fit import Deferred

    return Deferred(design, method)


def _import_summaries(
    classical: Deferred | None = None, preload: Callable[[], None] | None = None
) -> None:
    """What writing the results imports takes a second or more: time the chains can hide."""
    # the results writer's own imports: the writer itself takes the fit's result, and the
    # pipeline does not depend on what consumes it
    for name in WRITER_IMPORTS:
        importlib.import_module(name)
    if preload is not None:
        preload()
    if classical is not None:  # the classical fit takes what is left of the sampling time
        importlib.import_module("mixfit.classical.report")
        classical.run()

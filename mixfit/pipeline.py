"""The fit, step by step: spec -> data -> design -> model -> Stan -> draws -> InferenceData."""

from __future__ import annotations

import importlib
import random
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from mixfit.engines.choice import choose_backend
from mixfit.engines.protocol import Compiled, Draws, Progress
from mixfit.model.data import Table, read_table
from mixfit.model.design import build_design, check_separation, columns_used
from mixfit.model.families import choose_family
from mixfit.model.formula import parse_formula
from mixfit.model.priors import parse_prior_spec
from mixfit.model.program import Model, build_model, stan_code, stan_data
from mixfit.spec import RunSpec

if TYPE_CHECKING:
    import arviz as az


# log_lik and y_rep each hold rows x draws numbers: past this many, they are not generated
PREDICTION_LIMIT = 25_000_000


@dataclass
class Prepared:
    spec: RunSpec
    table: Table
    model: Model
    code: str
    data: dict


@dataclass
class FitResult:
    prepared: Prepared  # as the engine ran it
    backend: str
    backend_version: str
    compiled: Compiled
    draws: Draws
    idata: az.InferenceData
    backend_reason: str = ""  # why this engine (mixfit/engines/choice.py)

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
    table = read_table(spec.data, columns_used(formula), list(spec.factors))
    design = build_design(formula, family, table.frame)
    predictions = design.n * spec.sampler.chains * spec.sampler.num_samples <= PREDICTION_LIMIT
    model = build_model(
        design,
        priors,
        predictions=predictions,
        marginal=spec.marginal,
        prior_only=spec.sample_prior == "only",
    )
    check_separation(design, model.slots)
    return Prepared(spec, table, model, stan_code(model), stan_data(model))


def fit(spec: RunSpec, progress: Progress) -> FitResult:
    if spec.sampler.seed is None:  # pick one, so the run can be repeated from run.json
        spec = replace(spec, sampler=replace(spec.sampler, seed=random.randrange(2**31)))
    prepared = prepare(spec)
    variants = {"stanli": for_stanli(prepared)}

    def program(engine: str) -> tuple[str, dict]:
        chosen = variants.get(engine, prepared)
        return chosen.code, chosen.data

    loaded = choose_backend(spec.backend, program, spec.sampler.seed, progress)
    backend = loaded.backend
    prepared = variants.get(backend.name, prepared)
    said = f"Backend: {backend.name} ({backend.version()})"
    if "passed over" in loaded.reason:  # not the first choice: say why now, not only in run.json
        said += f"; {loaded.reason}"
    progress("backend", None, said)
    try:
        draws = backend.sample(
            loaded.compiled, prepared.data, spec.sampler, progress, meanwhile=_import_summaries
        )
    finally:
        backend.close()
    model = prepared.model
    # every program declares b, empty in an intercept-only model; stanli's draws omit empty ones
    s = spec.sampler
    draws.posterior.setdefault("b", np.empty((s.chains, s.num_samples, 0)))
    if model.marginal:
        from mixfit.results.marginal_draws import complete

        draws.posterior.update(complete(model, draws.posterior, spec.sampler.seed))
    if model.python_predictions:
        from mixfit.results.family_predictions import complete

        draws.posterior.update(complete(model, draws.posterior, spec.sampler.seed))
    from mixfit.results.inference import to_inference_data

    idata = to_inference_data(model, draws)
    return FitResult(
        prepared,
        backend.name,
        backend.version(),
        loaded.compiled,
        draws,
        idata,
        backend_reason=loaded.reason,
    )


def for_stanli(prepared: Prepared) -> Prepared:
    """The program stanli runs: without the generated quantities it has no compiled path for,
    which Python computes from the draws instead (mixfit/results/family_predictions.py)."""
    from mixfit.results.family_predictions import wanted

    if not wanted(prepared.model):
        return prepared
    model = replace(prepared.model, python_predictions=True)
    return replace(prepared, model=model, code=stan_code(model))


def _import_summaries() -> None:
    """ArviZ and what it brings take about a second to import: a second the chains can hide."""
    importlib.import_module("mixfit.results.writer")

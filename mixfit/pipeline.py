"""The fit, step by step: spec -> data -> design -> model -> Stan -> draws -> InferenceData."""

from __future__ import annotations

import importlib
import random
from dataclasses import dataclass, replace
from typing import Any

from mixfit.engines.choice import choose_backend
from mixfit.engines.protocol import Compiled, Draws, Progress
from mixfit.model.data import Table, read_table
from mixfit.model.design import build_design, check_separation, columns_used
from mixfit.model.families import choose_family
from mixfit.model.formula import parse_formula
from mixfit.model.priors import parse_prior_spec
from mixfit.model.program import Model, build_model, stan_code, stan_data
from mixfit.spec import RunSpec

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
    prepared: Prepared
    backend: str
    backend_version: str
    compiled: Compiled
    draws: Draws
    idata: Any  # ArviZ's InferenceData (ArviZ 0.x) or DataTree (1.x)

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
    backend = choose_backend(spec.backend)
    progress("backend", None, f"Backend: {backend.name} ({backend.version()})")
    try:
        compiled = backend.compile(prepared.code, prepared.data, spec.sampler.seed, progress)
        draws = backend.sample(
            compiled, prepared.data, spec.sampler, progress, meanwhile=_import_summaries
        )
    finally:
        backend.close()
    if prepared.model.marginal:
        from mixfit.results.marginal_draws import complete

        draws.posterior.update(complete(prepared.model, draws.posterior, spec.sampler.seed))
    from mixfit.results.inference import to_inference_data

    idata = to_inference_data(prepared.model, draws)
    return FitResult(prepared, backend.name, backend.version(), compiled, draws, idata)


def _import_summaries() -> None:
    """ArviZ and what it brings take about a second to import: a second the chains can hide."""
    importlib.import_module("mixfit.results.writer")

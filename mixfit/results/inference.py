"""Draws from any backend laid out as ArviZ lays them out, with brms-like names on every dimension."""

from __future__ import annotations

from typing import Any

import numpy as np

from mixfit.engines.protocol import Draws
from mixfit.model.program import Model
from mixfit.results.arviz_api import inference_data


def to_inference_data(model: Model, draws: Draws) -> Any:
    """The fit's groups (posterior, sample_stats, ...), as ArviZ's InferenceData holds them."""
    design = model.design
    response = design.formula.response
    posterior = {k: v for k, v in draws.posterior.items() if k not in {"log_lik", "y_rep"}}
    coords: dict = {"obs": np.arange(design.n)}
    dims: dict = {}
    for predictor in design.predictors.values():  # b, b_sigma, ...
        coords[f"coef{predictor.suffix}"] = predictor.coefs
        dims[f"b{predictor.suffix}"] = [f"coef{predictor.suffix}"]
    for block in design.blocks:
        k = block.id
        coords[f"level_{k}"] = block.levels
        coords[f"term_{k}"] = block.terms
        coords[f"term_{k}_"] = block.terms
        dims[f"sd_{k}"] = [f"term_{k}"]
        dims[f"z_{k}"] = [f"term_{k}", f"level_{k}"]
        dims[f"r_{k}"] = [f"level_{k}", f"term_{k}"]
        dims[f"L_{k}"] = [f"term_{k}", f"term_{k}_"]
        dims[f"Cor_{k}"] = [f"term_{k}", f"term_{k}_"]
    groups: dict = {"posterior": posterior, "sample_stats": draws.sample_stats}
    if "y_rep" in draws.posterior:
        groups["posterior_predictive"] = {response: draws.posterior["y_rep"]}
        groups["log_likelihood"] = {response: draws.posterior["log_lik"]}
        dims[response] = ["obs"]
    groups["observed_data"] = {response: design.response.values}
    return inference_data(groups, coords, dims)

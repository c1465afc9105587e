"""Conditional effects, as brms's conditional_effects: the expected response (posterior_epred,
group-level terms left out) as one population-level predictor varies, the others held at their
mean (numeric) or reference level (categorical); optionally a line per value of a second one.

A numeric predictor varies over its fitted range in RESOLUTION steps, a categorical one over its
levels; a numeric ``by`` takes its mean and the mean plus and minus one SD. A binomial model's
trials are 1 (the expected proportion); an ordinal model's response is its expected category
number, a categorical model's each category's probability (``cats__``, brms's ``categorical =
TRUE``). The estimate is the median of the draws and the band their central ``prob`` interval,
brms's defaults (``robust = TRUE``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mixfit.analysis.newdata import new_rows, predictor_parts
from mixfit.analysis.predict import FamilyLink, chunks, draws_of
from mixfit.analysis.saved_fit import Posterior
from mixfit.errors import InputError

RESOLUTION = 100


def conditional_effects(
    design: dict,
    posterior: Posterior,
    effect: str,
    by: str | None = None,
    prob: float = 0.95,
    dpar: str | None = None,
) -> pd.DataFrame:
    """A row per grid point: ``effect`` (and ``by``), estimate__, se__, lower__, upper__; of the
    response's expectation, or of distributional parameter ``dpar`` (brms's ``dpar =``)."""
    model = FamilyLink.of(design, dpar)
    check_effect(design, effect, by, dpar)
    grid = _grid(design, effect, by)
    rows = new_rows(design, grid, "the conditions", groups=False)
    if model.family == "categorical" and model.dpar == "mu":
        return _category_effects(model, posterior, rows, grid[[effect]], prob)
    estimate = np.empty((rows.n, 4))
    rng = np.random.default_rng(0)
    for chunk in chunks(posterior, rows):
        values = draws_of("epred", model, posterior, rows, chunk, None, rng)
        if model.ordinal:
            values = values @ np.arange(1, values.shape[-1] + 1)
        low, median, high = np.quantile(values, [(1 - prob) / 2, 0.5, (1 + prob) / 2], axis=1)
        estimate[chunk] = np.column_stack([median, values.std(axis=1, ddof=1), low, high])
    shown = [effect] + ([by] if by else [])
    out = grid[shown].reset_index(drop=True)
    return pd.concat(
        [out, pd.DataFrame(estimate, columns=["estimate__", "se__", "lower__", "upper__"])], axis=1
    )


def _category_effects(model, posterior: Posterior, rows, grid: pd.DataFrame, prob: float):
    """A categorical model's, as brms's conditional_effects(categorical = TRUE): each category's
    probability at each grid point, a row per point and category (``cats__``), category first."""
    estimate = np.empty((rows.n, len(model.categories), 4))
    rng = np.random.default_rng(0)
    for chunk in chunks(posterior, rows):
        values = draws_of("epred", model, posterior, rows, chunk, None, rng)  # rows x draws x K
        low, median, high = np.quantile(values, [(1 - prob) / 2, 0.5, (1 + prob) / 2], axis=1)
        estimate[chunk] = np.stack([median, values.std(axis=1, ddof=1), low, high], axis=-1)
    parts = []
    for k, category in enumerate(model.categories):
        part = grid.reset_index(drop=True).assign(cats__=category)
        stats = pd.DataFrame(estimate[:, k], columns=["estimate__", "se__", "lower__", "upper__"])
        parts.append(pd.concat([part, stats], axis=1))
    return pd.concat(parts, ignore_index=True)


def effect_predictors(design: dict, dpar: str | None = None) -> list[str]:
    """The columns conditional effects vary: mu's predictors, or a parameter's (its formula's
    population-level columns)."""
    if not dpar or dpar == "mu":
        return design["effects"]
    return design["dpars"][dpar]["variables"]


def check_effect(design: dict, effect: str, by: str | None, dpar: str | None = None) -> None:
    known = effect_predictors(design, dpar)
    of = f" of {dpar}" if dpar and dpar != "mu" else ""
    for name in [effect] + ([by] if by else []):
        if name not in known:
            listed = (
                ", ".join(known) if known else "none: the model has no population-level predictor"
            )
            raise InputError(
                f"{name!r} is not a population-level predictor{of} (predictors: {listed})"
            )
    if by == effect:
        raise InputError(f"--by {by!r} is the effect itself: choose a second predictor")
    if by and design["family"] == "categorical" and not dpar:
        raise InputError(
            "a categorical model's effects are drawn a line per category: --by takes a "
            "parameter's (--dpar mu<cat>), not the categories' probabilities"
        )


def is_categorical(entry: dict) -> bool:
    return entry.get("levels") is not None


def _grid(design: dict, effect: str, by: str | None) -> pd.DataFrame:
    variables = design["variables"]
    values = {effect: _varied(variables[effect])}
    if by:
        entry = variables[by]
        values[by] = entry["levels"] if is_categorical(entry) else _by_values(entry)
    index = pd.MultiIndex.from_product(list(values.values()), names=list(values))
    grid = index.to_frame(index=False)
    held = [v for part in predictor_parts(design).values() for v in part["variables"]]
    held += design.get("category_specific", {}).get("variables", [])  # cs(): mu's too
    for name in dict.fromkeys(held):
        if name not in grid:
            entry = variables[name]
            grid[name] = entry["levels"][0] if is_categorical(entry) else _held(entry)
    trials = design["response"]["trials"]
    if trials is not None and not trials.isdigit():
        grid[trials] = 1
    for name, value in design["response"].get("addition_means", {}).items():  # rate(), trunc()
        grid[name] = value
    return grid


def _by_values(entry: dict) -> list[float]:
    """A numeric by's lines: its mean and the mean plus and minus one SD; a monotonic one's
    rounded to the whole numbers of its range it takes."""
    values = [entry["mean"] - entry["sd"], entry["mean"], entry["mean"] + entry["sd"]]
    if entry.get("integer"):
        clipped = np.clip(np.round(values), entry["min"], entry["max"])
        values = [float(v) for v in dict.fromkeys(clipped)]
    return values


def _held(entry: dict) -> float:
    """A numeric predictor's value where it is held: its mean, or a monotonic predictor's
    rounded median (brms's int_vars), a value it takes."""
    return entry["median"] if entry.get("integer") else entry["mean"]


def _varied(entry: dict) -> list:
    if is_categorical(entry):
        return list(entry["levels"])
    if entry.get("integer"):  # a monotonic predictor: each whole number of its range
        return [float(v) for v in np.arange(entry["min"], entry["max"] + 1)]
    return list(np.linspace(entry["min"], entry["max"], RESOLUTION))

"""``design.json``: what a results folder keeps to rebuild the model's design for new data.

Predictions, conditional effects and the log-likelihood of held-out rows read a results folder
only; this file tells them how rows become numbers, as the fit made them:

- ``formula``, ``family``, ``link``;
- ``response``: its expression, ``trials`` (a column, a number or null), ``categories`` (ordinal:
  lowest first) and ``binary_levels`` (a two-level text response: the second is 1); the addition
  terms ``weights``, ``se``, ``cens`` and ``cens_y2`` (a column or null), ``weights_scale`` and
  ``se_sigma`` (their flags);
- ``variables``: each data column of the population-level and group-level terms: ``type``
  (numeric or categorical, as read), ``levels`` where the model treats it as categorical (in
  coding order: the first is the reference), and for numeric columns ``mean``, ``sd``, ``min``
  and ``max`` (conditional effects vary a predictor over its range, others at their mean);
- ``population``: the right-hand side, whether it has an intercept, the coefficients in order,
  whether it holds an offset, the columns it reads (``variables``), and ``state``: formulae's
  levels and stateful-transform values per term component (``scale(x)``: x's mean and SD;
  mixfit/model/formulae_state.py);
- ``dpars``: per distributional parameter with a formula (``sigma ~ x``) the same as
  ``population``, with its ``link``; ``formulas``: every formula as given, the mean's first;
- ``groups``: per grouping factor its columns (``factors``), its levels (as labelled in the
  tables) and its ``blocks``: each ``(terms | group)`` term's right-hand side, coefficient names
  (brms's, ``sigma_Intercept`` for sigma's), the predictor it feeds (``dpar``), the block it
  belongs to (``id``: terms joined by an ID share one), the columns it reads, whether
  correlated, and state;
- ``population.smooths`` (and each dpar's): per s() or t2() term its text, the columns it reads
  and the state that rebuilds its basis at new rows (knots, eigenvectors, constraint, the by
  factor's levels: mixfit/model/terms/smooth_basis.py), with each smooth's brms label, its
  unpenalised columns' names and its penalised blocks' sizes;
- ``population.gps`` (and each dpar's): per gp() term its text, the columns it reads and the
  state that rebuilds its GPs at new rows (scaling, centring, boundary L; an exact GP's fitted
  points: mixfit/model/terms/gp_basis.py), with each GP's brms suffix and size;
- ``population.monotonic`` (and each dpar's): per mo() term its text, column, brms label (``mox``),
  the fitted minimum (new rows' values are taken from it) and its number of steps; for an ordered
  text column (``--levels "dose=low,mid,high"``) its ``levels``, lowest first (minimum 0: a value
  is its position among them), the column then categorical under ``variables``, of the levels up
  to the fitted data's highest;
- ``effects``: the population-level predictors that conditional effects plot (smooths', GPs'
  and mo() terms' too);
- ``category_specific``: mu's cs() terms (sratio, cratio, acat), as one right-hand side with its
  coefficients, columns and state, like ``population``; absent without them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from mixfit.model import formulae_state
from mixfit.model.program import Model
from mixfit.model.terms import gp, monotonic, smooth
from mixfit.readback.design_schema import FORMAT


def describe(model: Model, frame: pd.DataFrame) -> dict:
    """The design of a fitted model; ``frame`` is the table it was fitted to (complete rows)."""
    design = model.design
    matrices = {
        dpar: formulae_state.build(p.formula.fixed, frame) for dpar, p in design.predictors.items()
    }
    cs = design.category_specific
    if cs is not None:
        matrices["cs"] = formulae_state.build(cs.formula, frame)
    groups: dict[str, dict] = {}
    for block in design.blocks:
        start = 0
        for dpar, term, width in block.members:  # a block of IDs holds terms of several formulas
            matrix = formulae_state.build(term.lhs, frame)
            matrices[f"{block.id}:{start}"] = matrix
            entry = groups.setdefault(
                block.group,
                {
                    "group": block.group,
                    "factors": list(term.factors),
                    "levels": block.levels,
                    "blocks": [],
                },
            )
            mo = [monotonic.columns_of(t)[0] for t in term.monotonic]
            entry["blocks"].append(
                {
                    "id": block.id,
                    "dpar": dpar,
                    "formula": term.lhs,
                    "terms": block.terms[start : start + width],
                    "variables": list(dict.fromkeys(formulae_state.columns_read(matrix) + mo)),
                    "correlated": block.correlated,
                    # (0 + mo(x) | g) leaves formulae no matrix: no state
                    "state": formulae_state.capture(matrix) if matrix is not None else [],
                }
                # (mo(x) | g): the labels of its last terms, mu's mo() terms' effects varied
                | ({"monotonic": ["mo" + c for c in mo]} if mo else {})
            )
            start += width
    out = {
        "format": FORMAT,
        "formula": design.formula.text,
        "formulas": design.formulas.texts,
        "family": design.family.family.name,
        "link": design.family.link,
        "response": _response(model, frame),
        "variables": _smooth_variables(frame, design)
        | _variables(frame, [m for m in matrices.values() if m is not None])
        | _monotonic_variables(frame, design),
        # categorical: the first category's (every category's predictor is in dpars)
        "population": _population(design.mu, matrices[design.mu.dpar]),
        "dpars": {
            dpar: {"link": design.predictors[dpar].link}
            | _population(design.predictors[dpar], matrices[dpar])
            for dpar in design.dpars
        },
        "groups": list(groups.values()),
        "effects": list(
            dict.fromkeys(
                _effects(matrices[design.mu.dpar])
                + _smooth_columns(design.mu)
                + _monotonic_columns(design.mu)
            )
        ),
        "autocor": _autocor(design.autocor),
    }
    if cs is not None:
        out["category_specific"] = {
            "formula": cs.formula,
            "coefs": cs.coefs,
            "variables": formulae_state.columns_read(matrices["cs"]),
            "state": formulae_state.capture(matrices["cs"]),
        }
        out["effects"] = list(dict.fromkeys(out["effects"] + out["category_specific"]["variables"]))
    return out


def _autocor(autocor) -> dict | None:
    """The autocorrelation term: its class, orders and the columns that order a series."""
    if autocor is None:
        return None
    term = autocor.term
    return {"class": term.cls, "p": term.p, "q": term.q, "time": term.time, "gr": term.gr}


def _population(predictor, matrix) -> dict:
    """One predictor's population-level part: its terms and how new rows are coded for them."""
    out = {
        "formula": predictor.formula.fixed,
        "intercept": predictor.has_intercept,
        "coefs": predictor.coefs,
        "offset": predictor.offset is not None,
        "variables": list(
            dict.fromkeys(
                formulae_state.columns_read(matrix)
                + _smooth_columns(predictor)
                + _monotonic_columns(predictor)
            )
        ),
        "state": formulae_state.capture(matrix) if matrix is not None else [],
    }
    if predictor.smooths:
        out["smooths"] = smooth.describe(predictor)
    if predictor.gps:
        out["gps"] = gp.describe(predictor)
    if predictor.monotonic:
        out["monotonic"] = monotonic.describe(predictor)
    return out


def _monotonic_columns(predictor) -> list[str]:
    return [term.column for term in predictor.monotonic]


def _monotonic_variables(frame: pd.DataFrame, design) -> dict[str, dict]:
    """The columns mo() reads: whole numbers, which effects vary over their values and hold at
    their rounded median (brms's int_vars in conditional_effects); an ordered text column is
    categorical, of its levels up to the fitted data's highest, which effects vary over by name
    and hold at the first (brms's factors)."""
    terms = {t.column: t for p in design.predictors.values() for t in p.monotonic}
    out: dict[str, dict] = {}
    for name, term in terms.items():
        if term.levels:
            out[name] = {"type": "categorical", "levels": list(term.levels[: term.D + 1])}
            continue
        values = frame[name].to_numpy(dtype=float)
        out[name] = {
            "type": "numeric",
            "mean": float(values.mean()),
            "sd": float(values.std(ddof=1)),
            "min": float(values.min()),
            "max": float(values.max()),
            "integer": True,
            "median": float(np.round(np.median(values))),
        }
    return out


def _smooth_columns(predictor) -> list[str]:
    """The columns its smooth and gp terms read."""
    out = [c for term in predictor.smooths for c in term.columns]
    return out + [c for term in predictor.gps for c in term.columns]


def _smooth_variables(frame: pd.DataFrame, design) -> dict[str, dict]:
    """The columns the smooths read: numeric covariates, categorical by factors."""
    names = [c for p in design.predictors.values() for c in _smooth_columns(p)]
    out: dict[str, dict] = {}
    for name in dict.fromkeys(names):
        column = frame[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            observed = set(column.unique())
            levels = [c for c in column.cat.categories if c in observed]
            out[name] = {"type": "categorical", "levels": formulae_state.plain(levels)}
        else:
            values = column.to_numpy(dtype=float)
            out[name] = {
                "type": "numeric",
                "mean": float(values.mean()),
                "sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                "min": float(values.min()),
                "max": float(values.max()),
            }
    return out


def write(description: dict, path: Path) -> None:
    path.write_text(json.dumps(description, indent=2) + "\n")


def read(outdir: Path) -> dict:
    """design.json, checked as untrusted input (mixfit/readback/design_schema.py)."""
    from mixfit.readback.results_folder import read_design

    return read_design(outdir)


def _response(model: Model, frame: pd.DataFrame) -> dict:
    design = model.design
    name = design.formula.response
    binary_levels = None
    if (
        design.family.family.response == "binary"
        and name in frame
        and not (
            pd.api.types.is_numeric_dtype(frame[name]) or pd.api.types.is_bool_dtype(frame[name])
        )
    ):
        binary_levels = sorted(frame[name].astype(str).unique())
    additions = design.formula.additions
    return {
        "name": name,
        "trials": design.formula.trials,
        "categories": list(design.response.categories),
        "binary_levels": binary_levels,
        "weights": additions.weights,
        "weights_scale": additions.weights_scale,
        "se": additions.se,
        "se_sigma": additions.se_sigma,
        "cens": additions.cens,
        "cens_y2": additions.cens_y2,
        "trunc_lb": additions.trunc_lb,
        "trunc_ub": additions.trunc_ub,
        "rate": additions.rate,
        "addition_means": {  # brms's conditional_effects holds such columns at their mean
            name: float(frame[name].mean())
            for name in [additions.rate, additions.trunc_lb, additions.trunc_ub]
            if name is not None and name in frame
        },
    }


def _variables(frame: pd.DataFrame, matrices: list) -> dict[str, dict]:
    """Each column the terms read, with what a new row's value must be and what is typical."""
    levels: dict[str, list] = {}
    names: list[str] = []
    for matrix in matrices:
        for term in matrix.terms.values():
            for component in getattr(term, "components", []):
                columns = formulae_state.component_columns(component)
                names += columns
                if component.levels is not None and len(columns) == 1:
                    levels.setdefault(columns[0], formulae_state.plain(component.levels))
    out: dict[str, dict] = {}
    for name in dict.fromkeys(names):
        column = frame[name]
        categorical = isinstance(column.dtype, pd.CategoricalDtype)
        entry: dict = {"type": "categorical" if categorical else "numeric"}
        if categorical:
            observed = set(column.unique())
            entry["levels"] = formulae_state.plain(
                [c for c in column.cat.categories if c in observed]
            )
        else:
            values = column.to_numpy(dtype=float)
            if name in levels:
                entry["levels"] = levels[name]
            entry |= {
                "mean": float(values.mean()),
                "sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                "min": float(values.min()),
                "max": float(values.max()),
            }
        out[name] = entry
    return out


def _effects(population) -> list[str]:
    """The data columns of the population-level terms, offsets left out, in formula order."""
    if population is None:
        return []
    names: list[str] = []
    for term in population.terms.values():
        for component in getattr(term, "components", []):
            if getattr(component, "kind", None) != "offset":
                names += formulae_state.component_columns(component)
    return list(dict.fromkeys(names))

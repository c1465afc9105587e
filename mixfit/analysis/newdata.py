"""New rows to the numbers of a fitted model's design, coded as the fit coded its own data.

A results folder's design.json (mixfit/results/design_file.py) says which columns the model
reads and how: numeric columns as numbers, categorical ones among the fitted levels, stateful
transforms with the fitted values, grouping factors' levels as labelled in the tables. A value the
model can't code (a column missing, a level of a population-level factor never seen, a new level
of a grouping factor not allowed) is an error naming it. An empty grouping value is a new level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mixfit.errors import InputError
from mixfit.model import addition_terms, formulae_state
from mixfit.model.addition_terms import Additions
from mixfit.model.data import check_rows, read_header
from mixfit.model.design import Design, _label, brms_name
from mixfit.model.families import STAN_INT_MAX
from mixfit.model.terms import gp, monotonic, smooth


@dataclass(frozen=True)
class GroupRows:
    index: np.ndarray  # per row: its level among the fitted ones (0..L-1), or L + k: new level k
    Z: np.ndarray  # rows x the group's terms (its blocks side by side)
    new_levels: list[str]
    # (mo(x) | g): per mo() column of Z (a placeholder 1), the population term's label and the
    # rows' values less the fitted minimum (0..D); its predictor is mo(simo, x), per draw
    mo: dict[int, tuple[str, np.ndarray]] = field(default_factory=dict)


@dataclass(frozen=True)
class PredictorRows:
    """The rows' population-level predictors and offset of one predictor (mu, sigma, ...)."""

    X: np.ndarray  # rows x population-level coefficients (no intercept column), then smooths
    offset: np.ndarray | None
    exact_gps: tuple = ()  # exact GPs at new rows, drawn apart (mixfit/model/terms/gp.py)
    cache: dict = field(default_factory=dict, compare=False)  # their draws, once per prediction


@dataclass(frozen=True)
class Rows:
    predictors: dict[str, PredictorRows]  # mu's first
    trials: np.ndarray | None
    groups: list[GroupRows | None]  # per group of design.json; None: left out (re_formula NA)
    # the addition terms' columns where the rows have them (the known SEs predict a response)
    weights: np.ndarray | None = None
    se: np.ndarray | None = None
    cens: np.ndarray | None = None
    y2: np.ndarray | None = None
    lb: np.ndarray | None = None  # trunc(): each row's bounds (-inf / inf: none)
    ub: np.ndarray | None = None
    denom: np.ndarray | None = None  # rate(): each row's denominator
    cs: np.ndarray | None = None  # rows x Kcs: mu's cs() terms (sratio, cratio, acat)

    @property
    def mu(self) -> PredictorRows:
        """mu's; a categorical model's first category's (it has one predictor per category)."""
        return self.predictors.get("mu") or next(iter(self.predictors.values()))

    @property
    def X(self) -> np.ndarray:
        return self.mu.X

    @property
    def offset(self) -> np.ndarray | None:
        return self.mu.offset

    @property
    def n(self) -> int:
        return len(self.X)


def read_csv(path: Path, as_text: bool = False) -> pd.DataFrame:
    """NEWDATA.csv, checked the way a fit's data file is; every column kept, every row.
    ``as_text``: every value as the text written in the file (empty for a missing value)."""
    header = read_header(path)
    if check_rows(path, len(header)) == 0:
        raise InputError(f"data file {str(path)!r} has a header but no rows")
    text = {"dtype": str, "keep_default_na": False} if as_text else {}
    try:
        return pd.read_csv(path, encoding="utf-8-sig", skipinitialspace=True, engine="c", **text)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise InputError(f"cannot parse data file {str(path)!r}: {first_line}") from None


def predictor_parts(design: dict) -> dict[str, dict]:
    """Each predictor's population-level part of design.json, mu's first; a categorical model's
    are its categories' (mu<cat>), which design.json keeps among the dpars."""
    if design["family"] == "categorical":
        return dict(design["dpars"])
    return {"mu": design["population"]} | design.get("dpars", {})


def required_columns(design: dict, *, groups: bool, trials: bool) -> list[str]:
    names = [v for part in predictor_parts(design).values() for v in part["variables"]]
    names += design.get("category_specific", {}).get("variables", [])
    if groups:
        for group in design["groups"]:
            names += [v for block in group["blocks"] for v in block["variables"]]
            names += group["factors"]
    column = design["response"]["trials"]
    if trials and column is not None and not column.isdigit():
        names.append(column)
    return list(dict.fromkeys(names))


def new_rows(
    design: dict,
    frame: pd.DataFrame,
    source: str,
    *,
    groups: bool = True,
    allow_new_levels: bool = False,
    trials: bool = True,
) -> Rows:
    """``frame``'s rows as the model's numbers. ``groups=False`` leaves the group-level terms
    out (``re_formula = NA``); ``trials=False`` does not ask for a binomial's trials."""
    needed = required_columns(design, groups=groups, trials=trials)
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        names = ", ".join(repr(c) for c in missing)
        raise InputError(
            f"{source} lacks the column{'s' if len(missing) > 1 else ''} {names} that the model "
            f"uses (columns: {', '.join(map(str, frame.columns))})"
        )
    ordered = _ordered_columns(design)
    typed = pd.DataFrame(
        {
            name: _typed(frame[name], name, entry, source, ordered.get(name))
            for name, entry in design["variables"].items()
            if name in needed
        },
        index=frame.index,
    )
    return Rows(
        predictors={
            dpar: PredictorRows(*_population(design, part, typed, source))
            for dpar, part in predictor_parts(design).items()
        },
        trials=_trials(design, frame, source) if trials else None,
        groups=[
            _group(group, frame, typed, source, allow_new_levels, _levels(design), design)
            if groups
            else None
            for group in design["groups"]
        ],
        **_addition_values(design, frame, source),
        cs=_category_specific(design, typed, source),
    )


def _category_specific(design: dict, typed: pd.DataFrame, source: str) -> np.ndarray | None:
    """The rows' cs() columns, coded as the fit's (their intercept column dropped)."""
    part = design.get("category_specific")
    if part is None:
        return None
    matrix = formulae_state.evaluate(part["formula"], typed, part["state"], _levels(design))
    X = matrix.drop(columns=["Intercept"])
    if [brms_name(c) for c in X.columns] != part["coefs"]:
        raise InputError("design.json does not match the model's category-specific terms")
    for name in X.columns:
        _check_finite(X[name].to_numpy(dtype=float), f"the predictor {brms_name(name)!r}", source)
    return X.to_numpy(dtype=float)


def _addition_values(design: dict, frame: pd.DataFrame, source: str) -> dict:
    """The weights and known SEs of the rows that have their columns, checked as the fit's."""
    info = design["response"]
    present = {
        term: info.get(term) if info.get(term) in frame.columns else None
        for term in ("weights", "se", "cens", "cens_y2", "rate")
    }
    # trunc(): a number applies to every row; a column's bounds only where the rows have every
    # bound column (else none, and a prediction that needs them says which is missing)
    bounds = {term: info.get(term) for term in ("trunc_lb", "trunc_ub")}
    if any(
        b is not None and not addition_terms.is_bound(b) and b not in frame.columns
        for b in bounds.values()
    ):
        bounds = {term: None for term in bounds}
    additions = Additions(
        weights=present["weights"],
        weights_scale=info.get("weights_scale", False),
        se=present["se"],
        se_sigma=info.get("se_sigma", False),
        cens=present["cens"],
        cens_y2=present["cens_y2"] if present["cens"] else None,
        trunc_lb=bounds["trunc_lb"],
        trunc_ub=bounds["trunc_ub"],
        rate=present["rate"],
    )
    extra = addition_terms.values(additions, frame, source)
    return {
        "weights": extra.weights,
        "se": extra.se,
        "cens": extra.cens,
        "y2": extra.y2,
        "lb": extra.lb,
        "ub": extra.ub,
        "denom": extra.denom,
    }


def training_rows(design: Design) -> Rows:
    """The fitted rows, from the matrices the fit built (as in standata.json)."""
    grouped: dict[str, list] = {}
    for block in design.blocks:
        grouped.setdefault(block.group, []).append(block)
    return Rows(
        predictors={
            d: PredictorRows(
                np.column_stack(
                    [
                        p.X,
                        smooth.fitted_columns(p),
                        gp.fitted_columns(p),
                        monotonic.fitted_columns(p),
                    ]
                ),
                p.offset,
            )
            for d, p in design.predictors.items()
        },
        trials=design.response.trials,
        groups=[
            GroupRows(
                blocks[0].J - 1,
                np.column_stack([b.Z for b in blocks]),
                [],
                _fitted_monotonic(blocks, design.mu),
            )
            for blocks in grouped.values()
        ],
        weights=design.response.weights,
        se=design.response.se,
        cens=design.response.cens,
        y2=design.response.y2,
        lb=design.response.lb,
        ub=design.response.ub,
        denom=design.response.denom,
        cs=None if design.category_specific is None else design.category_specific.X,
    )


def _fitted_monotonic(blocks: list, mu) -> dict[int, tuple[str, np.ndarray]]:
    """The fitted rows' mo() columns of a group's blocks, as GroupRows.mo."""
    values = {t.label: t.values for t in mu.monotonic}
    out, start = {}, 0
    for block in blocks:
        first = len(block.terms) - len(block.monotonic)
        for k, label in enumerate(block.monotonic):
            out[start + first + k] = (label, values[label])
        start += len(block.terms)
    return out


def response(design: dict, frame: pd.DataFrame, source: str) -> np.ndarray:
    """The response of new rows as the likelihood takes it: numbers, 0/1, or categories 1..K."""
    info = design["response"]
    name = info["name"]
    if name in frame.columns:
        values = frame[name]
    else:
        try:
            values = formulae_state.response(name, frame)
        except Exception as exc:  # noqa: BLE001 - formulae raises many types for a bad expression
            raise InputError(
                f"the response {name!r} can't be computed from {source}: {exc}"
            ) from None
    if values.isna().any():
        row = int(np.flatnonzero(values.isna().to_numpy())[0]) + 1
        raise InputError(f"the response {name!r} of {source} is missing in row {row}")
    coded = info["categories"] or info["binary_levels"]
    if coded:
        labels = values.map(_text)
        unknown = sorted(set(labels) - set(coded))
        if unknown:
            raise InputError(
                f"the response {name!r} of {source} has values the model never saw: "
                f"{', '.join(repr(u) for u in unknown[:5])} (known: {', '.join(coded)})"
            )
        position = {label: k for k, label in enumerate(coded)}
        return labels.map(position).to_numpy() + (1 if info["categories"] else 0)
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.isna().any():
        bad = values[numbers.isna()].iloc[0]
        raise InputError(f"the response {name!r} of {source} must be numeric (found {bad!r})")
    return numbers.to_numpy(dtype=float)


def _levels(design: dict) -> dict[str, list]:
    """The fitted levels of each column the model codes as categorical."""
    return {
        name: entry["levels"]
        for name, entry in design["variables"].items()
        if entry.get("levels") is not None
    }


def _ordered_columns(design: dict) -> dict[str, dict]:
    """The mo() terms of ordered text columns, by column (``--levels "dose=low,mid,high"``)."""
    return {
        entry["column"]: entry
        for part in predictor_parts(design).values()
        for entry in part.get("monotonic", [])
        if entry.get("levels") is not None
    }


def _typed(
    column: pd.Series, name: str, entry: dict, source: str, ordered: dict | None = None
) -> pd.Series:
    blank = column.isna() | (column.astype(str).str.strip() == "")
    if blank.any():
        row = int(np.flatnonzero(blank.to_numpy())[0]) + 1
        raise InputError(f"column {name!r} of {source} has no value in row {row}")
    if ordered is not None:  # a value not among its levels, or above the fitted ones: in its words
        monotonic.values_at(ordered, column, source)
    levels = entry.get("levels")
    if entry["type"] == "categorical" or levels is not None:
        labels = column.map(_text)
        known = [_text(level) for level in levels]
        unknown = list(dict.fromkeys(v for v in labels if v not in known))
        if unknown:
            raise InputError(
                f"{source}: level{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(repr(u) for u in unknown[:5])} of {name!r} never appeared in the "
                f"fitted data (levels: {', '.join(known[:20])})"
            )
        if entry["type"] == "categorical":
            codes = labels.map({label: k for k, label in enumerate(known)})
            return pd.Series(
                pd.Categorical.from_codes(codes.to_numpy(), categories=levels), index=column.index
            )
        return labels.map(dict(zip(known, levels)))
    numbers = pd.to_numeric(column, errors="coerce")
    if numbers.isna().any():
        bad = column[numbers.isna()].iloc[0]
        raise InputError(f"column {name!r} of {source} must be numeric (found {bad!r})")
    return numbers.astype(float)


def _population(
    design: dict, population: dict, typed: pd.DataFrame, source: str
) -> tuple[np.ndarray, np.ndarray | None]:
    # design.json's formulas were re-parsed with the command line's whitelist when read
    # (mixfit/readback/design_schema.py), and formulae evaluates them in an empty environment
    matrix = formulae_state.evaluate(
        population["formula"], typed, population["state"], _levels(design)
    )
    smooths = _smooths(population, typed, source)
    # the special terms' columns after X's: smooths', GPs', then mo()'s (saved_fit's order)
    steps = _monotonic(population, typed, source)
    if matrix is None:
        gps, exact = _gps(population, typed, source, smooths.shape[1])
        return np.column_stack([smooths, gps, steps]), None, tuple(exact)
    offsets = [c for c in matrix.columns if c.startswith("offset(")]
    X = matrix.drop(columns=offsets + (["Intercept"] if population["intercept"] else []))
    if [brms_name(c) for c in X.columns] != population["coefs"]:
        raise InputError("design.json does not match the model's population-level terms")
    offset = matrix[offsets].sum(axis=1).to_numpy(dtype=float) if offsets else None
    for name in X.columns:
        _check_finite(X[name].to_numpy(dtype=float), f"the predictor {brms_name(name)!r}", source)
    if offset is not None:
        _check_finite(offset, "the offset", source)
    gps, exact = _gps(population, typed, source, X.shape[1] + smooths.shape[1])
    return np.column_stack([X.to_numpy(dtype=float), smooths, gps, steps]), offset, tuple(exact)


def _smooths(population: dict, typed: pd.DataFrame, source: str) -> np.ndarray:
    """The smooths' columns at the rows, on the fitted bases (the order of saved_fit's draws)."""
    entries = population.get("smooths", [])
    data = {}
    for entry in entries:
        state = entry["state"]
        for name in state["covariates"]:
            data[name] = typed[name].to_numpy(dtype=float)
            _check_finite(data[name], f"the smooth's covariate {name!r}", source)
        if state["by"] is not None:
            data[state["by"]["variable"]] = typed[state["by"]["variable"]].astype(str).to_numpy()
    if not entries:
        return np.zeros((len(typed), 0))
    return smooth.columns_at(entries, data)


def _gps(
    population: dict, typed: pd.DataFrame, source: str, offset: int
) -> tuple[np.ndarray, list]:
    """The GPs' columns at the rows, on the fitted bases (the order of saved_fit's draws)."""
    entries = population.get("gps", [])
    data = {}
    for entry in entries:
        state = entry["state"]
        for name in state["covariates"]:
            data[name] = typed[name].to_numpy(dtype=float)
            _check_finite(data[name], f"the GP's covariate {name!r}", source)
        if state["by"] is not None:
            data[state["by"]["variable"]] = typed[state["by"]["variable"]].astype(str).to_numpy()
    return gp.columns_at(entries, data, len(typed), offset)


def _monotonic(population: dict, typed: pd.DataFrame, source: str) -> np.ndarray:
    """The mo() terms' step indicators at the rows; a value outside the fitted range, or not a
    whole number, is one InputError."""
    entries = population.get("monotonic", [])
    data = {entry["column"]: _monotonic_values(entry, typed, source) for entry in entries}
    return monotonic.columns_at(entries, data, len(typed))


def _monotonic_values(entry: dict, typed: pd.DataFrame, source: str) -> np.ndarray:
    """One mo() term's values at the rows, 0..steps: an ordered text column coded by its levels,
    a numeric one less the fitted minimum."""
    name = entry["column"]
    if entry.get("levels") is not None:
        return monotonic.values_at(entry, typed[name], source)
    x = typed[name].to_numpy(dtype=float)
    _check_finite(x, f"the monotonic predictor {name!r}", source)
    return monotonic.values_at(entry, x, source)


def _group(
    group: dict,
    frame: pd.DataFrame,
    typed: pd.DataFrame,
    source: str,
    allow_new: bool,
    levels: dict[str, list],
    design: dict,
) -> GroupRows:
    keys = [frame[f] for f in group["factors"]]
    blank = np.zeros(len(frame), dtype=bool)
    for key in keys:
        blank |= (key.isna() | (key.astype(str).str.strip() == "")).to_numpy()
    labels = [
        "" if empty else _label(tuple(values) if len(values) > 1 else values[0])
        for empty, values in zip(blank, zip(*keys))
    ]
    position = {level: k for k, level in enumerate(group["levels"])}
    new_levels = list(dict.fromkeys(label for label in labels if label not in position))
    if new_levels and not allow_new:
        shown = ", ".join("(empty)" if v == "" else repr(v) for v in new_levels[:5])
        more = f" and {len(new_levels) - 5} more" if len(new_levels) > 5 else ""
        raise InputError(
            f"{source}: level{'s' if len(new_levels) > 1 else ''} {shown}{more} of grouping "
            f"factor {group['group']!r} {'are' if len(new_levels) > 1 else 'is'} not in the "
            "fitted data; use --allow-new-levels to predict for new levels"
        )
    position |= {level: len(group["levels"]) + k for k, level in enumerate(new_levels)}
    Z, mo = [], {}
    for block in group["blocks"]:
        matrix = formulae_state.evaluate(block["formula"], typed, block["state"], levels)
        Z.append(np.zeros((len(typed), 0)) if matrix is None else matrix.to_numpy(dtype=float))
        _check_finite(Z[-1], f"a {group['group']} term", source)
        start = sum(z.shape[1] for z in Z)
        for k, (label, values) in enumerate(_group_monotonic(block, design, typed, source)):
            mo[start + k] = (label, values)
            Z.append(np.ones((len(typed), 1)))
    Z = np.column_stack(Z)
    index = np.array([position[label] for label in labels], dtype=np.int64)
    return GroupRows(index, Z, new_levels, mo)


def _group_monotonic(
    block: dict, design: dict, typed: pd.DataFrame, source: str
) -> list[tuple[str, np.ndarray]]:
    """A block's mo() terms at the rows: (label, values 0..steps), by mu's entries."""
    entries = {e["label"]: e for e in design["population"].get("monotonic", [])}
    return [
        (label, _monotonic_values(entries[label], typed, source))
        for label in block.get("monotonic", [])
    ]


def _check_finite(values: np.ndarray, what: str, source: str) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        rows = int(bad.any(axis=1).sum()) if bad.ndim > 1 else int(bad.sum())
        raise InputError(f"{what} is not finite in {rows} row(s) of {source}")


def _trials(design: dict, frame: pd.DataFrame, source: str) -> np.ndarray | None:
    column = design["response"]["trials"]
    if column is None:
        return None
    if column.isdigit():
        return np.full(len(frame), int(column), dtype=np.int64)
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values < 0) | (values % 1 != 0) | (values > STAN_INT_MAX)
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + 1
        raise InputError(
            f"trials column {column!r} of {source} must hold whole numbers up to "
            f"{STAN_INT_MAX:,}, as the fit's (row {row}: "
            f"{str(frame[column].iloc[row - 1])!r})"
        )
    return values.astype(np.int64)


def _text(value) -> str:
    """A value as the text the fit labelled it with: 2.0 and 2 both read "2"."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()

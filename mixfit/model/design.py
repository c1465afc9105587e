"""From a parsed formula and a table to the numbers a Stan program needs.

The population-level matrix and each group block's predictors are built by formulae; this module
names the columns as brms prints them and indexes each row's group level.
"""

from __future__ import annotations

import io
import re
import sys
import warnings
from collections.abc import Collection, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field

import formulae
import numpy as np
import pandas as pd

from mixfit.errors import InputError
from mixfit.model.families import FamilyChoice, Response, check_response
from mixfit.model.formula import ParsedFormula, shown
from mixfit.model.formula_env import empty_environment  # no Python namespace in reach

# What formulae may call besides its own builtins (C, I, center, scale, offset).
NAMESPACE = {
    "log": np.log,
    "log1p": np.log1p,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "factor": lambda x: pd.Categorical(x, categories=sorted(pd.unique(x))),
}


@dataclass(frozen=True)
class GroupBlock:
    """One ``(terms | group)`` term: per level, a vector of coefficients."""

    id: int
    group: str  # "Subject", or "a:b" for an interaction of factors
    terms: list[str]  # "Intercept", "Days", ...
    levels: list[str]
    J: np.ndarray  # 1-based level of each row
    Z: np.ndarray  # rows x terms
    correlated: bool

    @property
    def has_cor(self) -> bool:
        return self.correlated and len(self.terms) > 1


@dataclass(frozen=True)
class Design:
    formula: ParsedFormula
    family: FamilyChoice
    response: Response
    has_intercept: bool
    X: np.ndarray  # population-level predictors, without the intercept column
    coefs: list[str]  # names of X's columns
    offset: np.ndarray | None
    blocks: list[GroupBlock]
    terms: dict[str, list[str]] = field(default_factory=dict)  # population term -> its coefs

    @property
    def n(self) -> int:
        return len(self.response.values)

    @property
    def fixef_names(self) -> list[str]:
        return (["Intercept"] if self.has_intercept else []) + self.coefs


def columns_used(formula: ParsedFormula) -> list[str]:
    """Every data column the formula refers to, in first-seen order."""
    names: list[str] = []
    expressions = [formula.response, formula.fixed] + [g.lhs for g in formula.groups]
    for expression in expressions:
        names += sorted(v for v in _variables(expression) if v)
    for group in formula.groups:
        names += list(group.factors)
    if formula.trials and not _is_number(formula.trials):
        names.append(formula.trials)
    return list(dict.fromkeys(names))


def predictor_columns(formula: ParsedFormula) -> list[str]:
    """The columns read as predictors (or trials): numbers, or a categorical predictor's levels."""
    names = _variables(formula.fixed).union(*(_variables(g.lhs) for g in formula.groups))
    if formula.trials and not _is_number(formula.trials):
        names.add(formula.trials)
    return sorted(names - _variables(formula.response))


def check_factor_flags(formula: ParsedFormula, factors: Collection[str]) -> None:
    """--factor makes a predictor categorical; a response is never one."""
    response = _variables(formula.response)
    for name in factors:
        if name in response:
            raise InputError(
                f"--factor {name!r} names the response: --factor makes a predictor categorical; "
                "for a response of ordered categories use --family cumulative"
            )


# Past this size a number overflows the sums and squares of the model's arithmetic.
MAX_MAGNITUDE = 1e100


def build_design(formula: ParsedFormula, family: FamilyChoice, frame: pd.DataFrame) -> Design:
    response_name = formula.response
    if formula.trials is not None and family.family.response != "binomial":
        raise InputError(
            f"formula {shown(formula.text)}: trials() belongs to family binomial, not "
            f"{family.family.name}"
        )
    if response_name in _variables(formula.fixed) or any(
        response_name in _variables(g.lhs) for g in formula.groups
    ):
        raise InputError(f"the response {response_name!r} is also a predictor in the formula")
    if "Intercept" in predictor_columns(formula):  # formulae merges it with the intercept
        raise InputError(
            "a column named 'Intercept' can't be a predictor (it is the intercept's name): "
            "rename it"
        )
    trials = None
    if formula.trials is not None:
        if _is_number(formula.trials):
            trials = pd.Series(np.full(len(frame), int(formula.trials)))
        else:
            trials = frame[formula.trials]
    response = check_response(family, response_name, _response(formula, frame), trials)
    common = _evaluate(formula.fixed, frame, formula.text)
    # formulae gives no matrix at all for "0" or "-1" alone: a model of group-level terms only
    kinds = {name: term.kind for name, term in common.terms.items()} if common else {}
    matrix = common.as_dataframe() if common else pd.DataFrame(index=frame.index)
    offset_columns = [c for c in matrix.columns if c.startswith("offset(")]
    offset = matrix[offset_columns].sum(axis=1).to_numpy() if offset_columns else None
    has_intercept = kinds.get("Intercept") == "intercept"
    X = matrix.drop(columns=offset_columns + (["Intercept"] if has_intercept else []))
    blocks = [
        _group_block(i + 1, term, frame, formula.text) for i, term in enumerate(formula.groups)
    ]
    _check_finite(f"the response {response_name!r}", response.values, formula.text)
    _check_levels_per_row(blocks, len(frame), family)
    for name in X.columns:
        _check_finite(f"the predictor {name!r}", X[name], formula.text)
    if offset is not None:
        _check_finite("the offset", offset, formula.text)
    for block in blocks:
        for k, name in enumerate(block.terms):
            _check_finite(f"the {block.group} term {name!r}", block.Z[:, k], formula.text)
    _check_distinct_names(list(X.columns), "population-level", formula.text)
    _check_no_duplicate_effects(blocks, formula.text)
    slices = common.slices if common else {}
    terms = {
        name: [brms_name(c) for c in matrix.columns[where]]
        for name, where in slices.items()
        if name != "Intercept" and not name.startswith("offset(")
    }
    return Design(
        formula=formula,
        family=family,
        response=response,
        has_intercept=has_intercept,
        X=X.to_numpy(dtype=float),
        coefs=[brms_name(c) for c in X.columns],
        offset=offset,
        blocks=blocks,
        terms=terms,
    )


def _check_distinct_names(labels: list[str], where: str, text: str) -> None:
    """Levels a[1], a1 and a(1) of a factor a all become the coefficient a1 as brms writes it."""
    by_name: dict[str, list[str]] = {}
    for label in labels:
        by_name.setdefault(brms_name(label), []).append(label)
    for name, same in by_name.items():
        if len(same) > 1:
            raise InputError(
                f"formula {shown(text)}: the {where} terms {', '.join(map(repr, same))} would all be "
                f"named {name!r}: rename the levels or columns so their names differ"
            )


def _check_no_duplicate_effects(blocks: list[GroupBlock], text: str) -> None:
    """(1 | g) + (x | g) gives g two intercepts that only their sum identifies (brms refuses)."""
    seen: dict[tuple[str, str], int] = {}
    for block in blocks:
        for term in block.terms:
            if (block.group, term) in seen:
                raise InputError(
                    f"formula {shown(text)}: the group-level effect {term!r} of {block.group!r} "
                    "appears in two terms: each effect of a grouping factor belongs in one term"
                )
            seen[block.group, term] = block.id


def brms_name(label: str) -> str:
    """formulae's ``period[2]`` and ``zBase:Trt[1]`` as brms prints them: ``period2``, ``zBase:Trt1``."""
    return re.sub(r"[\[\]() ]", "", label)


def _response(formula: ParsedFormula, frame: pd.DataFrame) -> pd.Series:
    if formula.response in frame.columns:
        return frame[formula.response]
    design = _evaluate(f"{formula.response} ~ 1", frame, formula.text)
    return pd.Series(np.asarray(design.response).ravel(), name=formula.response)


def _group_block(id: int, term, frame: pd.DataFrame, text: str) -> GroupBlock:
    evaluated = _evaluate(term.lhs, frame, text)
    if evaluated is None:  # "0" or "-1" alone: no intercept and nothing else
        raise InputError(
            f"formula {shown(text)}: the group-level term ({term.lhs} | {term.group}) has no terms: "
            f"write (1 | {term.group}) for a varying intercept"
        )
    predictors = evaluated.as_dataframe()
    keys = [frame[f] for f in term.factors]
    codes = pd.MultiIndex.from_arrays([_sortable(k) for k in keys])
    uniques = codes.unique().sort_values()
    if len(uniques) < 2:
        raise InputError(
            f"grouping factor {term.group!r} has only one level ({_label(uniques[0])}); "
            "a group-level term needs at least two"
        )
    J = uniques.get_indexer(codes) + 1
    levels = [_label(u) for u in uniques]
    if len(set(levels)) < len(levels):
        first: dict[str, tuple] = {}
        for key, label in zip(uniques, levels):
            if label in first:
                raise InputError(
                    f"grouping factor {term.group!r}: the levels {first[label]} and {key} are both "
                    f"named {label!r} once joined with '_': rename one of them"
                )
            first[label] = key
    _check_distinct_names(list(predictors.columns), f"group-level ({term.group})", text)
    return GroupBlock(
        id=id,
        group=term.group,
        terms=[brms_name(c) for c in predictors.columns],
        levels=levels,
        J=J.astype(np.int64),
        Z=predictors.to_numpy(dtype=float),
        correlated=term.correlated,
    )


def _sortable(column: pd.Series) -> pd.Series:
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.astype(column.cat.categories.dtype)
    return column


def _label(key) -> str:
    parts = key if isinstance(key, tuple) else (key,)
    return "_".join(_level(p) for p in parts)


def _level(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _check_levels_per_row(blocks: list[GroupBlock], rows: int, family: FamilyChoice) -> None:
    """A level per row leaves nothing to tell group effects from the residual (counts aside, where
    observation-level effects are the usual model of overdispersion)."""
    if family.family.response in {"count", "binomial"}:
        return
    for block in blocks:
        if len(block.levels) >= rows:
            raise InputError(
                f"grouping factor {block.group!r} has a level for every row ({len(block.levels)} "
                f"levels, {rows} rows): its effects can't be told apart from the residual"
            )


def check_separation(design: Design, slots: list) -> None:
    """Bernoulli: a predictor that splits the 0s from the 1s, under a flat prior, has no posterior."""
    if design.family.family.response != "binary":
        return
    y = np.asarray(design.response.values)
    flat = {
        coef
        for slot in slots
        if slot.cls == "b"
        for (coef, _), prior in zip(slot.labels, slot.priors)
        if prior.distribution == "flat"
    }
    for k, coef in enumerate(design.coefs):
        x0, x1 = design.X[y == 0, k], design.X[y == 1, k]
        if coef not in flat or not len(x0) or not len(x1):
            continue
        if x0.max() < x1.min() or x1.max() < x0.min():
            side = ">" if x0.max() < x1.min() else "<"
            cut = x0.max() if side == ">" else x0.min()
            raise InputError(
                f"predictor {coef!r} separates the response completely ({design.formula.response} "
                f"is 1 exactly when {coef} {side} {cut:g}): with a flat prior its coefficient has "
                f'no posterior; set one, e.g. --prior "normal(0, 2.5) : b : {coef}", or drop it'
            )


def _check_finite(what: str, values, text: str) -> None:
    """Stan rejects NaN and infinite data only after compiling, and overflows on numbers near
    the largest double; say which term made them here."""
    values = np.asarray(values, dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        raise InputError(f"formula {shown(text)}: {what} is not finite in {int(bad.sum())} rows")
    huge = np.abs(values) > MAX_MAGNITUDE
    if huge.any():
        raise InputError(
            f"formula {shown(text)}: {what} reaches {values[huge][0]:g}, too large for the model's "
            f"arithmetic (at most {MAX_MAGNITUDE:g}): rescale it"
        )


@contextmanager
def _quietly() -> Iterator[None]:
    """formulae prints and warns on stdout and stderr, and parses recursively (a few frames a
    term): no output but mixfit's, and room for the formulas formula.py admits."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        with redirect_stdout(io.StringIO()), warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            yield
    finally:
        sys.setrecursionlimit(limit)


def _evaluate(rhs: str, frame: pd.DataFrame, text: str):
    try:
        # log(0) and the like warn on stderr; _check_finite reports them as one error instead
        with _quietly():
            design = formulae.design_matrices(
                rhs, frame, na_action="error", env=empty_environment(), extra_namespace=NAMESPACE
            )
    except Exception as exc:  # formulae raises many types; all mean the formula can't be built
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"formula {shown(text)}: {message}") from None
    return design.common if "~" not in rhs else design


def _variables(expression: str) -> set[str]:
    try:
        with _quietly():
            return {v for v in formulae.model_description(expression).var_names if v}
    except Exception as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"formula term {shown(expression)}: {message}") from None


def _is_number(text: str) -> bool:
    return text.isdigit()

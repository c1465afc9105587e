"""From a parsed formula and a table to the numbers a Stan program needs.

The population-level matrix and each group block's predictors are built by formulae; this module
names the columns as brms prints them and indexes each row's group level.
"""

from __future__ import annotations

import io
import sys
import warnings
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field, replace

import formulae
import numpy as np
import pandas as pd

from mixfit.errors import InputError
from mixfit.model import addition_terms, transforms
from mixfit.model.families import (
    FamilyChoice,
    FamilyParam,
    Response,
    category_dpars,
    check_response,
    free_params,
)
from mixfit.model.formula import GroupTerm, ParsedFormula, shown
from mixfit.model.formula_env import empty_environment  # no Python namespace in reach
from mixfit.model.formulas import ModelFormula
from mixfit.model.r_syntax import brms_name
from mixfit.model.terms import autocor as autocor_term
from mixfit.model.terms import category_specific, gp, monotonic, smooth

# What formulae may call besides its own builtins (C, I, center, scale, offset).
NAMESPACE = {
    "log": np.log,
    "log1p": np.log1p,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "factor": lambda x: pd.Categorical(x, categories=sorted(pd.unique(x))),
    **transforms.NAMESPACE,  # poly(), ns(), bs()
}


@dataclass(frozen=True)
class Predictor:
    """One linear predictor: the mean's (``mu``) or a distributional parameter's (``sigma``,
    ``zi``, ...), as brms has one per parameter with a formula. Its group-level terms live in the
    design's blocks, which several predictors may share (brms's IDs)."""

    dpar: str
    link: str
    formula: ParsedFormula
    has_intercept: bool
    X: np.ndarray  # population-level predictors, without the intercept column
    coefs: list[str]  # names of X's columns, as brms prints them (without the dpar's prefix)
    offset: np.ndarray | None
    terms: dict[str, list[str]] = field(default_factory=dict)  # population term -> its coefs
    smooths: tuple = ()  # its s() and t2() terms (mixfit/model/terms/smooth.py's SmoothTerm)
    gps: tuple = ()  # its gp() terms (mixfit/model/terms/gp.py's GPTerm)
    monotonic: tuple = ()  # its mo() terms (mixfit/model/terms/monotonic.py's MonotonicTerm)

    @property
    def monotonic_coefs(self) -> list[str]:
        """Its monotonic effects' names (brms's ``mox`` of ``bsp_mox``), without the prefix."""
        return [term.label for term in self.monotonic]

    @property
    def smooth_coefs(self) -> list[str]:
        """Its smooths' unpenalised columns' names (brms's ``sTime_1``), without the prefix."""
        return [name for term in self.smooths for p in term.basis.parts for name in p.xs_names]

    @property
    def prefix(self) -> str:
        """brms's prefix of the predictor's effects: ``sigma_`` in ``sigma_SexMale``."""
        return "" if self.dpar == "mu" else f"{self.dpar}_"

    @property
    def suffix(self) -> str:
        """The suffix of its Stan variables, as brms's: ``X_sigma``, ``b_sigma``."""
        return "" if self.dpar == "mu" else f"_{self.dpar}"

    @property
    def intercept_name(self) -> str:
        return f"{self.prefix}Intercept"

    @property
    def names(self) -> list[str]:
        """Its population-level effects under brms's names, the intercept first."""
        return ([self.intercept_name] if self.has_intercept else []) + [
            self.prefix + c for c in self.coefs
        ]


@dataclass(frozen=True)
class GroupBlock:
    """One block of group-level terms: per level, a vector of coefficients, correlated or not.
    A ``(terms | g)`` term is a block; terms that share brms's ID (``(1 | p | g)``), in one
    formula or several, are one block, each column feeding its own predictor."""

    id: int
    group: str  # "Subject", or "a:b" for an interaction of factors
    terms: list[str]  # brms's names: "Intercept", "Days", "sigma_Intercept", ...
    levels: list[str]
    J: np.ndarray  # 1-based level of each row
    Z: np.ndarray  # rows x terms
    correlated: bool
    dpars: tuple[str, ...] = ()  # the predictor each term feeds; empty: all mu's
    label: str | None = None  # brms's ID, as written
    # the formula terms it is made of, in column order: (predictor, term, its number of columns)
    members: tuple[tuple[str, GroupTerm, int], ...] = ()
    # its mo() terms' labels (``mox``), its last columns: their predictor is the population term's
    # mo(simo, x), a function of the draws, so Z holds a placeholder 1 for each and Stan's Z_k
    # leaves them out (brms's type "sp" group-level terms)
    monotonic: tuple[str, ...] = ()

    @property
    def stan_Z(self) -> np.ndarray:
        """Z without the mo() columns: the predictors of the columns that have data."""
        return self.Z[:, : len(self.terms) - len(self.monotonic)]

    @property
    def has_cor(self) -> bool:
        return self.correlated and len(self.terms) > 1

    def dpar_of(self, k: int) -> str:
        return self.dpars[k] if self.dpars else "mu"

    @property
    def feeds(self) -> list[str]:
        """The predictors the block's terms feed, in the block's order."""
        return list(dict.fromkeys(self.dpar_of(k) for k in range(len(self.terms))))

    def columns(self, dpar: str) -> list[int]:
        """The block's columns (from 0) that feed ``dpar``'s predictor."""
        return [k for k in range(len(self.terms)) if self.dpar_of(k) == dpar]

    def term_name(self, k: int) -> str:
        """Term k as its own predictor names it: ``Intercept`` for ``sigma_Intercept``."""
        dpar = self.dpar_of(k)
        return self.terms[k] if dpar == "mu" else self.terms[k][len(dpar) + 1 :]

    @property
    def mu_only(self) -> bool:
        return self.feeds == ["mu"]

    @property
    def intercept(self) -> bool:
        """Does its first term, mu's, have the predictor 1 (an intercept of mu)?"""
        return self.terms[0] == "Intercept"


@dataclass(frozen=True)
class Design:
    formulas: ModelFormula
    family: FamilyChoice
    response: Response
    predictors: dict[str, Predictor]  # mu's first, then each parameter's with a formula
    blocks: list[GroupBlock]
    # mu's cs() terms (mixfit/model/terms/category_specific.py), or None
    category_specific: category_specific.CategorySpecific | None = None
    autocor: autocor_term.Autocor | None = None  # ar(), ma(), arma(), cosy() (terms/autocor.py)

    @property
    def formula(self) -> ParsedFormula:
        """The mean's formula, which has the response."""
        return self.formulas.mu

    @property
    def mu(self) -> Predictor:
        """mu's predictor; a categorical model has none but one per category, and the first
        category's stands in for it (they share the formula unless given their own)."""
        return self.predictors.get("mu") or next(iter(self.predictors.values()))

    @property
    def params(self) -> tuple[FamilyParam, ...]:
        """The family's parameters the model estimates (se() without sigma = TRUE has no sigma)."""
        return free_params(self.family.family, self.formula.additions.sigma_fixed)

    @property
    def dpars(self) -> list[str]:
        """The distributional parameters that have a formula (``sigma``, ``zi``, ...)."""
        return [d for d in self.predictors if d != "mu"]

    # the mean's predictor, which most of the model is about
    @property
    def has_intercept(self) -> bool:
        return self.mu.has_intercept

    @property
    def X(self) -> np.ndarray:
        return self.mu.X

    @property
    def coefs(self) -> list[str]:
        return self.mu.coefs

    @property
    def offset(self) -> np.ndarray | None:
        return self.mu.offset

    @property
    def terms(self) -> dict[str, list[str]]:
        return self.mu.terms

    @property
    def n(self) -> int:
        return len(self.response.values)

    @property
    def fixef_names(self) -> list[str]:
        """brms's order: every predictor's intercept, then every predictor's coefficients (its
        smooths' unpenalised ones after its own)."""
        intercepts = [p.intercept_name for p in self.predictors.values() if p.has_intercept]
        coefs = [
            p.prefix + c
            for p in self.predictors.values()
            for c in p.coefs + p.smooth_coefs + p.monotonic_coefs
        ]
        return intercepts + coefs


def _as_model_formula(formula: ParsedFormula | ModelFormula) -> ModelFormula:
    return formula if isinstance(formula, ModelFormula) else ModelFormula(formula)


def columns_used(formula: ParsedFormula | ModelFormula, monotonic_terms: bool = True) -> list[str]:
    """Every data column the formulas refer to, in first-seen order (``monotonic_terms=False``:
    but the ones only mo() terms read)."""
    formulas = _as_model_formula(formula)
    mu = formulas.mu
    names: list[str] = sorted(v for v in _variables(mu.response) if v)
    for part in formulas.parts.values():
        for expression in [part.fixed] + [g.lhs for g in part.groups] + _special_rhs(part):
            names += sorted(v for v in _variables(expression) if v)
        for group in part.groups:
            names += list(group.factors)
    names += mu.additions.columns
    term = autocor_term.term_of(formulas)
    names += term.columns if term else []
    names += [
        c for part in formulas.parts.values() for c in _special_columns(part, monotonic_terms)
    ]
    return list(dict.fromkeys(names))


def _special_columns(formula: ParsedFormula, monotonic_terms: bool = True) -> list[str]:
    """The columns the formula's special terms of a supported kind read."""
    out = [c for t in formula.specials if t.kind == "smooth" for c in smooth.columns_of(t)]
    out += [c for t in formula.specials if t.kind == "gp" for c in gp.columns_of(t)]
    return out + (_monotonic_columns(formula) if monotonic_terms else [])


def _monotonic_columns(formula: ParsedFormula) -> list[str]:
    return [c for t in formula.specials if t.kind == "monotonic" for c in monotonic.columns_of(t)]


def predictor_columns(formula: ParsedFormula | ModelFormula) -> list[str]:
    """The columns read as predictors (or trials): numbers, or a categorical predictor's levels."""
    formulas = _as_model_formula(formula)
    names: set[str] = set()
    for part in formulas.parts.values():
        names |= _variables(part.fixed).union(*(_variables(g.lhs) for g in part.groups))
        names |= set(_special_columns(part))
        names = names.union(*(_variables(e) for e in _special_rhs(part)))
    mu = formulas.mu
    if mu.trials and not _is_number(mu.trials):
        names.add(mu.trials)
    return sorted(names - _variables(mu.response))


def _special_rhs(formula: ParsedFormula) -> list[str]:
    """The special terms' expressions that read data columns as formulae would (cs(z))."""
    terms = _cs_terms(formula)
    return [category_specific.rhs(terms)] if terms else []


def check_factor_flags(formula: ParsedFormula | ModelFormula, factors: Collection[str]) -> None:
    """--factor makes a predictor categorical; a response is never one."""
    response = _variables(_as_model_formula(formula).mu.response)
    for name in factors:
        if name in response:
            raise InputError(
                f"--factor {name!r} names the response: --factor makes a predictor categorical; "
                "for a response of ordered categories use --family cumulative"
            )


def split_levels(
    formula: ParsedFormula | ModelFormula,
    response_levels: Sequence[str],
    column_levels: Sequence[tuple[str, Sequence[str]]],
) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """``--levels COLUMN=...`` as the response's levels (COLUMN is the response) and the orders
    of mo() terms' columns; a column that no mo() term reads, or that other terms read too, is one
    InputError (its order would be ignored, or would have to code another term too)."""
    formulas = _as_model_formula(formula)
    response = formulas.mu.response
    columns = {name: tuple(levels) for name, levels in column_levels}
    if response in columns:
        if response_levels:
            raise InputError(
                f"the levels of the response {response!r} are given twice: with its name and "
                "without; give them once"
            )
        response_levels = columns.pop(response)
    ordered = {c for part in formulas.parts.values() for c in _monotonic_columns(part)}
    others = set(columns_used(formulas, monotonic_terms=False))
    for name in columns:
        if name not in ordered:
            raise InputError(
                f'--levels "{name}=...": {name!r} is neither the response nor the column of a '
                "mo() term (a column's levels order a monotonic predictor, e.g. mo(dose) with "
                '--levels "dose=low,mid,high")'
            )
        if name in others:
            raise InputError(
                f'--levels "{name}=...": {name!r} is read by other terms besides mo({name}); '
                "its order is for the mo() term alone: use a copy of the column for the others"
            )
    return tuple(response_levels), columns


# Past this size a number overflows the sums and squares of the model's arithmetic.
MAX_MAGNITUDE = 1e100


# brms's special terms that formula.py takes out of a formula (special_terms.py) but that no term
# kind of mixfit/model/terms/ builds yet, each with what to write instead
UNSUPPORTED_SPECIALS = {}


def build_design(
    formula: ParsedFormula | ModelFormula,
    family: FamilyChoice,
    frame: pd.DataFrame,
    levels: Mapping[str, Sequence[str]] | None = None,
) -> Design:
    """The model's numbers from the rows; ``levels``: the order of mo() terms' text columns
    (``--levels "dose=low,mid,high"``, checked by ``split_levels``)."""
    formulas = _as_model_formula(formula)
    mu = formulas.mu
    response_name = mu.response
    where = f"formula {shown(mu.text)}"
    addition_terms.check_family(mu.additions, family.family.name, formulas.dpars, where)
    ac_term = autocor_term.term_of(formulas)
    if ac_term is not None:
        autocor_term.check(ac_term, family.family.name, mu.additions, formulas.dpars)
        frame = autocor_term.order_rows(ac_term, frame)  # as prepare() sorted the table
    for dpar, part in formulas.parts.items():
        unsupported = [t for t in part.specials if t.kind in UNSUPPORTED_SPECIALS]
        if unsupported:  # a term kind with no module yet: refused, never dropped unsaid
            term = unsupported[0]
            raise InputError(f"{term.text}: {UNSUPPORTED_SPECIALS[term.kind]}")
        category_specific.check_family(_cs_terms(part), family.family.name, dpar)
        if response_name in _variables(part.fixed) or any(
            response_name in _variables(g.lhs) for g in part.groups
        ):
            raise InputError(f"the response {response_name!r} is also a predictor in the formula")
    if "Intercept" in predictor_columns(formulas):  # formulae merges it with the intercept
        raise InputError(
            "a column named 'Intercept' can't be a predictor (it is the intercept's name): "
            "rename it"
        )
    trials = None
    if mu.trials is not None:
        if _is_number(mu.trials):
            trials = pd.Series(np.full(len(frame), int(mu.trials)))
        else:
            trials = frame[mu.trials]
    response = check_response(family, response_name, _response(mu, frame), trials)
    extra = addition_terms.values(mu.additions, frame, where, response.values)
    response = replace(
        response,
        weights=extra.weights,
        se=extra.se,
        cens=extra.cens,
        y2=extra.y2,
        lb=extra.lb,
        ub=extra.ub,
        denom=extra.denom,
    )
    if family.family.response == "count":
        addition_terms.check_whole_bounds(extra.lb, extra.ub, where)
    _check_finite(f"the response {response_name!r}", response.values, mu.text)
    parts = _category_parts(formulas, response) if family.family.categorical else formulas.parts
    predictors = {
        dpar: _predictor(dpar, _link(family, dpar), part, frame, levels or {})
        for dpar, part in parts.items()
    }
    blocks = _blocks(parts, frame)
    _check_monotonic_groups(blocks, predictors)
    if not mu.additions.sigma_fixed:  # known SEs leave no residual to confound (meta-analysis)
        _check_levels_per_row(blocks, len(frame), family)
    for block in blocks:
        for k, name in enumerate(block.terms):
            _check_finite(f"the {block.group} term {name!r}", block.Z[:, k], mu.text)
    _check_no_duplicate_effects(blocks, mu.text)
    # cs() is mu's (categorical has no mu; check_family refused cs() for it)
    cs = _category_specific(mu, frame, predictors["mu"].coefs) if "mu" in predictors else None
    autocor = autocor_term.build(ac_term, frame) if ac_term is not None else None
    return Design(
        formulas, family, response, predictors, blocks, category_specific=cs, autocor=autocor
    )


def _cs_terms(formula: ParsedFormula) -> list:
    return [t for t in formula.specials if t.kind == "category_specific"]


def _category_specific(
    formula: ParsedFormula, frame: pd.DataFrame, population: list[str]
) -> category_specific.CategorySpecific | None:
    """mu's cs() terms as one matrix, its intercept column dropped (brms's data_cs)."""
    terms = _cs_terms(formula)
    if not terms:
        return None
    rhs = category_specific.rhs(terms)
    matrix = _evaluate(rhs, frame, formula.text).as_dataframe().drop(columns=["Intercept"])
    if not matrix.shape[1]:
        raise InputError(
            f"formula {shown(formula.text)}: {terms[0].text} has no predictor (a category-specific "
            "intercept is the thresholds themselves)"
        )
    for name in matrix.columns:
        _check_finite(f"the category-specific predictor {name!r}", matrix[name], formula.text)
    _check_distinct_names(list(matrix.columns), "category-specific", formula.text)
    coefs = [brms_name(c) for c in matrix.columns]
    shared = sorted(set(coefs) & set(population))
    if shared:
        raise InputError(
            f"formula {shown(formula.text)}: {shared[0]!r} is both a population-level and a "
            "category-specific effect: keep one"
        )
    return category_specific.CategorySpecific(rhs, matrix.to_numpy(dtype=float), coefs)


def _link(family: FamilyChoice, dpar: str) -> str:
    if family.family.categorical:  # mu<cat> enters categorical_logit as it is
        return "identity"
    return family.link if dpar == "mu" else family.family.param(dpar).link


def _category_parts(formulas: ModelFormula, response: Response) -> dict[str, ParsedFormula]:
    """A categorical model's predictors, as brms's: mu<cat> for each category but the first (the
    reference), each with the main formula's terms unless it has a formula of its own
    (``muyes ~ x``)."""
    dpars = category_dpars(response.categories)
    for name, parsed in formulas.dpars.items():
        if name not in dpars:
            raise InputError(
                f"formula {shown(parsed.text)}: family categorical has no parameter {name!r} (its "
                f"predictors, one per category but the reference "
                f"{response.categories[0]!r}: {', '.join(dpars)})"
            )
    return {dpar: formulas.dpars.get(dpar, formulas.mu) for dpar in dpars}


def _predictor(
    dpar: str,
    link: str,
    formula: ParsedFormula,
    frame: pd.DataFrame,
    levels: Mapping[str, Sequence[str]],
) -> Predictor:
    """A predictor's population-level part and offset, from formulae's matrix of its terms, and
    its smooth terms."""
    smooths = smooth.build_terms([t for t in formula.specials if t.kind == "smooth"], frame)
    gps = gp.build_terms([t for t in formula.specials if t.kind == "gp"], frame)
    mo_terms = monotonic.build_terms(
        [t for t in formula.specials if t.kind == "monotonic"], frame, levels
    )
    common = _evaluate(formula.fixed, frame, formula.text)
    # formulae gives no matrix at all for "0" or "-1" alone: a model of group-level terms only
    kinds = {name: term.kind for name, term in common.terms.items()} if common else {}
    matrix = common.as_dataframe() if common else pd.DataFrame(index=frame.index)
    offset_columns = [c for c in matrix.columns if c.startswith("offset(")]
    offset = matrix[offset_columns].sum(axis=1).to_numpy() if offset_columns else None
    has_intercept = kinds.get("Intercept") == "intercept"
    X = matrix.drop(columns=offset_columns + (["Intercept"] if has_intercept else []))
    for name in X.columns:
        _check_finite(f"the predictor {name!r}", X[name], formula.text)
    if offset is not None:
        _check_finite("the offset", offset, formula.text)
    _check_distinct_names(list(X.columns), "population-level", formula.text)
    slices = common.slices if common else {}
    terms = {
        name: [brms_name(c) for c in matrix.columns[where]]
        for name, where in slices.items()
        if name != "Intercept" and not name.startswith("offset(")
    }
    return Predictor(
        dpar=dpar,
        link=link,
        formula=formula,
        has_intercept=has_intercept,
        X=X.to_numpy(dtype=float),
        coefs=[brms_name(c) for c in X.columns],
        offset=offset,
        terms=terms,
        smooths=smooths,
        gps=gps,
        monotonic=mo_terms,
    )


def _blocks(formulas: dict[str, ParsedFormula], frame: pd.DataFrame) -> list[GroupBlock]:
    """Every formula's group-level terms as blocks, numbered in order (the mean's first): one per
    term, except that terms sharing an ID are one block."""
    parts: dict[tuple, list[tuple[str, GroupTerm, GroupBlock]]] = {}
    for dpar, formula in formulas.items():
        for k, term in enumerate(formula.groups):
            key = ("id", term.id) if term.id is not None else ("term", dpar, k)
            block = _group_block(0, term, frame, formula.text)
            prefix = "" if dpar == "mu" else f"{dpar}_"
            block = replace(
                block,
                terms=[prefix + t for t in block.terms],
                dpars=(dpar,) * len(block.terms),
                label=term.id,
                members=((dpar, term, len(block.terms)),),
            )
            parts.setdefault(key, []).append((dpar, term, block))
    blocks = []
    for number, members in enumerate(parts.values(), start=1):
        first = members[0][2]
        for _, term, block in members[1:]:
            if block.group != first.group:
                raise InputError(
                    f"the ID {term.id!r} joins group-level terms of two grouping factors "
                    f"({first.group!r} and {block.group!r}): an ID correlates terms of one "
                    "grouping factor"
                )
            if term.correlated != first.correlated:
                raise InputError(
                    f"the ID {term.id!r} joins correlated and uncorrelated ('||') terms: use one "
                    "kind"
                )
        blocks.append(
            replace(
                first,
                id=number,
                terms=[t for _, _, b in members for t in b.terms],
                dpars=tuple(d for _, _, b in members for d in b.dpars),
                Z=np.column_stack([b.Z for _, _, b in members]),
                members=tuple(m for _, _, b in members for m in b.members),
            )
        )
    return blocks


def _check_monotonic_groups(blocks: list[GroupBlock], predictors: dict[str, Predictor]) -> None:
    """(mo(x) | g) varies the population term's mo(x) (brms's stan_sp): that term must be there.
    Only in mu's formula, in a block of its own (no ID joining it to other terms)."""
    for block in blocks:
        if not block.monotonic:
            continue
        dpar, term, _ = block.members[0]
        text = predictors[dpar].formula.text if dpar in predictors else ""
        written = " + ".join([term.lhs, *(t.text for t in term.monotonic)])
        where = f"formula {shown(text)}: ({written} | {block.group})"
        if dpar != "mu":
            raise InputError(
                f"{where}: monotonic group-level terms are supported in mu's formula only"
            )
        if len(block.members) > 1:
            raise InputError(
                f"{where}: a monotonic group-level term can't share an ID with other terms yet"
            )
        missing = [m for m in block.monotonic if m not in predictors["mu"].monotonic_coefs]
        if missing:
            raise InputError(
                f"{where}: special group-level terms require corresponding population-level "
                f"terms: add mo({missing[0][2:]}) to the population-level terms"
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


def _response(formula: ParsedFormula, frame: pd.DataFrame) -> pd.Series:
    if formula.response in frame.columns:
        return frame[formula.response]
    design = _evaluate(f"{formula.response} ~ 1", frame, formula.text)
    return pd.Series(np.asarray(design.response).ravel(), name=formula.response)


def _group_block(id: int, term, frame: pd.DataFrame, text: str) -> GroupBlock:
    evaluated = _evaluate(term.lhs, frame, text)
    if evaluated is None and not term.monotonic:  # "0" or "-1" alone: nothing else
        raise InputError(
            f"formula {shown(text)}: the group-level term ({term.lhs} | {term.group}) has no terms: "
            f"write (1 | {term.group}) for a varying intercept"
        )
    predictors = (
        evaluated.as_dataframe() if evaluated is not None else pd.DataFrame(index=frame.index)
    )
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
    # mo() terms after the others, as brms orders a term's types ("" before "sp")
    mo = tuple("mo" + monotonic.columns_of(t)[0] for t in term.monotonic)
    placeholders = np.ones((len(frame), len(mo)))
    return GroupBlock(
        id=id,
        group=term.group,
        terms=[brms_name(c) for c in predictors.columns] + list(mo),
        levels=levels,
        J=J.astype(np.int64),
        Z=np.column_stack([predictors.to_numpy(dtype=float), placeholders]),
        correlated=term.correlated,
        monotonic=mo,
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
    except Exception as exc:  # noqa: BLE001 - formulae raises many types; all mean one thing
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"formula {shown(text)}: {message}") from None
    return design.common if "~" not in rhs else design


def _variables(expression: str) -> set[str]:
    try:
        with _quietly():
            return {v for v in formulae.model_description(expression).var_names if v}
    except Exception as exc:  # noqa: BLE001 - formulae raises many types
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"formula term {shown(expression)}: {message}") from None


def _is_number(text: str) -> bool:
    return text.isdigit()

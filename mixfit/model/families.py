"""Response families as a table: each row names its links, its response kind and its own parameters.

Adding a family is adding a row here and a likelihood template ``stan_templates/families/NAME.stan``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mixfit.errors import InputError

STAN_INT_MAX = 2**31 - 1  # Stan's int is 32 bits
MAX_CATEGORIES = 1000  # an ordinal response's categories, min(y)..max(y) for whole numbers


@dataclass(frozen=True)
class FamilyParam:
    """A distributional parameter of the family (sigma, phi, ...), with its own prior."""

    name: str
    lower: float | None
    upper: float | None
    default_prior: str  # "scale": half student_t(3, 0, s) with brms's data-derived s; else a prior
    meaning: str = ""
    link: str = "log"  # brms's default link when the parameter has a formula of its own

    @property
    def intercept_prior(self) -> str:
        """brms 2.18's default prior on the intercept of the parameter's own formula."""
        return "logistic(0, 1)" if self.link == "logit" else "student_t(3, 0, 2.5)"


SIGMA = FamilyParam("sigma", 0.0, None, "scale", "residual standard deviation")
SHAPE = FamilyParam(
    "shape", 0.0, None, "gamma(0.01, 0.01)", "shape: the variance is mu + mu^2 / shape"
)
ZI = FamilyParam("zi", 0.0, 1.0, "beta(1, 1)", "zero-inflation probability", link="logit")
HU = FamilyParam("hu", 0.0, 1.0, "beta(1, 1)", "hurdle probability", link="logit")
WEIBULL_SHAPE = FamilyParam("shape", 0.0, None, "gamma(0.01, 0.01)", "shape parameter")
BINOMIAL_LINKS = ("logit", "probit", "cloglog")  # brms's that mixfit has
PHI = FamilyParam("phi", 0.0, None, "gamma(0.01, 0.01)", "precision")
ZOI = FamilyParam("zoi", 0.0, 1.0, "beta(1, 1)", "zero-one-inflation probability", link="logit")
COI = FamilyParam(
    "coi", 0.0, 1.0, "beta(1, 1)", "conditional one-inflation probability", link="logit"
)


@dataclass(frozen=True)
class Family:
    name: str
    links: tuple[str, ...]  # the first is the default
    # real | positive | unit | binary | count | binomial | ordinal; nonnegative (0 and above),
    # unit_zero ([0, 1)), unit_closed ([0, 1])
    response: str
    params: tuple[FamilyParam, ...] = ()
    scale_link: str | None = None  # the link brms's default prior scales use, if not the family's
    threads: bool = True  # its template has a reduce_sum form (partial_log_lik), for threads

    @property
    def template(self) -> str:
        return f"families/{self.name}.stan"

    def param(self, name: str) -> FamilyParam:
        return next(p for p in self.params if p.name == name)

    @property
    def ordinal(self) -> bool:
        return self.response == "ordinal"


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in [
        Family("gaussian", ("identity",), "real", (SIGMA,)),
        Family(
            "student",
            ("identity",),
            "real",
            (
                SIGMA,
                FamilyParam("nu", 1.0, None, "gamma(2, 0.1)", "degrees of freedom", link="logm1"),
            ),
        ),
        Family("lognormal", ("identity",), "positive", (SIGMA,), scale_link="log"),
        Family("Gamma", ("log",), "positive", (SHAPE,)),
        Family(
            "beta",
            ("logit",),
            "unit",
            (FamilyParam("phi", 0.0, None, "gamma(0.01, 0.01)", "precision"),),
        ),
        Family("bernoulli", ("logit", "probit", "cloglog"), "binary"),
        Family("binomial", ("logit", "probit", "cloglog"), "binomial"),
        Family("poisson", ("log",), "count"),
        Family("negbinomial", ("log",), "count", (SHAPE,)),
        Family("zero_inflated_poisson", ("log",), "count", (ZI,), threads=False),
        Family("zero_inflated_negbinomial", ("log",), "count", (SHAPE, ZI), threads=False),
        Family("cumulative", ("logit", "probit"), "ordinal"),
        Family("sratio", ("logit", "probit", "cloglog"), "ordinal", threads=False),
        Family("cratio", ("logit", "probit", "cloglog"), "ordinal", threads=False),
        Family("acat", ("logit", "probit", "cloglog"), "ordinal", threads=False),
        Family("weibull", ("log",), "positive", (WEIBULL_SHAPE,)),
        Family("exponential", ("log",), "positive"),
        Family("hurdle_poisson", ("log",), "count", (HU,), threads=False),
        Family("hurdle_negbinomial", ("log",), "count", (SHAPE, HU), threads=False),
        Family("zero_inflated_binomial", BINOMIAL_LINKS, "binomial", (ZI,), threads=False),
        Family(
            "beta_binomial",
            BINOMIAL_LINKS,
            "binomial",
            (PHI,),
            threads=False,
        ),
        Family("hurdle_gamma", ("log",), "nonnegative", (SHAPE, HU), threads=False),
        Family(
            "hurdle_lognormal",
            ("identity",),
            "nonnegative",
            (SIGMA, HU),
            scale_link="log",
            threads=False,
        ),
        Family("zero_inflated_beta", ("logit",), "unit_zero", (PHI, ZI), threads=False),
        Family("zero_one_inflated_beta", ("logit",), "unit_closed", (PHI, ZOI, COI), threads=False),
    ]
}

# Stan expressions for the inverse of each link, applied to a linear predictor.
INVERSE_LINKS = {
    "identity": "{}",
    "log": "exp({})",
    "logm1": "1 + exp({})",  # brms's link for student's nu >= 1
    "logit": "inv_logit({})",
    "probit": "Phi({})",
    "cloglog": "inv_cloglog({})",
}


def free_params(family: Family, sigma_fixed: bool) -> tuple[FamilyParam, ...]:
    """The family's parameters a model estimates: without sigma where se() fixes it at 0."""
    return tuple(p for p in family.params if not (sigma_fixed and p.name == "sigma"))


@dataclass(frozen=True)
class FamilyChoice:
    family: Family
    link: str
    levels: tuple[str, ...] = ()  # ordinal families: the categories, lowest first, if given

    def __str__(self) -> str:
        return f"{self.family.name}(link = {self.link})"


def choose_family(spec: str | dict, levels: tuple[str, ...] | list[str] = ()) -> FamilyChoice:
    """Read ``"bernoulli"``, ``"bernoulli(link=probit)"`` or ``{name: bernoulli, link: probit}``.

    ``levels`` orders the categories of an ordinal response (``--levels "low,mid,high"``).
    """
    if isinstance(spec, dict):
        unknown = set(spec) - {"name", "link"}
        if unknown or "name" not in spec:
            raise InputError("family in YAML takes 'name' and optionally 'link'")
        name, link = str(spec["name"]), spec.get("link")
    else:
        match = re.fullmatch(
            r"\s*(\w+)\s*(?:\(\s*(?:link\s*=\s*)?[\"']?(\w*)[\"']?\s*\))?\s*", spec
        )
        if not match:
            raise InputError(f"family {spec!r} is not of the form 'name' or 'name(link=...)'")
        name, link = match.group(1), match.group(2) or None
    by_lower = {key.lower(): f for key, f in FAMILIES.items()}
    family = FAMILIES.get(name) or by_lower.get(name.lower())
    if family is None:
        raise InputError(f"unknown family {name!r} (known: {', '.join(FAMILIES)})")
    link = link or family.links[0]
    if link not in family.links:
        raise InputError(
            f"family {family.name} has no link {link!r} (links: {', '.join(family.links)})"
        )
    levels = tuple(str(v).strip() for v in levels)
    if levels and not family.ordinal:
        raise InputError(f"levels order the categories of an ordinal response, not {family.name}'s")
    if len(set(levels)) != len(levels) or (levels and (len(levels) < 2 or "" in levels)):
        raise InputError(
            f"levels must name at least two distinct categories (got {', '.join(levels)})"
        )
    return FamilyChoice(family, link, levels)


@dataclass(frozen=True)
class Response:
    values: np.ndarray
    trials: np.ndarray | None = None
    note: str | None = None  # e.g. which text level a bernoulli model counts as 1
    categories: tuple[str, ...] = ()  # ordinal: the category of each value 1..K
    weights: np.ndarray | None = None  # weights(w): each row's log-likelihood times its weight
    se: np.ndarray | None = None  # se(s): each row's known standard error
    cens: np.ndarray | None = None  # cens(c): -1 left, 0 none, 1 right, 2 interval censored
    y2: np.ndarray | None = None  # cens(c, y2): an interval's upper end (others: the response)


def check_response(
    choice: FamilyChoice, name: str, column: pd.Series, trials: pd.Series | None
) -> Response:
    """Validate the response for the family and convert it to what Stan expects."""
    response = _convert_response(choice, name, column, trials)
    _check_varies(choice.family, name, response)
    return response


def _check_varies(family: Family, name: str, response: Response) -> None:
    """A response with nothing to explain: one value everywhere, every count zero."""
    values = response.values
    if response.trials is not None:
        if (values == 0).all() or (values == response.trials).all():
            which = "no successes" if (values == 0).all() else "only successes"
            raise InputError(f"response {name!r} has {which} in every row: nothing to model")
        return
    if "hu" in (p.name for p in family.params) and not (values == 0).any():
        raise InputError(
            f"response {name!r} is never 0: a hurdle model's zeros are its own part; with none, "
            f"fit the {'count' if family.response == 'count' else 'rest'} alone "
            f"(--family {family.name.removeprefix('hurdle_')})"
        )
    if family.response == "count" and (values == 0).all():
        raise InputError(f"response {name!r} is zero in every row: all counts are zero")
    if family.response != "count" and len(np.unique(values)) == 1:
        raise InputError(
            f"response {name!r} is constant ({values[0]:g} in every row): nothing to model"
        )


def _convert_response(
    choice: FamilyChoice, name: str, column: pd.Series, trials: pd.Series | None
) -> Response:
    family = choice.family
    kind = family.response
    if kind == "binary":
        return _binary(name, column)
    if kind == "ordinal":
        return _ordinal(family, name, column, choice.levels)
    values = _numeric(family, name, column)
    if kind == "real":
        return Response(values.astype(float))
    if kind in {"positive", "unit"}:
        values = values.astype(float)
        bad = values <= 0 if kind == "positive" else (values <= 0) | (values >= 1)
        if bad.any():
            where = "above 0" if kind == "positive" else "strictly between 0 and 1"
            raise InputError(
                f"response {name!r} must be {where} for family {family.name} "
                f"({int(bad.sum())} rows are not; first: {values[bad][0]:g})"
            )
        return Response(values)
    if kind in BOUNDED:
        return Response(_bounded(family, name, values.astype(float)))
    if kind in {"count", "binomial"}:
        counts = _counts(family, name, values)
        if kind == "count":
            return Response(counts)
        if trials is None:
            bernoulli = np.isin(counts, (0, 1)).all()  # what a brms user meant, most likely
            raise InputError(
                f"family {family.name} needs the number of trials: '{name} | trials(n) ~ ...'"
                + ("; for a 0/1 response use --family bernoulli" if bernoulli else "")
            )
        n = _counts(family, "trials", _numeric(family, "trials", trials))
        over = counts > n
        if over.any():
            row = int(np.flatnonzero(over)[0])
            raise InputError(
                f"response {name!r} exceeds its trials in {int(over.sum())} rows "
                f"(first: {counts[row]} successes of {n[row]} trials)"
            )
        return Response(counts, trials=n)
    raise AssertionError(f"response kind {kind} has no check")


# the continuous responses with a point mass at a bound: (lowest, highest, which of them allowed)
BOUNDED = {
    "nonnegative": (0.0, np.inf, "0 or above"),
    "unit_zero": (0.0, 1.0, "in [0, 1) (0 allowed, 1 not)"),
    "unit_closed": (0.0, 1.0, "in [0, 1]"),
}


def _bounded(family: Family, name: str, values: np.ndarray) -> np.ndarray:
    """A hurdle or zero(-one)-inflated family's response: within its bounds, the ends included
    but zero_inflated_beta's 1 (brms's [0, 1))."""
    low, high, where = BOUNDED[family.response]
    bad = ~(np.isfinite(values) & (values >= low) & (values <= high))
    ones = family.response == "unit_zero" and (values == 1).any()
    if ones:
        bad |= values == 1
    if bad.any():
        hint = "; for 1s use zero_one_inflated_beta" if ones else ""
        raise InputError(
            f"response {name!r} must be {where} for family {family.name} "
            f"({int(bad.sum())} rows are not; first: {values[bad][0]:g}){hint}"
        )
    return values


def _ordinal(family: Family, name: str, column: pd.Series, levels: tuple[str, ...]) -> Response:
    """Categories 1..K: the given levels in order, else every whole number from min to max."""
    if levels:
        text = column.astype(str).str.strip()
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            text = pd.Series([_number_text(v) for v in column], index=column.index)
        unknown = sorted(set(text) - set(levels))
        if unknown:
            raise InputError(
                f"response {name!r} has values not among the levels {', '.join(levels)} "
                f"(found: {', '.join(repr(v) for v in unknown[:5])})"
            )
        values = text.map({level: k + 1 for k, level in enumerate(levels)}).to_numpy()
        return Response(values.astype(np.int64), categories=levels)
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        found = ", ".join(repr(v) for v in sorted(column.astype(str).unique())[:5])
        raise InputError(
            f"response {name!r} is text: give the order of its categories for family "
            f'{family.name}, e.g. --levels "low,mid,high" (found: {found})'
        )
    values = _counts_like(family, name, column.to_numpy())
    low, high = int(values.min()), int(values.max())
    if high - low >= MAX_CATEGORIES:
        raise InputError(
            f"response {name!r} spans {high - low + 1:,} categories ({low} to {high}) for family "
            f"{family.name}: at most {MAX_CATEGORIES:,}"
        )
    if high == low:
        raise InputError(
            f"response {name!r} has a single category ({low}) for family {family.name}"
        )
    categories = tuple(str(v) for v in range(low, high + 1))
    note = None if low == 1 else f"{name}: categories {low}..{high} taken as 1..{high - low + 1}"
    return Response((values - low + 1).astype(np.int64), note=note, categories=categories)


def _number_text(value) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _counts_like(family: Family, name: str, values: np.ndarray) -> np.ndarray:
    outside = np.abs(np.asarray(values, dtype=float)) > STAN_INT_MAX
    if outside.any():
        raise InputError(
            f"response {name!r} holds a category too large for Stan's integers (found "
            f"{values[outside][0]:g})"
        )
    fractional = np.asarray(values, dtype=float) % 1 != 0
    if fractional.any():
        raise InputError(
            f"response {name!r} must hold whole numbers (ordered categories) for family "
            f"{family.name} (found {values[fractional][0]:g})"
        )
    return np.asarray(values).astype(np.int64)


def _numeric(family: Family, name: str, column: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(column):
        return column.to_numpy().astype(int)
    if not pd.api.types.is_numeric_dtype(column):
        text = column.astype(str)
        failed = list(dict.fromkeys(text[pd.to_numeric(text, errors="coerce").isna()]))
        shown = ", ".join(repr(v) for v in failed[:3])
        more = f" and {len(failed) - 3:,} more" if len(failed) > 3 else ""
        what = "trials" if name == "trials" else f"response {name!r}"
        raise InputError(
            f"{what} must be numeric for family {family.name} (found text: {shown}{more})"
        )
    return column.to_numpy()


def _counts(family: Family, name: str, values: np.ndarray) -> np.ndarray:
    too_large = np.asarray(values, dtype=float) > STAN_INT_MAX
    if too_large.any():
        raise InputError(
            f"{name!r} holds a count too large for Stan's integers (found "
            f"{values[too_large][0]}; at most {STAN_INT_MAX:,})"
        )
    if (values < 0).any():
        raise InputError(
            f"{name!r} must be a non-negative count for family {family.name} "
            f"(found {values[values < 0][0]:g})"
        )
    if (np.asarray(values, dtype=float) % 1 != 0).any():
        bad = values[np.asarray(values, dtype=float) % 1 != 0][0]
        raise InputError(
            f"{name!r} must hold whole numbers for family {family.name} (found {bad:g})"
        )
    return np.asarray(values).astype(np.int64)


def _binary(name: str, column: pd.Series) -> Response:
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        values = column.to_numpy().astype(float)
        if not np.isin(values, (0.0, 1.0)).all():
            bad = values[~np.isin(values, (0.0, 1.0))][0]
            raise InputError(
                f"response {name!r} must be 0/1 (or a two-level text column) for family "
                f"bernoulli (found {bad:g})"
            )
        return Response(values.astype(np.int64))
    levels = sorted(column.astype(str).unique())
    if len(levels) != 2:
        shown = ", ".join(repr(v) for v in levels[:5])
        raise InputError(
            f"response {name!r} must have exactly two levels for family bernoulli "
            f"(found {len(levels)}: {shown})"
        )
    values = (column.astype(str) == levels[1]).to_numpy().astype(np.int64)
    return Response(values, note=f"{name}: {levels[1]!r} taken as 1, {levels[0]!r} as 0")

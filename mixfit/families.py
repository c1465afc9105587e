"""Response families as a table: each row names its links, its response kind and its own parameters.

Adding a family is adding a row here and a likelihood template ``stan_templates/families/NAME.stan``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mixfit.errors import InputError


@dataclass(frozen=True)
class FamilyParam:
    """A distributional parameter of the family (sigma, phi, ...), with its own prior."""

    name: str
    lower: float | None
    upper: float | None
    default_prior: str  # "scale": half student_t(3, 0, s) with brms's data-derived s


@dataclass(frozen=True)
class Family:
    name: str
    links: tuple[str, ...]  # the first is the default
    response: str  # real | binary | count | binomial
    params: tuple[FamilyParam, ...] = ()

    @property
    def template(self) -> str:
        return f"families/{self.name}.stan"


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in [
        Family("gaussian", ("identity",), "real", (FamilyParam("sigma", 0.0, None, "scale"),)),
        Family("bernoulli", ("logit",), "binary"),
        Family("binomial", ("logit",), "binomial"),
        Family("poisson", ("log",), "count"),
    ]
}

# Stan expressions for the inverse of each link, applied to a linear predictor.
INVERSE_LINKS = {
    "identity": "{}",
    "log": "exp({})",
    "logit": "inv_logit({})",
    "probit": "Phi({})",
    "cloglog": "inv_cloglog({})",
}


@dataclass(frozen=True)
class FamilyChoice:
    family: Family
    link: str

    def __str__(self) -> str:
        return f"{self.family.name}(link = {self.link})"


def choose_family(spec: str | dict) -> FamilyChoice:
    """Read ``"bernoulli"``, ``"bernoulli(link=probit)"`` or ``{name: bernoulli, link: probit}``."""
    if isinstance(spec, dict):
        unknown = set(spec) - {"name", "link"}
        if unknown or "name" not in spec:
            raise InputError("family in YAML takes 'name' and optionally 'link'")
        name, link = str(spec["name"]), spec.get("link")
    else:
        match = re.fullmatch(r"\s*(\w+)\s*(?:\(\s*(?:link\s*=\s*)?[\"']?(\w*)[\"']?\s*\))?\s*", spec)
        if not match:
            raise InputError(f"family {spec!r} is not of the form 'name' or 'name(link=...)'")
        name, link = match.group(1), match.group(2) or None
    family = FAMILIES.get(name) or FAMILIES.get(name.lower())
    if family is None:
        raise InputError(f"unknown family {name!r} (known: {', '.join(FAMILIES)})")
    link = link or family.links[0]
    if link not in family.links:
        raise InputError(
            f"family {family.name} has no link {link!r} (links: {', '.join(family.links)})"
        )
    return FamilyChoice(family, link)


@dataclass(frozen=True)
class Response:
    values: np.ndarray
    trials: np.ndarray | None = None
    note: str | None = None  # e.g. which text level a bernoulli model counts as 1


def check_response(
    family: Family, name: str, column: pd.Series, trials: pd.Series | None
) -> Response:
    """Validate the response for the family and convert it to what Stan expects."""
    kind = family.response
    if kind == "binary":
        return _binary(name, column)
    values = _numeric(family, name, column)
    if kind == "real":
        return Response(values.astype(float))
    if kind in {"count", "binomial"}:
        counts = _counts(family, name, values)
        if kind == "count":
            return Response(counts)
        if trials is None:
            raise InputError(
                f"family binomial needs the number of trials: '{name} | trials(n) ~ ...'"
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


def _numeric(family: Family, name: str, column: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(column):
        return column.to_numpy().astype(int)
    if not pd.api.types.is_numeric_dtype(column):
        example = column.iloc[0]
        raise InputError(
            f"response {name!r} must be numeric for family {family.name} (found text such as "
            f"{example!r})"
        )
    return column.to_numpy()


def _counts(family: Family, name: str, values: np.ndarray) -> np.ndarray:
    if (values < 0).any():
        raise InputError(
            f"{name!r} must be a non-negative count for family {family.name} "
            f"(found {values[values < 0][0]:g})"
        )
    if (np.asarray(values, dtype=float) % 1 != 0).any():
        bad = values[np.asarray(values, dtype=float) % 1 != 0][0]
        raise InputError(f"{name!r} must hold whole numbers for family {family.name} (found {bad:g})")
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

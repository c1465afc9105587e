"""brms's addition terms: what follows ``|`` on a formula's left, ``y | trials(n) + weights(w) ~``.

Each term is a call with a column (or, for ``trials``, a whole number) first and brms's named
flags after it; terms are joined by ``+``, each at most once. Which family takes which term is
checked once the family is known (mixfit/model/design.py); the columns' values are checked there
too, before anything is compiled.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mixfit.errors import InputError

# term -> its flags (brms 2.18's defaults: weights are not scaled, se() fixes sigma at 0)
TERMS = {"trials": (), "weights": ("scale",), "se": ("sigma",)}
LOGICAL = {"TRUE": True, "T": True, "FALSE": False, "F": False}
SE_FAMILIES = ("gaussian", "student")


@dataclass(frozen=True)
class Additions:
    """The response's addition terms: a column name (or, for trials, a count) per term given."""

    trials: str | None = None
    weights: str | None = None
    weights_scale: bool = False  # weights(w, scale = TRUE): divided by their mean, as brms
    se: str | None = None
    se_sigma: bool = False  # se(s, sigma = TRUE): a residual SD besides the known SEs

    @property
    def columns(self) -> list[str]:
        """The data columns the terms read."""
        named = [self.weights, self.se]
        if self.trials is not None and not self.trials.isdigit():
            named.insert(0, self.trials)
        return [c for c in named if c is not None]

    @property
    def sigma_fixed(self) -> bool:
        """se() without sigma = TRUE: brms's residual SD is 0, there is no sigma parameter."""
        return self.se is not None and not self.se_sigma


def parse_additions(tail: list, where: str) -> Additions:
    """The tokens after the response's ``|``; ``where`` names the formula in messages."""
    if not tail:
        raise InputError(f"{where}: nothing after '|' in the response (e.g. 'k | trials(n) ~')")
    found: dict[str, object] = {}
    for piece in _split(tail, "PLUS"):
        name, value, flags = _term(piece, where)
        if name in found:
            raise InputError(f"{where}: the addition term {name}() is given twice")
        found[name] = value
        for flag, setting in flags.items():
            found[f"{name}_{flag}"] = setting
    return Additions(**found)


def _term(piece: list, where: str) -> tuple[str, str, dict[str, bool]]:
    if (
        len(piece) < 3
        or piece[0].kind != "IDENTIFIER"
        or piece[1].kind != "LEFT_PAREN"
        or piece[-1].kind != "RIGHT_PAREN"
    ):
        raise InputError(
            f"{where}: after '|' the response takes addition terms such as 'trials(n)' or "
            "'weights(w)', joined by '+'"
        )
    name = piece[0].lexeme
    if name not in TERMS:
        raise InputError(
            f"{where}: unknown addition term {name}() (known: {', '.join(f'{t}()' for t in TERMS)})"
        )
    arguments = _split(piece[2:-1], "COMMA")
    first = arguments[0] if arguments and arguments[0] else []
    if len(first) != 1 or first[0].kind not in {"IDENTIFIER", "BQNAME", "NUMBER"}:
        call = next((t.lexeme for t in first if t.kind == "IDENTIFIER"), None)
        if call is not None and len(first) > 1:
            raise InputError(f"{where}: function {call!r} is not allowed in {name}()")
        what = "a column or a number" if name == "trials" else "a column"
        raise InputError(f"{where}: {name}() takes {what} first, as in {name}(n)")
    token = first[0]
    value = token.lexeme.strip("`")
    if token.kind == "NUMBER" and name != "trials":
        raise InputError(f"{where}: {name}() takes a column, not the number {value}")
    if token.kind == "NUMBER" and (not value.isdigit() or len(value) > 10):
        raise InputError(f"{where}: trials({value}) needs a whole number below 2^31 (or a column)")
    flags: dict[str, bool] = {}
    for argument in arguments[1:]:
        flag, setting = _flag(name, argument, where)
        if flag in flags:
            raise InputError(f"{where}: {name}() is given {flag} twice")
        flags[flag] = setting
    return name, value, flags


def _flag(name: str, argument: list, where: str) -> tuple[str, bool]:
    allowed = TERMS[name]
    kinds = [t.kind for t in argument]
    if (
        kinds != ["IDENTIFIER", "EQUAL", "IDENTIFIER"]
        or argument[0].lexeme not in allowed
        or argument[2].lexeme not in LOGICAL
    ):
        takes = f"takes {' or '.join(f'{a} = TRUE' for a in allowed)}" if allowed else "takes one"
        raise InputError(f"{where}: {name}() {takes} after its column")
    return argument[0].lexeme, LOGICAL[argument[2].lexeme]


def _split(tokens: list, kind: str) -> list[list]:
    """``tokens`` split at the ``kind`` tokens outside brackets."""
    pieces, current, depth = [], [], 0
    for token in tokens:
        depth += {"LEFT_PAREN": 1, "RIGHT_PAREN": -1}.get(token.kind, 0)
        if depth == 0 and token.kind == kind:
            pieces.append(current)
            current = []
        else:
            current.append(token)
    return pieces + [current]


@dataclass(frozen=True)
class AdditionValues:
    """The addition terms' columns as the model reads them, checked."""

    weights: np.ndarray | None = None
    se: np.ndarray | None = None


def check_family(additions: Additions, family: str, dpars: Collection[str], where: str) -> None:
    """Which family takes which term: trials() binomial's, se() gaussian's and student's."""
    if additions.trials is not None and family != "binomial":
        raise InputError(f"{where}: trials() belongs to family binomial, not {family}")
    if additions.se is not None and family not in SE_FAMILIES:
        raise InputError(
            f"{where}: se() (known standard errors) belongs to families "
            f"{' and '.join(SE_FAMILIES)}, not {family}"
        )
    if additions.sigma_fixed and "sigma" in dpars:
        raise InputError(
            f"{where}: se({additions.se}) fixes sigma at 0, as brms does; a formula for sigma "
            f"needs se({additions.se}, sigma = TRUE)"
        )


def values(additions: Additions, frame: pd.DataFrame, where: str) -> AdditionValues:
    """The weights (non-negative; divided by their mean with scale = TRUE) and the standard
    errors (positive), every value present and finite."""
    weights = se = None
    if additions.weights is not None:
        weights = _column(frame, additions.weights, "weights", where)
        if (weights < 0).any():
            raise InputError(
                f"{where}: weights column {additions.weights!r} is negative in "
                f"{int((weights < 0).sum())} rows (first: {weights[weights < 0][0]:g})"
            )
        if not (weights > 0).any():
            raise InputError(f"{where}: weights column {additions.weights!r} is 0 in every row")
        if additions.weights_scale:
            weights = weights / weights.mean()
    if additions.se is not None:
        se = _column(frame, additions.se, "se", where)
        if (se <= 0).any():
            raise InputError(
                f"{where}: se column {additions.se!r} must be above 0 ({int((se <= 0).sum())} "
                f"rows are not; first: {se[se <= 0][0]:g})"
            )
    return AdditionValues(weights, se)


def _column(frame: pd.DataFrame, name: str, term: str, where: str) -> np.ndarray:
    column = frame[name]
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        raise InputError(f"{where}: {term} column {name!r} must be numeric")
    numbers = column.to_numpy(dtype=float)
    if not np.isfinite(numbers).all():
        raise InputError(
            f"{where}: {term} column {name!r} is not finite in "
            f"{int((~np.isfinite(numbers)).sum())} rows"
        )
    return numbers

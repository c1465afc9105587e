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
TERMS = {"trials": (), "weights": ("scale",), "se": ("sigma",), "cens": ()}
LOGICAL = {"TRUE": True, "T": True, "FALSE": False, "F": False}
SE_FAMILIES = ("gaussian", "student")
TRIALS_FAMILIES = ("binomial", "zero_inflated_binomial", "beta_binomial")
CENS_FAMILIES = (
    "gaussian",
    "student",
    "lognormal",
    "weibull",
    "exponential",
)  # those with a CDF in their template
# brms's censoring codes, as numbers or words: -1 left, 0 none, 1 right, 2 interval
CENS_CODES = {"left": -1, "none": 0, "right": 1, "interval": 2}


@dataclass(frozen=True)
class Additions:
    """The response's addition terms: a column name (or, for trials, a count) per term given."""

    trials: str | None = None
    weights: str | None = None
    weights_scale: bool = False  # weights(w, scale = TRUE): divided by their mean, as brms
    se: str | None = None
    se_sigma: bool = False  # se(s, sigma = TRUE): a residual SD besides the known SEs
    cens: str | None = None  # cens(c): each row's censoring, brms's codes
    cens_y2: str | None = None  # cens(c, y2): the upper end of an interval-censored row

    @property
    def columns(self) -> list[str]:
        """The data columns the terms read."""
        named = [self.weights, self.se, self.cens, self.cens_y2]
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
        name, value, second, flags = _term(piece, where)
        if name in found:
            raise InputError(f"{where}: the addition term {name}() is given twice")
        found[name] = value
        if second is not None:
            found[f"{name}_y2"] = second
        for flag, setting in flags.items():
            found[f"{name}_{flag}"] = setting
    return Additions(**found)


def _term(piece: list, where: str) -> tuple[str, str, str | None, dict[str, bool]]:
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
    second = None
    if name == "cens" and len(arguments) > 1:  # cens(c, y2)
        if len(arguments) > 2 or [t.kind for t in arguments[1]] not in (["IDENTIFIER"], ["BQNAME"]):
            raise InputError(
                f"{where}: cens() takes a column of codes and optionally y2: cens(c, y2)"
            )
        second = arguments[1][0].lexeme.strip("`")
        arguments = arguments[:1]
    flags: dict[str, bool] = {}
    for argument in arguments[1:]:
        flag, setting = _flag(name, argument, where)
        if flag in flags:
            raise InputError(f"{where}: {name}() is given {flag} twice")
        flags[flag] = setting
    return name, value, second, flags


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
    cens: np.ndarray | None = None  # -1, 0, 1 or 2 per row
    y2: np.ndarray | None = None  # interval-censored rows' upper ends (others: their response)


def check_family(additions: Additions, family: str, dpars: Collection[str], where: str) -> None:
    """Which family takes which term: trials() the binomial families', se() gaussian's and
    student's."""
    if additions.trials is not None and family not in TRIALS_FAMILIES:
        raise InputError(
            f"{where}: trials() belongs to family {', '.join(TRIALS_FAMILIES[:-1])} or "
            f"{TRIALS_FAMILIES[-1]}, not {family}"
        )
    if additions.se is not None and family not in SE_FAMILIES:
        raise InputError(
            f"{where}: se() (known standard errors) belongs to families "
            f"{' and '.join(SE_FAMILIES)}, not {family}"
        )
    if additions.cens is not None and family not in CENS_FAMILIES:
        raise InputError(
            f"{where}: cens() needs the family's CDF, which families "
            f"{', '.join(CENS_FAMILIES)} have here, not {family}"
        )
    if additions.sigma_fixed and "sigma" in dpars:
        raise InputError(
            f"{where}: se({additions.se}) fixes sigma at 0, as brms does; a formula for sigma "
            f"needs se({additions.se}, sigma = TRUE)"
        )


def values(
    additions: Additions, frame: pd.DataFrame, where: str, y: np.ndarray | None = None
) -> AdditionValues:
    """The weights (non-negative; divided by their mean with scale = TRUE), the standard
    errors (positive) and the censoring (brms's codes; y2 above ``y``, the response, in an
    interval), every value present and finite."""
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
    cens, y2 = _censoring(additions, frame, where, y)
    return AdditionValues(weights, se, cens, y2)


def _censoring(
    additions: Additions, frame: pd.DataFrame, where: str, y: np.ndarray | None
) -> tuple[np.ndarray | None, np.ndarray | None]:
    if additions.cens is None:
        return None, None
    name = additions.cens
    column = frame[name]
    if pd.api.types.is_bool_dtype(column):  # brms: TRUE is right-censored
        codes = column.to_numpy().astype(np.int64)
    elif pd.api.types.is_numeric_dtype(column):
        numbers = column.to_numpy(dtype=float)
        bad = ~np.isin(numbers, list(CENS_CODES.values()))
        if bad.any():
            raise InputError(
                f"{where}: censoring column {name!r} holds {numbers[bad][0]:g}: its codes are "
                "-1 (left), 0 (none), 1 (right) and 2 (interval)"
            )
        codes = numbers.astype(np.int64)
    else:
        text = column.astype(str).str.strip().str.lower()
        unknown = sorted(set(text) - set(CENS_CODES))
        if unknown:
            raise InputError(
                f"{where}: censoring column {name!r} holds {unknown[0]!r}: its codes are left, "
                "none, right and interval (or -1, 0, 1, 2)"
            )
        codes = text.map(CENS_CODES).to_numpy().astype(np.int64)
    interval = codes == 2
    if additions.cens_y2 is None:
        if interval.any():
            raise InputError(
                f"{where}: {int(interval.sum())} rows are interval-censored: their upper ends "
                f"go in cens({name}, y2)"
            )
        return codes, None
    y2 = _column(frame, additions.cens_y2, "y2", where)
    if y is not None:
        below = interval & (y2 <= np.asarray(y, dtype=float))
        if below.any():
            row = int(np.flatnonzero(below)[0])
            raise InputError(
                f"{where}: y2 column {additions.cens_y2!r} is not above the response in "
                f"{int(below.sum())} interval-censored rows (first: {y2[row]:g} against "
                f"{float(y[row]):g})"
            )
        y2 = np.where(interval, y2, y)  # brms's rcens: only the intervals' are read
    return codes, y2


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

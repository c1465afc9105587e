"""R's spellings in a formula, to formulae's, and formulae's column labels back to brms's names.

lme4 and brms users write R; formulae reads Python's arithmetic. Before formulae scans a formula,
``^`` becomes ``**`` (inside I() a power, outside it the interaction power: R's two meanings)
and a number in powers of ten (``1e5``, ``2.5e-3``) is written out. Among its tokens, R's
``poly()``, ``ns()`` and ``bs()`` become mixfit's transforms (transforms.py) with R's arguments
(``raw = TRUE``, ``Boundary.knots = c(0, 10)``). Back from formulae, a column label is named as
brms names R's model-matrix column (``poly(x, 2)[0]``, R's ``poly(x, 2)1``, is ``polyx21``).

Errors are ValueErrors saying what is wrong; formula.py quotes the formula with them.
"""

from __future__ import annotations

import math
import re

import numpy as np
from formulae.token import Token

from mixfit.model.transforms import ARGUMENTS, CALLEES

# Backticked names and quoted strings are left as written.
_QUOTED = re.compile(r"(`[^`]*`?|\"[^\"]*\"?|'[^']*'?)")
_POWER_OF_TEN = re.compile(r"(?<![\w.])(\d+\.?\d*|\.\d+)[eE][+-]?\d+(?![\w.])")
_KNOT_ARGUMENTS = {"knots", "Boundary.knots"}
_FLAG_ARGUMENTS = {"raw", "intercept"}
_CONSTANTS = {"TRUE": True, "FALSE": False, "NULL": None}
_SHORT_LOGICAL = {"T": True, "F": False}  # R's T and F, taken so only as a flag's whole value


def formulae_text(text: str) -> str:
    """``text`` with R's ``^`` and numbers like ``1e5`` as formulae reads them."""
    parts = _QUOTED.split(text)
    for k in range(0, len(parts), 2):  # the even parts are outside quotes
        parts[k] = _POWER_OF_TEN.sub(_written_out, parts[k].replace("^", "**"))
    return "".join(parts)


def _written_out(match: re.Match) -> str:
    value = float(match.group(0))
    if not math.isfinite(value):
        raise ValueError(f"the number {match.group(0)} overflows (a number beyond 1e308)")
    if value.is_integer() and value < 2**53:
        return str(int(value))  # whole, as trials(1e3) needs, and exact
    # the shortest digits that read back as the same double, with a decimal point
    return np.format_float_positional(value, unique=True, trim="0")


def keyword_indices(tokens: list) -> set[int]:
    """Where an R call's named argument (``raw =``, ``Boundary.knots =``) stands: its name and its
    ``=``, which formula.py otherwise refuses."""
    found: set[int] = set()
    for start, end in _r_calls(tokens):
        for argument in _arguments(tokens, start, end):
            if _is_keyword(tokens, argument):
                found.update({argument[0], argument[0] + 1})
    return found


def translate(tokens: list) -> list:
    """R's poly(), ns() and bs() as the transforms formulae calls, their arguments checked; R's
    TRUE, FALSE and NULL (and T, F as a flag) in them as Python's; ``Boundary.knots`` named as Python
    allows."""
    tokens = list(tokens)
    knots_values: set[int] = set()
    for start, end in _r_calls(tokens):
        name = tokens[start].lexeme
        knots, flags = _check_arguments(name, tokens, start, end)
        knots_values |= knots
        tokens[start] = Token("IDENTIFIER", CALLEES[name])
        for i in range(start + 2, end):
            token = tokens[i]
            constants = {**_CONSTANTS, **(_SHORT_LOGICAL if i in flags else {})}
            if token.kind == "IDENTIFIER" and token.lexeme in constants:
                value = constants[token.lexeme]
                tokens[i] = Token("PYTHON_LITERAL", str(value), value)
            elif token.kind == "IDENTIFIER" and token.lexeme == "Boundary.knots":
                tokens[i] = Token("IDENTIFIER", "Boundary_knots")
    for i, token in enumerate(tokens[:-1]):
        if _is_call(tokens, i, "c") and i not in knots_values:
            raise ValueError(
                "c() gives the knots of ns() and bs() (knots = c(3, 6), Boundary.knots = c(0, "
                "10)) and nothing else"
            )
    return tokens


def check_response(lhs: list) -> None:
    """R evaluates a response (``y^2 ~ x`` is y squared); formulae would read the power as an
    interaction power and fit y: a power in the response goes inside I()."""
    depth = 0
    for token in lhs:
        depth += {"LEFT_PAREN": 1, "RIGHT_PAREN": -1}.get(token.kind, 0)
        if depth == 0 and token.kind == "STAR_STAR":
            raise ValueError("a power of the response goes inside I(): I(y^2) ~ ...")


def _check_arguments(name: str, tokens: list, start: int, end: int) -> tuple[set[int], set[int]]:
    """The arguments of one R call, against R's names; returns where its knots' c() stand and
    where a flag's value is one name (T, F)."""
    arguments = _arguments(tokens, start, end)
    if not arguments or not arguments[0] or _is_keyword(tokens, arguments[0]):
        raise ValueError(f"{name}() takes a variable first: {name}(x, ...)")
    allowed = ARGUMENTS[name]
    positional = 1 if name == "poly" else len(allowed)  # R's poly() reads one: the degree
    given: list[str] = []
    named = False
    knots_values: set[int] = set()
    flags: set[int] = set()
    for k, argument in enumerate(arguments[1:]):
        if not argument:
            raise ValueError(f"{name}() has an empty argument")
        if _is_keyword(tokens, argument):
            keyword, value, named = tokens[argument[0]].lexeme, argument[2:], True
            if keyword not in allowed:
                raise ValueError(
                    f"{name}() has no argument {keyword!r} (its arguments: x, {', '.join(allowed)})"
                )
        elif named:
            raise ValueError(f"{name}(): an argument without a name follows a named one")
        elif k >= positional:
            raise ValueError(
                f"{name}() of more than one variable is not supported"
                if name == "poly"
                else f"{name}() takes at most {len(allowed)} arguments after x"
            )
        else:
            keyword, value = allowed[k], argument
        if keyword in given:
            raise ValueError(f"{name}() is given {keyword!r} twice")
        given.append(keyword)
        if keyword in _KNOT_ARGUMENTS and value and _is_call(tokens, value[0], "c"):
            knots_values.add(value[0])
        if keyword in _FLAG_ARGUMENTS and len(value) == 1:
            flags.add(value[0])
    return knots_values, flags


def _r_calls(tokens: list) -> list[tuple[int, int]]:
    """(name, closing parenthesis) of each poly(), ns() and bs() call, outermost first."""
    return [
        (i, _closing(tokens, i + 1))
        for i in range(len(tokens) - 1)
        if any(_is_call(tokens, i, name) for name in CALLEES)
    ]


def _arguments(tokens: list, start: int, end: int) -> list[list[int]]:
    """The token positions of each argument of the call at ``start`` (``end``: its ')')."""
    arguments: list[list[int]] = [[]]
    depth = 0
    for i in range(start + 2, end):
        kind = tokens[i].kind
        depth += {"LEFT_PAREN": 1, "RIGHT_PAREN": -1, "LEFT_BRACE": 1, "RIGHT_BRACE": -1}.get(
            kind, 0
        )
        if depth == 0 and kind == "COMMA":
            arguments.append([])
        else:
            arguments[-1].append(i)
    return [] if arguments == [[]] else arguments


def _is_keyword(tokens: list, argument: list[int]) -> bool:
    return (
        len(argument) >= 2
        and tokens[argument[0]].kind == "IDENTIFIER"
        and tokens[argument[1]].kind == "EQUAL"
    )


def _is_call(tokens: list, i: int, name: str) -> bool:
    return (
        tokens[i].kind == "IDENTIFIER"
        and tokens[i].lexeme == name
        and i + 1 < len(tokens)
        and tokens[i + 1].kind == "LEFT_PAREN"
    )


def _closing(tokens: list, opening: int) -> int:
    depth = 0
    for j in range(opening, len(tokens)):
        depth += {"LEFT_PAREN": 1, "RIGHT_PAREN": -1}.get(tokens[j].kind, 0)
        if depth == 0:
            return j
    return len(tokens) - 1  # formula.py checked the balance already


# brms's rename(): these characters of R's column names dropped or spelled out, in this order.
BRMS_RENAMES = [(c, "") for c in " ()[],\"'?"] + [
    ("+", "P"),
    ("-", "M"),
    ("*", "MU"),
    ("/", "D"),
    ("^", "E"),
    ("=", "EQ"),
    ("$", "USD"),
]
_INNER_BRACKETS = re.compile(r"(\[[^\[\]]*\])")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d*)?(?:e[+-]?\d+)?(?![\w.])")
_INTERNAL_CALL = re.compile(r"\b(" + "|".join(CALLEES.values()) + r")\(")
_R_NAMES = {internal: name for name, internal in CALLEES.items()}


def brms_name(label: str) -> str:
    """formulae's column label as brms names R's column: ``period[2]`` is ``period2``,
    ``zBase:Trt[1]`` ``zBase:Trt1``, ``I(x ** 2)`` (R's ``I(x^2)``) ``IxE2``, ``I(x * 100000)``
    (R's ``I(x * 1e+05)``) ``IxMU1eP05``, ``poly(x, 2)[0]`` (R's ``poly(x, 2)1``) ``polyx21``."""
    name = _r_label(label)
    for character, replacement in BRMS_RENAMES:
        name = name.replace(character, replacement)
    return name


def _r_label(label: str) -> str:
    """The label as R's model.matrix writes the column, but for spaces (brms drops them)."""
    label = _number_columns(label)
    parts = _INNER_BRACKETS.split(label)
    for k in range(0, len(parts), 2):  # outside [levels]
        parts[k] = _NUMBER.sub(lambda m: r_number(float(m.group(0))), r_spelling(parts[k]))
    return "".join(parts)


def r_spelling(text: str) -> str:
    """Formula text as formulae reads it (``R_poly(x, 2, raw = True)``, ``I(x ** 2)``), as R
    writes it again: how design.json's formulas are checked by the parser a user's formula meets."""
    text = _INTERNAL_CALL.sub(lambda m: _R_NAMES[m.group(1)] + "(", text)
    text = text.replace("Boundary_knots", "Boundary.knots").replace("**", "^")
    for python, r in (("True", "TRUE"), ("False", "FALSE"), ("None", "NULL")):
        text = re.sub(rf"\b{python}\b", r, text)
    return text


def _number_columns(label: str) -> str:
    """formulae numbers a basis's columns [0], [1], ...; R numbers them 1, 2, ..."""
    for match in reversed(list(_INTERNAL_CALL.finditer(label))):
        depth, end = 0, None
        for j in range(match.end() - 1, len(label)):
            depth += {"(": 1, ")": -1}.get(label[j], 0)
            if depth == 0:
                end = j
                break
        column = re.match(r"\[(\d+)\]", label[end + 1 :]) if end is not None else None
        if column:
            stop = end + 1 + column.end()
            label = f"{label[: end + 1]}{int(column.group(1)) + 1}{label[stop:]}"
    return label


def r_number(value: float) -> str:
    """A number as R's deparse writes it: 15 significant digits, fixed notation unless the
    scientific one is shorter (1e+05, 0.0025, 1e-04, 123456)."""
    if value == 0:
        return "0"
    mantissa, exponent = f"{value:.14e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    power = int(exponent)
    significant = len(mantissa.lstrip("-").replace(".", ""))
    scientific = f"{mantissa}e{'+' if power >= 0 else '-'}{abs(power):02d}"
    fixed = f"{value:.{max(0, significant - power - 1)}f}"
    return fixed if len(fixed) <= len(scientific) else scientific

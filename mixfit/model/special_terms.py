"""brms's special terms in a formula: ``s(x, k = 5)``, ``t2(x, z)``, ``gp(x)``, ``mo(x)``,
``ar(time = t, gr = g)``, ... Each is a term kind of its own (mixfit/model/terms/), built from the
data by its module rather than by formulae, so it is taken out of the formula's tokens before the
rest is checked and handed to formulae.

A special term stands alone among the right-hand side's terms (joined by ``+``), as brms writes
them; its arguments are kept as written, each read on demand as a column name, a number, a string,
a logical or a vector of those (``c(5, 5)``) — never evaluated as code.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass

from mixfit.errors import InputError

# The calls that are term kinds of their own, and the term kind each belongs to: a call listed
# here whose kind has no module yet (mixfit/model/terms/) is refused, naming what is supported.
SPECIAL_CALLS = {
    "s": "smooth",
    "t2": "smooth",
    "gp": "gp",
    "mo": "monotonic",
    "ar": "autocor",
    "ma": "autocor",
    "arma": "autocor",
    "cosy": "autocor",
    "cs": "category_specific",
}
VALUE_TOKENS = {
    "IDENTIFIER",
    "BQNAME",
    "NUMBER",
    "STRING",
    "PLUS",
    "MINUS",
    "STAR",
    "SLASH",
    "STAR_STAR",
    "LEFT_PAREN",
    "RIGHT_PAREN",
    "COMMA",
}


@dataclass(frozen=True)
class Argument:
    """One argument of a special term as written: its tokens' kinds and text."""

    kinds: tuple[str, ...]
    lexemes: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.lexemes)


@dataclass(frozen=True)
class SpecialTerm:
    call: str  # "s"
    positional: tuple[Argument, ...]
    keywords: tuple[tuple[str, Argument], ...]
    text: str  # the term as written, for messages

    @property
    def kind(self) -> str:
        return SPECIAL_CALLS[self.call]

    def keyword(self, name: str) -> Argument | None:
        return next((a for k, a in self.keywords if k == name), None)

    def check_keywords(self, allowed: set[str]) -> None:
        unknown = [k for k, _ in self.keywords if k not in allowed]
        if unknown:
            raise InputError(
                f"{self.text}: unknown argument {unknown[0]!r} of {self.call}() (it takes "
                f"{', '.join(sorted(allowed)) or 'none'})"
            )

    def column(self, argument: Argument) -> str:
        """A column name: a plain name or a name in backticks."""
        if len(argument.kinds) == 1 and argument.kinds[0] in {"IDENTIFIER", "BQNAME"}:
            lexeme = argument.lexemes[0]
            name = lexeme[1:-1] if argument.kinds[0] == "BQNAME" else lexeme
            if name not in {"TRUE", "FALSE", "NA", "NULL"}:
                return name
        raise InputError(f"{self.text}: {argument.text!r} must be a column of the data")

    def number(self, argument: Argument) -> float:
        """A number, or arithmetic on numbers alone (5/4), worked out in floating point."""
        if any(k in {"IDENTIFIER", "BQNAME", "STRING"} for k in argument.kinds):
            raise InputError(f"{self.text}: {argument.text!r} must be a number")
        try:
            value = _constant(ast.parse(argument.text, mode="eval").body)
        except (SyntaxError, ValueError, OverflowError, ZeroDivisionError, RecursionError):
            value = None
        if value is None or not math.isfinite(value):
            raise InputError(f"{self.text}: {argument.text!r} must be a finite number")
        return value

    def whole(self, argument: Argument, low: int = 1) -> int:
        value = self.number(argument)
        if value != int(value) or value < low:
            raise InputError(f"{self.text}: {argument.text!r} must be a whole number >= {low}")
        return int(value)

    def string(self, argument: Argument) -> str:
        if argument.kinds == ("STRING",):
            return argument.lexemes[0][1:-1]
        if argument.kinds == ("IDENTIFIER",):  # bs = cr, as R would not take it, but clear
            return argument.lexemes[0]
        raise InputError(f'{self.text}: {argument.text!r} must be a string, e.g. "cr"')

    def logical(self, argument: Argument) -> bool:
        if argument.kinds == ("IDENTIFIER",) and argument.lexemes[0] in {"TRUE", "FALSE", "T", "F"}:
            return argument.lexemes[0] in {"TRUE", "T"}
        raise InputError(f"{self.text}: {argument.text!r} must be TRUE or FALSE")

    def vector(self, argument: Argument) -> list[Argument]:
        """``c(a, b)`` as its elements; anything else as one."""
        if argument.lexemes[:2] == ("c", "(") and argument.lexemes[-1] == ")":
            return _split(list(zip(argument.kinds[2:-1], argument.lexemes[2:-1])))
        return [argument]


def take_specials(rhs: list, text: str) -> tuple[list, list[SpecialTerm]]:
    """The right-hand side's tokens without its special terms, and those terms."""
    kept: list = []
    specials: list[SpecialTerm] = []
    depth, i = 0, 0
    while i < len(rhs):
        token = rhs[i]
        is_call = (
            depth == 0
            and token.kind == "IDENTIFIER"
            and token.lexeme in SPECIAL_CALLS
            and i + 1 < len(rhs)
            and rhs[i + 1].kind == "LEFT_PAREN"
        )
        if not is_call:
            depth += {"LEFT_PAREN": 1, "RIGHT_PAREN": -1}.get(token.kind, 0)
            kept.append(token)
            i += 1
            continue
        end = _closing(rhs, i + 1)
        before = kept[-1].kind if kept else "START"
        after = rhs[end + 1].kind if end + 1 < len(rhs) else "END"
        written = _written(rhs[i : end + 1])
        if before not in {"START", "PLUS"} or after not in {"END", "PLUS", "EOF"}:
            raise InputError(
                f"formula {text!r}: {written} is a term of its own, joined to the others with '+' "
                "(not part of an interaction or an expression)"
            )
        specials.append(_special(token.lexeme, rhs[i + 2 : end], written, text))
        if before == "PLUS":
            kept.pop()
        elif after == "PLUS":
            end += 1
        i = end + 1
    return kept, specials


def _special(call: str, inner: list, written: str, text: str) -> SpecialTerm:
    positional, keywords = [], []
    for argument in _split([(t.kind, t.lexeme) for t in inner]):
        if len(argument.kinds) > 2 and argument.kinds[:2] == ("IDENTIFIER", "EQUAL"):
            name, value = argument.lexemes[0], Argument(argument.kinds[2:], argument.lexemes[2:])
            if any(k == name for k, _ in keywords):
                raise InputError(f"formula {text!r}: {written} gives {name!r} twice")
            keywords.append((name, value))
        elif keywords:
            raise InputError(
                f"formula {text!r}: in {written}, unnamed arguments come before named ones"
            )
        else:
            positional.append(argument)
    for argument in positional + [a for _, a in keywords]:
        bad = [
            lexeme
            for kind, lexeme in zip(argument.kinds, argument.lexemes)
            if kind not in VALUE_TOKENS
        ]
        if bad or not argument.kinds:
            raise InputError(
                f"formula {text!r}: {written} has an argument that is not a column, number, "
                f"string or c(...) ({argument.text or 'empty'!r})"
            )
    return SpecialTerm(call, tuple(positional), tuple(keywords), written)


def _split(pairs: list[tuple[str, str]]) -> list[Argument]:
    """Arguments at the commas outside brackets."""
    parts, current, depth = [], [], 0
    for kind, lexeme in pairs:
        if kind == "COMMA" and depth == 0:
            parts.append(current)
            current = []
            continue
        depth += {"LEFT_PAREN": 1, "RIGHT_PAREN": -1}.get(kind, 0)
        current.append((kind, lexeme))
    if current or parts:
        parts.append(current)
    return [Argument(tuple(k for k, _ in p), tuple(x for _, x in p)) for p in parts]


def _closing(tokens: list, start: int) -> int:
    depth = 0
    for j in range(start, len(tokens)):
        depth += {"LEFT_PAREN": 1, "RIGHT_PAREN": -1}.get(tokens[j].kind, 0)
        if depth == 0:
            return j
    raise InputError("unbalanced parentheses")


def _written(tokens: list) -> str:
    text = " ".join(t.lexeme for t in tokens)
    return text.replace("( ", "(").replace(" )", ")").replace(" ,", ",").replace(" (", "(")


def _constant(node: ast.AST) -> float | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _constant(node.operand)
        return None if value is None else (-value if isinstance(node.op, ast.USub) else value)
    if isinstance(node, ast.BinOp):
        left, right = _constant(node.left), _constant(node.right)
        if left is None or right is None:
            return None
        operations = {
            ast.Add: lambda: left + right,
            ast.Sub: lambda: left - right,
            ast.Mult: lambda: left * right,
            ast.Div: lambda: left / right,
            ast.Pow: lambda: left**right,
        }
        operation = operations.get(type(node.op))
        return None if operation is None else float(operation())
    return None

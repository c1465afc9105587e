"""Split an lme4/brms formula into its response, population-level part and group-level terms.

formulae does the parsing and evaluation of every expression; this module only finds the
``( ... | g)`` chunks lme4's ``findbars`` would find, reads the brms response syntax
(``y | trials(n) + weights(w)``: mixfit/model/addition_terms.py), and refuses any call that is
not on a short list before anything runs.
"""

from __future__ import annotations

import ast
import itertools
import math
from dataclasses import dataclass, field

from formulae.scanner import ScanError, Scanner

from mixfit.errors import InputError
from mixfit.model import r_syntax
from mixfit.model.addition_terms import TERMS as ADDITION_TERMS
from mixfit.model.addition_terms import Additions, parse_additions
from mixfit.model.special_terms import SpecialTerm, take_specials

# Calls a formula may contain; formulae would otherwise evaluate any Python callable it can reach.
ALLOWED_CALLS = frozenset(
    {"log", "log1p", "exp", "sqrt", "scale", "center", "I", "C", "factor", "offset"}
    | {"poly", "ns", "bs", "c"}  # R's bases (transforms.py); c() for their knots
)
# Bounds on what a formula may ask of the parser (formulae's is recursive) and of the evaluator.
MAX_CHARS = 20_000
MAX_TOKENS = 2_000
MAX_DEPTH = 32
MAX_POWER = 10  # (a + b + c)**3: interactions up to this order
OPENERS = {"LEFT_PAREN": "RIGHT_PAREN", "LEFT_BRACE": "RIGHT_BRACE"}


@dataclass(frozen=True)
class GroupTerm:
    """One ``(lhs | g)`` chunk: its terms (a formulae right-hand side) and its grouping factor."""

    lhs: str
    factors: tuple[str, ...]  # ("a", "b") for a:b; a/b is expanded into two GroupTerms
    correlated: bool
    # brms's ID, as in (1 | p | g): terms of one grouping factor that share an ID, in any of the
    # model's formulas, are one block with one correlation matrix
    id: str | None = None
    # its mo() terms (brms's type "sp"), taken out of lhs: each a column of the block without a
    # predictor of its own (mixfit/model/terms/monotonic.py)
    monotonic: tuple[SpecialTerm, ...] = ()

    @property
    def group(self) -> str:
        return ":".join(self.factors)


@dataclass(frozen=True)
class ParsedFormula:
    text: str
    response: str
    fixed: str  # a formulae right-hand side
    groups: tuple[GroupTerm, ...]
    specials: tuple[SpecialTerm, ...] = ()  # s(), gp(), mo(), ar(), ...: term kinds of their own
    additions: Additions = field(default_factory=Additions)  # y | trials(n) + weights(w) + se(s)

    @property
    def trials(self) -> str | None:
        """A binomial's trials: a column name or a whole number as written."""
        return self.additions.trials


def shown(text: str) -> str:
    """A formula quoted in a message: in full, or its start when it is long (one line stays short)."""
    return (
        repr(text)
        if len(text) <= 120
        else repr(text[:100]) + f" (and {len(text) - 100:,} more characters)"
    )


def parse_formula(text: str) -> ParsedFormula:
    tokens, specials = _without_specials(_scan(text), text)
    tokens, additions = _without_additions(tokens, text)
    _refuse_unsafe(tokens, text)
    tildes = [i for i, t in enumerate(tokens) if t.kind == "TILDE"]
    if len(tildes) != 1:
        raise InputError(
            f"formula {shown(text)} needs exactly one '~' between response and predictors"
        )
    _check_operators(tokens, text)
    _check_arithmetic(tokens, text)
    lhs, rhs = tokens[: tildes[0]], tokens[tildes[0] + 1 : -1]  # drop EOF
    term = _addition_call(lhs)
    if term is not None:
        raise InputError(
            f"formula {shown(text)}: {term}() is an addition term: it follows the response's "
            f"'|', as in 'y | {term}(...) ~ ...'"
        )
    if not lhs:
        raise InputError(f"formula {shown(text)} has no response before '~'")
    response = _join(lhs)
    if not rhs:
        raise InputError(
            f"formula {shown(text)} has nothing after '~' (use '~ 1' for an intercept only)"
        )
    term = _addition_call(rhs)
    if term == "trials":
        raise InputError(
            f"formula {shown(text)}: trials() belongs in a binomial response: 'k | trials(n) ~ ...'"
        )
    if term is not None:
        raise InputError(
            f"formula {shown(text)}: {term}() is an addition term of the response: "
            f"'y | {term}(...) ~ ...'"
        )
    _check_terms(rhs, text)
    try:
        r_syntax.check_response(lhs)
        rhs = r_syntax.translate(rhs)
    except ValueError as exc:
        raise InputError(f"formula {shown(text)}: {exc}") from None
    fixed_tokens, groups = _split_group_terms(rhs, text)
    fixed = _join(fixed_tokens) or "1"
    return ParsedFormula(text, response, fixed, tuple(groups), tuple(specials), additions)


def _addition_call(tokens: list) -> str | None:
    """The first call of an addition term (``weights(w)``) among ``tokens``: a column of that
    name is a name like any other."""
    for token, after in itertools.pairwise(tokens):
        is_call = token.kind == "IDENTIFIER" and after.kind == "LEFT_PAREN"
        if is_call and token.lexeme in ADDITION_TERMS:
            return token.lexeme
    return None


@dataclass(frozen=True)
class _Token:
    kind: str
    lexeme: str


def _without_specials(tokens: list, text: str) -> tuple[list, list[SpecialTerm]]:
    """The formula's tokens with its special terms taken out of the right-hand side (an intercept
    in their place where nothing else is left: ``y ~ s(x)`` has one, as in brms)."""
    tilde = next((i for i, t in enumerate(tokens) if t.kind == "TILDE"), None)
    if tilde is None:
        return tokens, []
    rhs, end = tokens[tilde + 1 : -1], tokens[-1:]
    kept, specials = take_specials(rhs, text)
    if specials and not kept:
        kept = [_Token("NUMBER", "1")]
    return tokens[: tilde + 1] + kept + end, specials


def _without_additions(tokens: list, text: str) -> tuple[list, Additions]:
    """The formula's tokens without the response's addition terms (``| trials(n) + ...``)."""
    tilde = next((i for i, t in enumerate(tokens) if t.kind == "TILDE"), None)
    if tilde is None:
        return tokens, Additions()
    pipes = _top_level(tokens[:tilde], "PIPE")
    if not pipes:
        return tokens, Additions()
    tail = tokens[pipes[0] + 1 : tilde]
    return tokens[: pipes[0]] + tokens[tilde:], parse_additions(tail, f"formula {shown(text)}")


def _scan(text: str) -> list:
    if not text or not text.strip():
        raise InputError("the formula is empty")
    if len(text) > MAX_CHARS:
        raise InputError(f"the formula is {len(text):,} characters long: at most {MAX_CHARS:,}")
    try:
        python = r_syntax.formulae_text(text)  # R's x^2 and 1e5
    except ValueError as exc:
        raise InputError(f"formula {shown(text)}: {exc}") from None
    try:
        tokens = Scanner(python).scan(add_intercept=False)
    except ScanError as exc:
        raise InputError(f"formula {shown(text)}: {exc}") from None
    except (IndexError, ValueError):  # formulae's scanner trips on an unclosed backtick, say
        raise InputError(
            f"formula {shown(text)} could not be read (check its quotes and brackets)"
        ) from None
    if len(tokens) > MAX_TOKENS:
        raise InputError(
            f"formula {shown(text)} has {len(tokens):,} names, numbers and operators: at most "
            f"{MAX_TOKENS:,}"
        )
    depth = 0
    for token in tokens:
        depth += {"LEFT_PAREN": 1, "RIGHT_PAREN": -1, "LEFT_BRACE": 1, "RIGHT_BRACE": -1}.get(
            token.kind, 0
        )
        if depth < 0:
            raise InputError(f"formula {shown(text)} has a ')' without a matching '('")
        if depth > MAX_DEPTH:
            raise InputError(f"formula {shown(text)} nests brackets more than {MAX_DEPTH} deep")
    if depth:
        raise InputError(f"formula {shown(text)} has unbalanced parentheses")
    return tokens


def _check_operators(tokens: list, text: str) -> None:
    """formulae drops what follows two names in a row (``y ~ x z`` fits ``y ~ x``)."""
    operands = {"IDENTIFIER", "BQNAME", "NUMBER", "PYTHON_LITERAL"}
    for left, right in itertools.pairwise(tokens):
        if (left.kind in operands or left.kind in OPENERS.values()) and (
            right.kind in operands or (right.kind in OPENERS and left.kind != "IDENTIFIER")
        ):
            hint = ""
            if left.kind == "NUMBER" and right.lexeme[:1] in {"e", "E"}:
                hint = " (a number in powers of ten is written like 1e5 or 2.5e-3)"
            raise InputError(
                f"formula {shown(text)} needs an operator between {left.lexeme!r} and "
                f"{right.lexeme!r}{hint}"
            )


def _in_calls(tokens: list) -> list[bool]:
    """For each token, whether it lies inside a call's parentheses or an expression's braces."""
    inside, stack = [], []
    for i, token in enumerate(tokens):
        if token.kind in OPENERS:
            is_call = token.kind == "LEFT_BRACE" or (i > 0 and tokens[i - 1].kind == "IDENTIFIER")
            stack.append(is_call or bool(stack and stack[-1]))
            inside.append(stack[-1])
        elif token.kind in OPENERS.values():
            inside.append(stack.pop() if stack else False)
        else:
            inside.append(bool(stack and stack[-1]))
    return inside


def _check_arithmetic(tokens: list, text: str) -> None:
    """Arithmetic on numbers alone (``10**100000000`` in ``I(x * 10**100000000)``) runs on Python's
    unbounded integers before any column is touched: work it out in floating point first, and
    refuse what overflows there, rather than compute a hundred-million-digit integer."""
    inside = _in_calls(tokens)
    keywords = r_syntax.keyword_indices(tokens)  # "( x , raw = TRUE )" is no Python: drop "raw ="
    start = None
    for i, token in enumerate(tokens):
        if inside[i] and start is None:
            start = i
        if start is not None and (i + 1 == len(tokens) or not inside[i + 1]):
            source = " ".join(
                "_" if t.kind == "BQNAME" else t.lexeme
                for k, t in enumerate(tokens[start : i + 1], start)
                if k not in keywords
            )
            start = None
            try:
                # parsed, never run: _constant folds the numbers alone, in floating point
                tree = ast.parse(source.strip(), mode="eval")
            except (SyntaxError, ValueError, RecursionError):
                continue  # formulae will say what is wrong with it
            try:
                _constant(tree.body)
            except (OverflowError, ZeroDivisionError, ValueError):
                raise InputError(
                    f"formula {shown(text)}: the arithmetic on numbers in it overflows (a result "
                    "beyond 1e308)"
                ) from None


OPERATORS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: a // b,
    ast.Mod: lambda a, b: a % b,
    ast.Pow: lambda a, b: a**b,
}


def _constant(node: ast.AST) -> float | None:
    """The value of an expression of numbers alone, in floating point; None if it uses a column."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return float(node.value)
    if isinstance(node, ast.UnaryOp):
        value = _constant(node.operand)
        return None if value is None else (-value if isinstance(node.op, ast.USub) else value)
    if isinstance(node, ast.BinOp):
        left, right = _constant(node.left), _constant(node.right)
        if left is None or right is None or type(node.op) not in OPERATORS:
            return None
        value = OPERATORS[type(node.op)](left, right)
        if isinstance(value, complex) or not math.isfinite(value):
            raise OverflowError
        return value
    for child in ast.iter_child_nodes(node):
        _constant(child)
    return None


def _check_terms(rhs: list, text: str) -> None:
    """Outside calls, a number is the intercept (0, 1) or an interaction power."""
    for i, (token, inside) in enumerate(zip(rhs, _in_calls(rhs))):
        if inside:
            continue
        before = rhs[i - 1] if i else None
        if token.kind == "STAR_STAR":
            power = rhs[i + 1] if i + 1 < len(rhs) else None
            if before is None or before.kind != "RIGHT_PAREN":
                name = before.lexeme if before is not None else ""
                raise InputError(
                    f"formula {shown(text)}: '{name}**' raises terms to interactions, not a number to "
                    f"a power: write I({name} ** 2) for the square"
                )
            if (
                power is None
                or not power.lexeme.isdigit()
                or not 1 <= int(power.lexeme) <= MAX_POWER
            ):
                raise InputError(
                    f"formula {shown(text)}: an interaction power '(...)**k' takes a whole k from 1 "
                    f"to {MAX_POWER}"
                )
        elif token.kind == "PYTHON_LITERAL":
            raise InputError(f"formula {shown(text)}: {token.lexeme} can't be a term")
        elif (
            token.kind == "NUMBER"
            and token.lexeme not in {"0", "1"}
            and (before is None or before.kind != "STAR_STAR")
        ):
            raise InputError(
                f"formula {shown(text)}: the number {token.lexeme} can't be a term (0 and 1 set "
                "the intercept; arithmetic goes inside I(...))"
            )


def _refuse_unsafe(tokens: list, text: str) -> None:
    keywords = r_syntax.keyword_indices(tokens)  # poly(x, 2, raw = TRUE), r_syntax checks them
    group_mo = _group_level_mo(tokens)
    for i, token in enumerate(tokens):
        if i in keywords or i in group_mo:
            continue
        is_call = i + 1 < len(tokens) and tokens[i + 1].kind == "LEFT_PAREN"
        if token.kind == "IDENTIFIER" and ("." in token.lexeme or token.lexeme.startswith("_")):
            hint = "" if is_call else f" (a column named so goes in backticks: `{token.lexeme}`)"
            raise InputError(
                f"formula {shown(text)}: {token.lexeme!r} is not allowed (no attribute access or "
                f"private names in formulas){hint}"
            )
        if token.kind == "IDENTIFIER" and is_call and token.lexeme in {"cs", "cse"}:
            raise InputError(
                f"formula {shown(text)}: category-specific group-level terms (cs() inside "
                "'( | g)') are not supported yet; cs(x) among the population-level terms is"
            )
        if token.kind == "IDENTIFIER" and is_call and token.lexeme == "mo":
            raise InputError(
                f"formula {shown(text)}: mo() inside another call is not supported; mo(x) is a "
                "population-level term or one of a group-level term's, as in (mo(x) | g)"
            )
        if (
            token.kind == "IDENTIFIER"
            and is_call
            and token.lexeme not in ALLOWED_CALLS | set(ADDITION_TERMS)
        ):
            allowed = ", ".join(sorted(ALLOWED_CALLS))
            raise InputError(
                f"formula {shown(text)}: function {token.lexeme!r} is not allowed (allowed: {allowed})"
            )
        if token.kind in {"STRING", "LEFT_BRACKET", "RIGHT_BRACKET", "EQUAL"}:
            raise InputError(f"formula {shown(text)}: {token.lexeme!r} is not allowed in a formula")


def _group_level_mo(tokens: list) -> set[int]:
    """The mo( calls that stand among a group-level term's terms, before its '|': (1 + mo(x) | g)
    (parentheses one deep, in a chunk with a '|' at its own top level)."""
    found: set[int] = set()
    opened: list[int] = []
    for i, token in enumerate(tokens):
        if token.kind == "LEFT_PAREN":
            opened.append(i)
        elif token.kind == "RIGHT_PAREN" and opened:
            opened.pop()
        elif token.kind == "IDENTIFIER" and token.lexeme == "mo" and len(opened) == 1:
            start = opened[0]
            inner = tokens[start + 1 : _closing(tokens, start)]
            pipes = _top_level(inner, "PIPE")
            if pipes and i < start + 1 + pipes[0]:
                found.add(i)
    return found


def _split_group_terms(rhs: list, text: str) -> tuple[list, list[GroupTerm]]:
    """Take the ``( ... | g)`` chunks out of the right-hand side, leaving the population part."""
    fixed: list = []
    groups: list[GroupTerm] = []
    i = 0
    while i < len(rhs):
        if rhs[i].kind == "LEFT_PAREN":
            end = _closing(rhs, i)
            inner = rhs[i + 1 : end]
            if _top_level(inner, "PIPE"):
                groups.extend(_group_terms(inner, text))
                if fixed and fixed[-1].kind == "PLUS":
                    fixed.pop()
                elif end + 1 < len(rhs) and rhs[end + 1].kind == "PLUS":
                    end += 1
                i = end + 1
                continue
            fixed.extend(rhs[i : end + 1])
            i = end + 1
            continue
        if rhs[i].kind == "PIPE":
            raise InputError(
                f"formula {shown(text)}: a group-level term needs parentheses: '(x | g)'"
            )
        fixed.append(rhs[i])
        i += 1
    return fixed, groups


def _group_terms(inner: list, text: str) -> list[GroupTerm]:
    pipes = _top_level(inner, "PIPE")
    pipe = pipes[0]
    double = pipe + 1 < len(inner) and inner[pipe + 1].kind == "PIPE"
    lhs, rhs = inner[:pipe], inner[pipe + (2 if double else 1) :]
    chunk = f"({_join(inner)})"
    term_id = None
    if not double and len(pipes) > 1:  # (terms | ID | g)
        between = inner[pipe + 1 : pipes[1]]
        if len(between) != 1 or between[0].kind != "IDENTIFIER" or len(pipes) > 2:
            raise InputError(
                f"formula {shown(text)}: in {chunk} an ID between two '|' is one name, as in "
                "(1 | p | g)"
            )
        term_id, rhs = between[0].lexeme, inner[pipes[1] + 1 :]
    if not lhs:
        raise InputError(f"formula {shown(text)}: group-level term {chunk} has nothing before '|'")
    if not rhs:
        raise InputError(f"formula {shown(text)}: group-level term {chunk} has no grouping factor")
    names = rhs[0::2]
    separators = {t.kind for t in rhs[1::2]}
    if any(t.kind not in {"IDENTIFIER", "BQNAME"} for t in names) or (
        not separators <= {"COLON", "SLASH"} or len(separators) > 1 or len(rhs) % 2 == 0
    ):
        raise InputError(
            f"formula {shown(text)}: the grouping factor in {chunk} must be a column, 'a:b' or 'a/b'"
        )
    factors = [t.lexeme[1:-1] if t.kind == "BQNAME" else t.lexeme for t in names]
    repeated = sorted({f for f in factors if factors.count(f) > 1})
    if repeated:
        raise InputError(
            f"formula {shown(text)}: {chunk} names the grouping factor {repeated[0]!r} twice"
        )
    correlated = not double
    lhs, specials = take_specials(lhs, text)
    if any(s.kind != "monotonic" for s in specials):
        raise InputError(
            f"formula {shown(text)}: {chunk}: splines, GPs and other special terms can't be "
            "group-level terms (mo() can)"
        )
    lhs_text = _join(lhs) if lhs else "1"  # (mo(x) | g) has an intercept, as R's ~ mo(x)
    mo = tuple(specials)
    if separators == {"SLASH"}:  # (1 | a/b) means (1 | a) + (1 | a:b)
        return [
            GroupTerm(lhs_text, tuple(factors[: k + 1]), correlated, term_id, mo)
            for k in range(len(factors))
        ]
    return [GroupTerm(lhs_text, tuple(factors), correlated, term_id, mo)]


def _closing(tokens: list, start: int) -> int:
    depth = 0
    for j in range(start, len(tokens)):
        depth += {"LEFT_PAREN": 1, "RIGHT_PAREN": -1}.get(tokens[j].kind, 0)
        if depth == 0:
            return j
    raise InputError("unbalanced parentheses")  # _scan checked the balance already


def _top_level(tokens: list, kind: str) -> list[int]:
    depth, found = 0, []
    for j, token in enumerate(tokens):
        depth += {"LEFT_PAREN": 1, "RIGHT_PAREN": -1, "LEFT_BRACE": 1, "RIGHT_BRACE": -1}.get(
            token.kind, 0
        )
        if depth == 0 and token.kind == kind:
            found.append(j)
    return found


def _join(tokens: list) -> str:
    text = " ".join(t.lexeme for t in tokens)
    for opener in ("(", "{"):
        text = text.replace(f"{opener} ", opener)
    for closer in (")", "}", ","):
        text = text.replace(f" {closer}", closer)
    return text.replace(" (", "(").strip()

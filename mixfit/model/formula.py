"""Split an lme4/brms formula into its response, population-level part and group-level terms.

formulae does the parsing and evaluation of every expression; this module only finds the
``( ... | g)`` chunks lme4's ``findbars`` would find, reads the brms response syntax
(``y | trials(n)``), and refuses any call that is not on a short list before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from formulae.scanner import ScanError, Scanner

from mixfit.errors import InputError

# Calls a formula may contain; formulae would otherwise evaluate any Python callable it can reach.
ALLOWED_CALLS = frozenset(
    {"log", "log1p", "exp", "sqrt", "scale", "center", "I", "C", "factor", "offset"}
)


@dataclass(frozen=True)
class GroupTerm:
    """One ``(lhs | g)`` chunk: its terms (a formulae right-hand side) and its grouping factor."""

    lhs: str
    factors: tuple[str, ...]  # ("a", "b") for a:b; a/b is expanded into two GroupTerms
    correlated: bool

    @property
    def group(self) -> str:
        return ":".join(self.factors)


@dataclass(frozen=True)
class ParsedFormula:
    text: str
    response: str
    trials: str | None  # a column name or an integer literal, for binomial
    fixed: str  # a formulae right-hand side
    groups: tuple[GroupTerm, ...]


def parse_formula(text: str) -> ParsedFormula:
    tokens = _scan(text)
    _refuse_unsafe(tokens, text)
    tildes = [i for i, t in enumerate(tokens) if t.kind == "TILDE"]
    if len(tildes) != 1:
        raise InputError(f"formula {text!r} needs exactly one '~' between response and predictors")
    lhs, rhs = tokens[: tildes[0]], tokens[tildes[0] + 1 : -1]  # drop EOF
    response, trials = _parse_response(lhs, text)
    if not rhs:
        raise InputError(f"formula {text!r} has nothing after '~' (use '~ 1' for an intercept only)")
    fixed_tokens, groups = _split_group_terms(rhs, text)
    fixed = _join(fixed_tokens) or "1"
    return ParsedFormula(text, response, trials, fixed, tuple(groups))


def _scan(text: str) -> list:
    if not text or not text.strip():
        raise InputError("the formula is empty")
    try:
        tokens = Scanner(text).scan(add_intercept=False)
    except ScanError as exc:
        raise InputError(f"formula {text!r}: {exc}") from None
    except (IndexError, ValueError):  # formulae's scanner trips on an unclosed backtick, say
        raise InputError(
            f"formula {text!r} could not be read (check its quotes and brackets)"
        ) from None
    depth = 0
    for token in tokens:
        depth += {"LEFT_PAREN": 1, "RIGHT_PAREN": -1}.get(token.kind, 0)
        if depth < 0:
            raise InputError(f"formula {text!r} has a ')' without a matching '('")
    if depth:
        raise InputError(f"formula {text!r} has unbalanced parentheses")
    return tokens


def _refuse_unsafe(tokens: list, text: str) -> None:
    for i, token in enumerate(tokens):
        if token.kind == "IDENTIFIER" and ("." in token.lexeme or token.lexeme.startswith("_")):
            raise InputError(
                f"formula {text!r}: {token.lexeme!r} is not allowed (no attribute access or "
                "private names in formulas)"
            )
        is_call = i + 1 < len(tokens) and tokens[i + 1].kind == "LEFT_PAREN"
        if token.kind == "IDENTIFIER" and is_call and token.lexeme not in ALLOWED_CALLS | {"trials"}:
            allowed = ", ".join(sorted(ALLOWED_CALLS))
            raise InputError(
                f"formula {text!r}: function {token.lexeme!r} is not allowed (allowed: {allowed})"
            )
        if token.kind in {"STRING", "LEFT_BRACKET", "RIGHT_BRACKET", "EQUAL"}:
            raise InputError(f"formula {text!r}: {token.lexeme!r} is not allowed in a formula")


def _parse_response(lhs: list, text: str) -> tuple[str, str | None]:
    if not lhs:
        raise InputError(f"formula {text!r} has no response before '~'")
    pipes = [i for i, t in enumerate(lhs) if t.kind == "PIPE"]
    if not pipes:
        return _join(lhs), None
    head, tail = lhs[: pipes[0]], lhs[pipes[0] + 1 :]
    kinds = [t.kind for t in tail]
    if kinds != ["IDENTIFIER", "LEFT_PAREN", kinds[2] if len(kinds) > 2 else "", "RIGHT_PAREN"] or (
        tail[0].lexeme != "trials" or tail[2].kind not in {"IDENTIFIER", "NUMBER"}
    ):
        raise InputError(
            f"formula {text!r}: after '|' the response takes 'trials(n)' with a column or a number"
        )
    return _join(head), tail[2].lexeme


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
            raise InputError(f"formula {text!r}: a group-level term needs parentheses: '(x | g)'")
        fixed.append(rhs[i])
        i += 1
    return fixed, groups


def _group_terms(inner: list, text: str) -> list[GroupTerm]:
    pipe = _top_level(inner, "PIPE")[0]
    double = pipe + 1 < len(inner) and inner[pipe + 1].kind == "PIPE"
    lhs, rhs = inner[:pipe], inner[pipe + (2 if double else 1) :]
    chunk = f"({_join(inner)})"
    if not lhs:
        raise InputError(f"formula {text!r}: group-level term {chunk} has nothing before '|'")
    if not rhs:
        raise InputError(f"formula {text!r}: group-level term {chunk} has no grouping factor")
    names = rhs[0::2]
    separators = {t.kind for t in rhs[1::2]}
    if any(t.kind != "IDENTIFIER" for t in names) or not separators <= {"COLON", "SLASH"} or (
        len(separators) > 1 or len(rhs) % 2 == 0
    ):
        raise InputError(
            f"formula {text!r}: the grouping factor in {chunk} must be a column, 'a:b' or 'a/b'"
        )
    factors = [t.lexeme for t in names]
    correlated = not double
    lhs_text = _join(lhs)
    if separators == {"SLASH"}:  # (1 | a/b) means (1 | a) + (1 | a:b)
        return [
            GroupTerm(lhs_text, tuple(factors[: k + 1]), correlated) for k in range(len(factors))
        ]
    return [GroupTerm(lhs_text, tuple(factors), correlated)]


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
        depth += {"LEFT_PAREN": 1, "RIGHT_PAREN": -1}.get(token.kind, 0)
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

"""A prior written as brms writes it, read into a PriorSpec: ``prior(normal(0, 10), class = b)``,
``set_prior("normal(0, 1)", class = "sd", group = "g")``, ``prior_string(...)``, with ``coef =``,
``group =`` and ``dpar =``, values quoted or not, arguments by name or in brms's order.

The text is read as data by a small scanner of R's call syntax; nothing in it is evaluated.
"""

from __future__ import annotations

import re

from mixfit.errors import InputError

CALLS = ("prior", "set_prior", "prior_string")
# brms's prior(prior, class, coef, group, resp, dpar, nlpar, lb, ub, check): positions and names
ARGUMENTS = ("prior", "class", "coef", "group", "resp", "dpar", "nlpar", "lb", "ub", "check")
SUPPORTED = ("prior", "class", "coef", "group", "dpar", "check")
TOKEN = re.compile(
    r"""\s*(?:(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<name>[A-Za-z_.][\w.]*)"""
    r"""|(?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|(?P<punct>[(),=+\-])|(?P<bad>\S))"""
)


def is_brms_prior(text: str) -> bool:
    """Whether ``text`` is written as brms writes priors rather than mixfit's ``DIST : CLASS``:
    a call of prior(), set_prior() or prior_string(), or several combined."""
    return re.match(rf"\s*(?:brms::)?(?:{'|'.join(CALLS)}|c)\s*\(", text) is not None


def parse_brms_prior(text: str) -> dict[str, str]:
    """The call's arguments as text (``prior`` the distribution as mixfit reads it, e.g.
    ``normal(0, 10)``): class, coef, group and dpar, "" where not given."""
    tokens = _tokens(re.sub(r"^\s*brms::", "", text), text)
    call = tokens[0][1]
    if call not in CALLS:  # c(prior(...), prior(...))
        raise InputError(f"prior {text!r}: one prior per --prior (give each its own)")
    if tokens[1:2] != [("punct", "(")]:
        raise InputError(f"prior {text!r} is not a call of {', '.join(CALLS)}")
    arguments, rest = _arguments(tokens[2:], text)
    if rest:
        raise InputError(
            f"prior {text!r}: one prior per --prior (give each its own, not 'prior(...) + ...')"
        )
    matched = _match(arguments, text)
    prior, quoted = matched.get("prior", ("", False))
    if not prior:
        raise InputError(f"prior {text!r} names no distribution: prior(normal(0, 10), class = b)")
    if call != "prior" and not quoted:
        raise InputError(f"prior {text!r}: {call}() takes the distribution in quotes")
    for name, (value, _) in matched.items():
        if name not in SUPPORTED and value not in ("", "NA"):
            raise InputError(f"prior {text!r}: {name} = is not supported by mixfit")
    values = {name: value for name, (value, _) in matched.items()}
    values["class"] = values.get("class") or "b"  # brms's default class
    return {key: values.get(key, "") for key in ("prior", "class", "coef", "group", "dpar")}


def _tokens(body: str, text: str) -> list[tuple[str, str]]:
    tokens = []
    for match in TOKEN.finditer(body):
        kind = match.lastgroup
        if kind == "bad":
            raise InputError(f"prior {text!r}: unexpected {match.group(kind)!r}")
        tokens.append((kind, match.group(kind)))
    return tokens


def _arguments(tokens: list, text: str) -> tuple[list[tuple[str | None, str, bool]], list]:
    """(name or None, value as text, quoted) per argument, up to the call's closing bracket; and
    the tokens after it."""
    arguments, i = [], 0
    if tokens[:1] == [("punct", ")")]:
        return arguments, tokens[1:]
    while True:
        name = None
        if (
            tokens[i : i + 1]
            and tokens[i][0] == "name"
            and tokens[i + 1 : i + 2] == [("punct", "=")]
        ):
            name, i = tokens[i][1], i + 2
        value, quoted, i = _value(tokens, i, text)
        arguments.append((name, value, quoted))
        if i >= len(tokens):
            raise InputError(f"prior {text!r}: a bracket is not closed")
        if tokens[i] == ("punct", ")"):
            return arguments, tokens[i + 1 :]
        if tokens[i] != ("punct", ","):
            raise InputError(f"prior {text!r}: expected ',' or ')' after {value!r}")
        i += 1


def _value(tokens: list, i: int, text: str) -> tuple[str, bool, int]:
    """One argument's value: a string, a name, a number, or a call such as normal(0, 10)."""
    if i >= len(tokens):
        raise InputError(f"prior {text!r}: a bracket is not closed")
    kind, token = tokens[i]
    if kind == "string":
        return re.sub(r"\\(.)", r"\1", token[1:-1]), True, i + 1
    if kind == "number":
        return token, False, i + 1
    if kind != "name":
        raise InputError(f"prior {text!r}: unexpected {token!r}")
    if tokens[i + 1 : i + 2] != [("punct", "(")]:
        return token, False, i + 1
    parts, depth, j = [], 0, i
    while j < len(tokens) - 1:  # the distribution's call as written, its brackets matched
        j += 1
        part = tokens[j][1]
        if tokens[j][0] == "punct":
            depth += {"(": 1, ")": -1}.get(part, 0)
        parts.append(part + (" " if part == "," else ""))
        if depth == 0:
            return token + "".join(parts), False, j + 1
    raise InputError(f"prior {text!r}: a bracket is not closed")


def _match(arguments: list, text: str) -> dict[str, tuple[str, bool]]:
    """Arguments to brms's parameters as R matches them: by name, then the others in order."""
    matched: dict[str, tuple[str, bool]] = {}
    for name, value, quoted in arguments:
        if name is None:
            continue
        if name not in ARGUMENTS:
            raise InputError(
                f"prior {text!r}: unknown argument {name!r} (brms's prior() takes "
                f"{', '.join(SUPPORTED[:5])})"
            )
        if name in matched:
            raise InputError(f"prior {text!r}: {name} is given twice")
        matched[name] = (value, quoted)
    free = iter(a for a in ARGUMENTS if a not in matched)
    for name, value, quoted in arguments:
        if name is None:
            slot = next(free, None)
            if slot is None:
                raise InputError(f"prior {text!r}: too many arguments")
            matched[slot] = (value, quoted)
    return matched

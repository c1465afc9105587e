"""brms's hypothesis(): "Days > 5", "Intercept + 10 * Days > 350", "Subject__Days > 5" with class
sd, on any parameter draws.nc holds.

An expression is read by a small parser of its own: numbers, parameter names, ``+ - * / ^`` and
parentheses, and one ``<``, ``>`` or ``=`` between two sides. Nothing is evaluated as Python. As
in brms, a name is looked up with the class's prefix (class ``b``, the default: ``Days`` is
``b_Days``, ``Intercept[2]`` an ordinal threshold, ``sigma_SexMale`` a distributional
parameter's ``b_sigma_SexMale``; class ``sd``: ``Subject__Days`` is ``sd_Subject__Days``; class
``""``: full names, ``sigma``, ``cor_Subject__Intercept__Days``, ``r_Subject[308,Intercept]``),
and then as written (``b_Days`` with class b). ``left > right`` is tested as
``(left)-(right) > 0`` draw by draw: one-sided hypotheses get the (alpha, 1 - alpha) interval, the
posterior probability and its odds (Evid.Ratio); a two-sided ``=`` gets the (alpha/2,
1 - alpha/2) interval, and (without prior draws) no evidence ratio. Star: the posterior
probability exceeds 1 - alpha (one-sided), or the interval excludes 0 (two-sided).
"""

from __future__ import annotations

import itertools
import re
from typing import Protocol

import numpy as np
import pandas as pd

from mixfit.errors import InputError

COLUMNS = [
    "Hypothesis",
    "Estimate",
    "Est.Error",
    "CI.Lower",
    "CI.Upper",
    "Evid.Ratio",
    "Post.Prob",
    "Star",
]
MAX_CHARS = 10_000  # of one side of an expression
MAX_NESTING = 50  # brackets, powers and signs inside one another
TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
    r"|(?P<name>[A-Za-z_.][A-Za-z0-9_.:]*(?:\[[^\[\]<>=]+\])?)|(?P<op>[-+*/^()<>=]))"
)
LISTED = 6  # an indexed parameter's names are listed in full up to this many, else its pattern


class Draws(Protocol):
    """Parameters' draws by their full names (``b_Days``, ``r_Subject[308,Intercept]``)."""

    def lookup(self, name: str) -> np.ndarray | None: ...

    def names(self) -> list[str]: ...


class NamedDraws:
    """Draws given as a mapping of full names."""

    def __init__(self, draws: dict[str, np.ndarray]):
        self.draws = draws

    def lookup(self, name: str) -> np.ndarray | None:
        return self.draws.get(name)

    def names(self) -> list[str]:
        return list(self.draws)


class PosteriorDraws:
    """draws.nc's posterior: each variable by its name, one with more dimensions than chain and
    draw by brms's ``name[label,label]`` (its coordinates' labels), chains one after another.
    Only the variables an expression names are read."""

    def __init__(self, dataset):
        self.dataset = dataset

    def lookup(self, name: str) -> np.ndarray | None:
        base, labels = name, None
        match = re.fullmatch(r"(.+?)\[(.*)\]", name)
        if match:
            base, labels = match.group(1), match.group(2).split(",")
        if base not in self.dataset.data_vars:
            return None
        variable = self.dataset[base]
        extra = variable.dims[2:]
        if len(extra) != len(labels or []):
            return None
        at = {}
        for dim, label in zip(extra, labels or []):
            known = [str(v) for v in variable[dim].values]
            if label not in known:
                return None
            at[dim] = known.index(label)
        return np.asarray(variable.isel(at).values, dtype=float).reshape(-1)

    def names(self) -> list[str]:
        out = []
        for name, variable in self.dataset.data_vars.items():
            extra = variable.dims[2:]
            if not extra:
                out.append(str(name))
                continue
            labels = [[str(v) for v in variable[d].values] for d in extra]
            if np.prod([len(x) for x in labels]) <= LISTED:
                out += [f"{name}[{','.join(c)}]" for c in itertools.product(*labels)]
            else:
                out.append(f"{name}[{','.join(f'<{d}>' for d in extra)}]")
        return out


def hypothesis(
    text: str, effects: dict[str, np.ndarray] | Draws, alpha: float = 0.05, cls: str = "b"
) -> dict:
    """One row of brms's table; ``effects``: the parameters' draws by full name, a name in the
    expression taken with the prefix of class ``cls`` first."""
    if isinstance(effects, dict):
        effects = NamedDraws(effects)
    compact = re.sub(r"\s+", "", text)
    signs = re.findall(r"[<>=]", compact)
    if len(signs) != 1:
        raise InputError(f"hypothesis {text!r} must be of the form 'left (= or < or >) right'")
    sign = signs[0]
    left, right = compact.split(sign)
    if not left or not right:
        raise InputError(f"hypothesis {text!r} must be of the form 'left (= or < or >) right'")
    name = f"({left})" + (f"-({right})" if right != "0" else "")
    parsed = [_Parser(side, text, effects, cls) for side in (left, right)]
    draws = parsed[0].value() - parsed[1].value()
    sizes = {len(v) for p in parsed for v in p.used}
    if not sizes:
        raise InputError(f"hypothesis {text!r} names no parameter")
    draws = np.broadcast_to(draws, (sizes.pop(),)).astype(float)
    probs = (alpha / 2, 1 - alpha / 2) if sign == "=" else (alpha, 1 - alpha)
    low, high = np.quantile(draws, probs)
    row = {
        "Hypothesis": f"{name} {sign} 0",
        "Estimate": float(draws.mean()),
        "Est.Error": float(draws.std(ddof=1)),
        "CI.Lower": float(low),
        "CI.Upper": float(high),
    }
    if sign == "=":
        return row | {
            "Evid.Ratio": None,
            "Post.Prob": None,
            "Star": "*" if not low <= 0 <= high else "",
        }
    holds = float(np.mean(draws > 0 if sign == ">" else draws < 0))
    ratio = holds / (1 - holds) if holds < 1 else float("inf")
    return row | {"Evid.Ratio": ratio, "Post.Prob": holds, "Star": "*" if holds > 1 - alpha else ""}


def hypotheses(
    texts: list[str], effects: dict[str, np.ndarray] | Draws, alpha: float, cls: str = "b"
) -> pd.DataFrame:
    return pd.DataFrame([hypothesis(t, effects, alpha, cls) for t in texts], columns=COLUMNS)


class _Parser:
    """Recursive descent over: sum := product (('+'|'-') product)*; product := unary
    (('*'|'/') unary)*; unary := ('-'|'+') unary | power; power := atom ('^' unary)?;
    atom := number | name | '(' sum ')'."""

    def __init__(self, side: str, text: str, effects: Draws, cls: str):
        self.text, self.side, self.effects, self.cls = text, side, effects, cls
        self.used: list[np.ndarray] = []
        self.tokens: list[tuple[str, str]] = []
        if len(side) > MAX_CHARS:
            raise InputError(
                f"hypothesis {text[:60]!r}...: at most {MAX_CHARS:,} characters a side"
            )
        self.depth = 0
        position = 0
        while position < len(side):
            match = TOKEN.match(side, position)
            if not match or match.end() == position:
                raise InputError(f"hypothesis {text!r}: can't read {side[position:]!r}")
            kind = match.lastgroup
            self.tokens.append((kind, match.group(kind)))
            position = match.end()
        self.at = 0

    def value(self) -> np.ndarray | float:
        with np.errstate(all="ignore"):  # 10^400 and 1/0 are inf in numpy, checked below
            result = self._sum()
        if self.at != len(self.tokens):
            raise InputError(f"hypothesis {self.text!r}: unexpected {self.tokens[self.at][1]!r}")
        bad = int(np.sum(~np.isfinite(result)))
        if bad:
            raise InputError(
                f"hypothesis {_short(self.text)}: {_short(self.side)} is not a finite number in {bad} "
                f"draw{'s' if bad > 1 else ''} (it overflows or divides by zero)"
            )
        return result

    def _peek(self) -> str | None:
        return self.tokens[self.at][1] if self.at < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        if self.at >= len(self.tokens):
            raise InputError(f"hypothesis {self.text!r}: {self.side!r} is incomplete")
        self.at += 1
        return self.tokens[self.at - 1]

    def _sum(self):
        value = self._product()
        while self._peek() in ("+", "-"):
            op = self._take()[1]
            value = value + self._product() if op == "+" else value - self._product()
        return value

    def _product(self):
        value = self._unary()
        while self._peek() in ("*", "/"):
            op = self._take()[1]
            value = value * self._unary() if op == "*" else value / self._unary()
        return value

    def _unary(self):
        self.depth += 1  # every bracket, power and sign nests here: bound the recursion
        if self.depth > MAX_NESTING:
            raise InputError(f"hypothesis {_short(self.text)} nests more than {MAX_NESTING} deep")
        try:
            return self._signed()
        finally:
            self.depth -= 1

    def _signed(self):
        if self._peek() in ("-", "+"):
            op = self._take()[1]
            return -self._unary() if op == "-" else self._unary()
        return self._power()

    def _power(self):
        value = self._atom()
        if self._peek() == "^":
            self._take()
            value = value ** self._unary()
        return value

    def _atom(self):
        kind, token = self._take()
        if kind == "number":
            return np.float64(token)  # IEEE arithmetic: overflow gives inf, not OverflowError
        if kind == "name":
            return self._effect(token)
        if token == "(":
            value = self._sum()
            if self._peek() != ")":
                raise InputError(f"hypothesis {self.text!r} has unbalanced parentheses")
            self._take()
            return value
        raise InputError(f"hypothesis {self.text!r}: unexpected {token!r}")

    def _effect(self, name: str) -> np.ndarray:
        for full in ([f"{self.cls}_{name}"] if self.cls else []) + [name]:
            draws = self.effects.lookup(full)
            if draws is not None:
                self.used.append(draws)
                return draws
        prefix = f"{self.cls}_" if self.cls else ""
        known = [n[len(prefix) :] for n in self.effects.names() if n.startswith(prefix)]
        listed = ", ".join(known) or "none"
        if self.cls == "b":
            what, among = "a population-level effect", "effects"
        else:
            what, among = f"a parameter of class {self.cls!r}", f"class {self.cls!r}"
        raise InputError(f"hypothesis {self.text!r}: {name!r} is not {what} ({among}: {listed})")


def _short(text: str) -> str:
    """An expression quoted in a message: whole, or its start when long (the line stays short)."""
    return repr(text) if len(text) <= 100 else repr(text[:80]) + f" (and {len(text) - 80} more)"


def hypotheses_text(table: pd.DataFrame, alpha: float, cls: str = "b") -> str:
    """brms's print of a hypothesis object."""
    shown = table.copy()
    for column in COLUMNS[1:-1]:
        shown[column] = shown[column].map(lambda v: "NA" if v is None or pd.isna(v) else f"{v:.2f}")
    shown.index = range(1, len(shown) + 1)
    level = f"{(1 - 2 * alpha) * 100:g}%"
    two_sided = f"{(1 - alpha) * 100:g}%"
    return (
        "\n".join(
            [
                f"Hypothesis Tests for class {cls}:",
                shown.to_string(),
                "---",
                f"'CI': {level}-CI for one-sided and {two_sided}-CI for two-sided hypotheses.",
                f"'*': For one-sided hypotheses, the posterior probability exceeds {two_sided};",
                f"for two-sided hypotheses, the value tested against lies outside the {two_sided}-CI.",
                "Posterior probabilities of point hypotheses assume equal prior probabilities.",
            ]
        )
        + "\n"
    )

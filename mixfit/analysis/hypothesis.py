"""brms's hypothesis() for population-level effects: "Days > 5", "Intercept + 10 * Days > 350".

An expression is read by a small parser of its own: numbers, names of population-level effects
(``Days``, ``zBase:Trt1``, an ordinal threshold ``Intercept[2]``, or with brms's prefix,
``b_Days``), ``+ - * / ^`` and parentheses, and
one ``<``, ``>`` or ``=`` between two sides. Nothing is evaluated as Python. ``left > right`` is
tested as ``(left)-(right) > 0`` draw by draw: one-sided hypotheses get the (alpha, 1 - alpha)
interval, the posterior probability and its odds (Evid.Ratio); a two-sided ``=`` gets the
(alpha/2, 1 - alpha/2) interval, and (without prior draws) no evidence ratio. Star: the posterior
probability exceeds 1 - alpha (one-sided), or the interval excludes 0 (two-sided).
"""

from __future__ import annotations

import re

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
    r"|(?P<name>[A-Za-z_.][A-Za-z0-9_.:]*(?:\[\d+\])?)|(?P<op>[-+*/^()<>=]))"
)


def hypothesis(text: str, effects: dict[str, np.ndarray], alpha: float = 0.05) -> dict:
    """One row of brms's table; ``effects`` maps each population-level effect to its draws."""
    compact = re.sub(r"\s+", "", text)
    signs = re.findall(r"[<>=]", compact)
    if len(signs) != 1:
        raise InputError(f"hypothesis {text!r} must be of the form 'left (= or < or >) right'")
    sign = signs[0]
    left, right = compact.split(sign)
    if not left or not right:
        raise InputError(f"hypothesis {text!r} must be of the form 'left (= or < or >) right'")
    name = f"({left})" + (f"-({right})" if right != "0" else "")
    draws = _Parser(left, text, effects).value() - _Parser(right, text, effects).value()
    draws = np.broadcast_to(draws, next(iter(effects.values())).shape).astype(float)
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


def hypotheses(texts: list[str], effects: dict[str, np.ndarray], alpha: float) -> pd.DataFrame:
    return pd.DataFrame([hypothesis(t, effects, alpha) for t in texts], columns=COLUMNS)


class _Parser:
    """Recursive descent over: sum := product (('+'|'-') product)*; product := unary
    (('*'|'/') unary)*; unary := ('-'|'+') unary | power; power := atom ('^' unary)?;
    atom := number | name | '(' sum ')'."""

    def __init__(self, side: str, text: str, effects: dict[str, np.ndarray]):
        self.text, self.side, self.effects = text, side, effects
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
        if name in self.effects:
            return self.effects[name]
        if name.startswith("b_") and name[2:] in self.effects:
            return self.effects[name[2:]]
        known = ", ".join(self.effects) or "none"
        raise InputError(
            f"hypothesis {self.text!r}: {name!r} is not a population-level effect "
            f"(effects: {known})"
        )


def _short(text: str) -> str:
    """An expression quoted in a message: whole, or its start when long (the line stays short)."""
    return repr(text) if len(text) <= 100 else repr(text[:80]) + f" (and {len(text) - 80} more)"


def population_effects(design: dict, posterior) -> dict[str, np.ndarray]:
    """Each population-level effect's draws, by the name brms's hypothesis() uses."""
    effects = {}
    if posterior.intercept is not None:
        effects["Intercept"] = posterior.intercept
    if posterior.thresholds is not None:
        for k in range(posterior.thresholds.shape[1]):
            effects[f"Intercept[{k + 1}]"] = posterior.thresholds[:, k]
    for i, coef in enumerate(design["population"]["coefs"]):
        effects[coef] = posterior.b[:, i]
    return effects


def hypotheses_text(table: pd.DataFrame, alpha: float) -> str:
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
                "Hypothesis Tests for class b:",
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

"""A model's formulas, as brms's ``bf()``: the first has the response and is the mean's (mu); each
further one has a distributional parameter of the family on its left (``sigma ~ Sex``, ``zi ~ x``).

They come as several ``-f`` flags, a YAML list, or one pasted ``bf(y ~ x, sigma ~ x)``. Each is read
by mixfit/model/formula.py's parser (the same whitelist); this module splits and names them, and
checks the parameters against the family once it is known.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from mixfit.errors import InputError
from mixfit.model.addition_terms import Additions
from mixfit.model.formula import ParsedFormula, parse_formula, shown

BF_CALLS = ("bf", "brmsformula")


@dataclass(frozen=True)
class ModelFormula:
    """The mean's formula and one per distributional parameter that has one."""

    mu: ParsedFormula
    dpars: dict[str, ParsedFormula] = field(default_factory=dict)  # sigma -> "sigma ~ Sex"

    @property
    def texts(self) -> list[str]:
        return [self.mu.text] + [f.text for f in self.dpars.values()]

    @property
    def parts(self) -> dict[str, ParsedFormula]:
        """Every formula by the parameter it predicts, the mean's first."""
        return {"mu": self.mu, **self.dpars}


def parse_formulas(texts: str | Sequence[str]) -> ModelFormula:
    """Read the formulas of one model: ``["y ~ x", "sigma ~ x"]`` or ``"bf(y ~ x, sigma ~ x)"``."""
    texts = [texts] if isinstance(texts, str) else list(texts)
    if not texts:
        raise InputError("no formula given")
    if len(texts) == 1:
        texts = _unpack_bf(texts[0]) or texts
    elif any(_unpack_bf(t) for t in texts):
        raise InputError("bf(...) holds all of a model's formulas: give it alone, as one formula")
    mu = parse_formula(texts[0])
    dpars: dict[str, ParsedFormula] = {}
    for text in texts[1:]:
        parsed = parse_formula(text)
        name = parsed.response
        if parsed.additions != Additions() or not name.isidentifier():
            raise InputError(
                f"formula {shown(text)}: a distributional parameter's formula has the parameter "
                "alone on its left ('sigma ~ x'), with no addition terms"
            )
        if name == mu.response:
            raise InputError(
                f"formula {shown(text)}: a second formula for the response {name!r}; the "
                "formulas after the first model the family's parameters ('sigma ~ x')"
            )
        if name in dpars or name == "mu":
            raise InputError(f"formula {shown(text)}: {name!r} is given a formula twice")
        dpars[name] = parsed
    return ModelFormula(mu, dpars)


def check_dpars(formula: ModelFormula, family_name: str, params: Sequence[str]) -> None:
    """Each parameter with a formula must be one of the family's."""
    for name, parsed in formula.dpars.items():
        if family_name == "categorical" and name.startswith("mu"):
            continue  # mu<cat>: the data's categories name them (mixfit/model/design.py checks)
        if name not in params:
            have = (
                f"its parameters: {', '.join(params)}" if params else "it has no parameter but mu"
            )
            raise InputError(
                f"formula {shown(parsed.text)}: family {family_name} has no parameter {name!r} "
                f"({have})"
            )


def _unpack_bf(text: str) -> list[str] | None:
    """The formulas inside ``bf(...)``, or None if ``text`` is not a bf() call."""
    stripped = text.strip()
    head, _, rest = stripped.partition("(")
    if head.strip() not in BF_CALLS or not rest.endswith(")"):
        return None
    pieces = _top_level_split(rest[:-1])
    if pieces is None:
        return None  # unbalanced: parse_formula says what is wrong with it
    formulas = []
    for piece in pieces:
        if not piece.strip():
            continue
        if "~" not in piece:
            raise InputError(
                f"formula {shown(text)}: bf() options such as {piece.strip()!r} are not "
                "supported; give its formulas only, e.g. bf(y ~ x, sigma ~ x)"
            )
        formulas.append(piece.strip())
    return formulas or None


def _top_level_split(text: str) -> list[str] | None:
    """``text`` split at the commas outside brackets and backticks; None if unbalanced."""
    pieces, depth, quoted, start = [], 0, False, 0
    for i, char in enumerate(text):
        if char == "`":
            quoted = not quoted
        elif quoted:
            continue
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth < 0:
                return None
        elif char == "," and depth == 0:
            pieces.append(text[start:i])
            start = i + 1
    if depth or quoted:
        return None
    return pieces + [text[start:]]

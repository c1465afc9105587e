"""How mixfit words what it counts: "1 chain", "4 chains", never "chain(s)"."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and the noun, singular for exactly one: ``counted(1, "chain")`` is "1 chain"."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def verb(n: int, singular: str, plural: str) -> str:
    """The verb that goes with a count: ``verb(1, "has", "have")`` is "has"."""
    return singular if n == 1 else plural

"""A small declarative schema for the JSON files mixfit reads back, and the one check of it.

A schema is a tree of the classes below, written as a table (mixfit/readback/tables.py): each
node says what a value must be (its type, its size, the text a formula field must parse as).
``check`` walks a value along its schema and raises ``SchemaError`` naming the first place that
does not fit (``population.coefs[2]: must be text``). Every size is bounded, so a hostile file
can't make a reader take more memory or time than a file mixfit wrote.

jsonschema would do the walking, but brings five packages (one a compiled extension) for these
few files, and its messages print the offending value whole; the checks mixfit needs beyond
types (formulas re-parsed by mixfit's own parser) are hooks here either way.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_TEXT = 100_000  # characters of any one string
MAX_ITEMS = 10_000_000  # entries of any one list or mapping


class SchemaError(ValueError):
    """Where a value departs from its schema, and how."""

    def __init__(self, where: str, problem: str):
        super().__init__(f"{where}: {problem}" if where else problem)
        self.where, self.problem = where, problem


class Node:
    def check(self, value, where: str) -> None:  # pragma: no cover - every node overrides it
        raise NotImplementedError

    def describe(self) -> str:
        return type(self).__name__.lower()


@dataclass(frozen=True)
class Text(Node):
    """A string: at most ``max_len`` characters, no NUL; one of ``choices`` if given; and, if
    given, ``parse`` (a function raising ValueError or mixfit's InputError) accepts it."""

    max_len: int = MAX_TEXT
    choices: frozenset[str] | None = None
    parse: Callable[[str], object] | None = None
    empty: bool = True

    def check(self, value, where: str) -> None:
        if not isinstance(value, str):
            raise SchemaError(where, f"must be text, not {_kind(value)}")
        if len(value) > self.max_len:
            raise SchemaError(where, f"is {len(value):,} characters long: at most {self.max_len:,}")
        if "\0" in value:
            raise SchemaError(where, "holds a NUL character")
        if not value and not self.empty:
            raise SchemaError(where, "is empty")
        if self.choices is not None and value not in self.choices:
            raise SchemaError(
                where, f"{_shown(value)} is none of {', '.join(sorted(self.choices))}"
            )
        if self.parse is not None:
            from mixfit.errors import InputError

            try:
                self.parse(value)
            except (InputError, ValueError) as exc:
                raise SchemaError(where, str(exc)) from None

    def describe(self) -> str:
        return "text"


@dataclass(frozen=True)
class Number(Node):
    """A JSON number (not a boolean); ``finite``: not NaN or infinite; at least ``low``."""

    finite: bool = True
    low: float | None = None

    def check(self, value, where: str) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SchemaError(where, f"must be a number, not {_kind(value)}")
        if self.finite and not math.isfinite(value):
            raise SchemaError(where, f"must be a finite number, not {value}")
        if self.low is not None and not value >= self.low:
            raise SchemaError(where, f"must be at least {self.low:g} (found {value})")


@dataclass(frozen=True)
class Integer(Node):
    low: int | None = None
    high: int | None = None

    def check(self, value, where: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SchemaError(where, f"must be a whole number, not {_kind(value)}")
        if (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        ):
            raise SchemaError(where, f"{value} is outside {self.low}..{self.high}")


@dataclass(frozen=True)
class Boolean(Node):
    def check(self, value, where: str) -> None:
        if not isinstance(value, bool):
            raise SchemaError(where, f"must be true or false, not {_kind(value)}")


@dataclass(frozen=True)
class Null(Node):
    def check(self, value, where: str) -> None:
        if value is not None:
            raise SchemaError(where, f"must be null, not {_kind(value)}")


@dataclass(frozen=True)
class Const(Node):
    value: object

    def check(self, value, where: str) -> None:
        if value != self.value or type(value) is not type(self.value):
            raise SchemaError(where, f"must be {self.value!r}")


@dataclass(frozen=True)
class Either(Node):
    """Any one of ``options``; the message is the last option's (the fullest, by convention)."""

    options: tuple[Node, ...]

    def check(self, value, where: str) -> None:
        failure = None
        for option in self.options:
            try:
                option.check(value, where)
                return
            except SchemaError as exc:
                failure = exc
        assert failure is not None
        kinds = " or ".join(o.describe() for o in self.options)
        raise SchemaError(where, f"must be {kinds}; {failure.problem}")


def optional(node: Node) -> Either:
    """``node`` or null."""
    return Either((Null(), node))


@dataclass(frozen=True)
class ListOf(Node):
    item: Node
    max_items: int = MAX_ITEMS
    min_items: int = 0
    unique: bool = False

    def check(self, value, where: str) -> None:
        if not isinstance(value, list):
            raise SchemaError(where, f"must be a list, not {_kind(value)}")
        if not self.min_items <= len(value) <= self.max_items:
            raise SchemaError(
                where, f"has {len(value):,} entries: {self.min_items} to {self.max_items:,}"
            )
        for i, item in enumerate(value):
            self.item.check(item, f"{where}[{i}]")
        if self.unique and len({repr(v) for v in value}) < len(value):
            raise SchemaError(where, "names an entry twice")

    def describe(self) -> str:
        return "a list"


@dataclass(frozen=True)
class MapOf(Node):
    """A mapping from text keys (checked by ``key``) to values of one kind."""

    value: Node
    key: Text = Text(max_len=10_000)
    max_items: int = MAX_ITEMS

    def check(self, value, where: str) -> None:
        if not isinstance(value, dict):
            raise SchemaError(where, f"must be a mapping, not {_kind(value)}")
        if len(value) > self.max_items:
            raise SchemaError(where, f"has {len(value):,} entries: at most {self.max_items:,}")
        for name, item in value.items():
            self.key.check(name, f"{where} key {_shown(name)}")
            self.value.check(item, f"{where}.{name}" if where else name)

    def describe(self) -> str:
        return "a mapping"


@dataclass(frozen=True)
class Record(Node):
    """A mapping with these keys (``optional`` ones may be absent); ``extra``: other keys are
    allowed, each checked by this node if one is given (a record mixfit keeps for people)."""

    fields: dict[str, Node]
    optional: dict[str, Node] = field(default_factory=dict)
    extra: bool | Node = False

    def check(self, value, where: str) -> None:
        if not isinstance(value, dict):
            raise SchemaError(where, f"must be a mapping, not {_kind(value)}")
        missing = [k for k in self.fields if k not in value]
        if missing:
            raise SchemaError(where, f"has no {', '.join(repr(k) for k in missing)}")
        known = self.fields | self.optional
        unknown = [k for k in value if k not in known]
        if unknown and self.extra is False:
            raise SchemaError(where, f"has an unknown key {_shown(str(unknown[0]))}")
        for name, node in known.items():
            if name in value:
                node.check(value[name], f"{where}.{name}" if where else name)
        if isinstance(self.extra, Node):
            for name in unknown:
                self.extra.check(value[name], f"{where}.{name}" if where else name)

    def describe(self) -> str:
        return "a mapping"


@dataclass(frozen=True)
class Json(Node):
    """Any JSON value, of at most ``max_depth`` levels of lists and mappings."""

    max_depth: int = 16

    def check(self, value, where: str) -> None:
        pending = [(value, 0)]
        while pending:
            item, depth = pending.pop()
            if depth > self.max_depth:
                raise SchemaError(where, f"is nested more than {self.max_depth} deep")
            if isinstance(item, dict):
                pending += [(v, depth + 1) for v in item.values()]
                pending += [(k, depth + 1) for k in item]
            elif isinstance(item, list):
                pending += [(v, depth + 1) for v in item]
            elif isinstance(item, str):
                Text().check(item, where)
            elif not (item is None or isinstance(item, (bool, int, float))):
                raise SchemaError(where, f"holds {_kind(item)}")

    def describe(self) -> str:
        return "a JSON value"


def check(value, schema: Node) -> None:
    """Raise SchemaError where ``value`` departs from ``schema``."""
    schema.check(value, "")


def _kind(value) -> str:
    if value is None:
        return "null"
    return {
        bool: "true/false",
        int: "a number",
        float: "a number",
        str: "text",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "...")

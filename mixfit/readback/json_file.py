"""A JSON file mixfit wrote, read back with bounds: its size, its nesting, then its schema."""

from __future__ import annotations

import json
from pathlib import Path

from mixfit.errors import InputError
from mixfit.readback.schema import Node, SchemaError, check

MAX_BYTES = 256 << 20  # design.json of a million levels is a few tens of MB


def read_json(path: Path, what: str, schema: Node | None = None, max_bytes: int = MAX_BYTES):
    """The value in ``path``, checked against ``schema``; ``what`` names the file kind in the
    message ("a mixfit design file")."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError(f"{str(path)!r} is not {what}: {size:,} bytes, at most {max_bytes:,}")
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise InputError(f"{str(path)!r} can't be read as {what}: {reason}") from None
    return parse_json(text, f"{str(path)!r}", what, schema)


def parse_json(text: str, source: str, what: str, schema: Node | None = None):
    """``text`` as JSON, checked; ``source`` names where it came from in the message."""
    try:
        value = json.loads(text, parse_constant=_constant)
    except RecursionError:  # json's C parser counts its depth: 100,000 brackets stop here
        raise InputError(f"{source} is not {what}: nested too deeply") from None
    except ValueError as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{source} is not {what}: not JSON ({detail[:200]})") from None
    return value if schema is None else checked(value, schema, source, what)


def checked(value, schema: Node, source: str, what: str):
    """``value``, if it fits ``schema``; else an InputError naming ``source`` and the place."""
    try:
        check(value, schema)
    except SchemaError as exc:
        raise InputError(f"{source} is not {what}: {str(exc)[:500]}") from None
    return value


def _constant(name: str) -> float:
    """NaN and Infinity, which Python writes and JSON lacks: mixfit's files never hold them where
    a schema asks for a finite number, and checking says so."""
    return float(name.replace("Infinity", "inf"))

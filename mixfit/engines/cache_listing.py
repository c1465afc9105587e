"""What ``mixfit cache`` shows and does: each compiled model with its size and last use, and
clearing them, all or those unused for a given time."""

from __future__ import annotations

import math
import re
import time

from mixfit.engines.cache import cache_root, remove, stored_models
from mixfit.errors import InputError

UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
SIZE_UNITS = ("B", "KB", "MB", "GB")


def parse_age(text: str) -> float:
    """``30d``, ``12h``, ``90m``, ``2w`` -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*", text)
    if not match:
        raise InputError(
            f"--older-than {text!r} is not an age: give a number and a unit, m, h, d or w "
            "(e.g. 30d)"
        )
    return float(match.group(1)) * UNITS[match.group(2)]


def describe_cache() -> str:
    root = cache_root()
    models = stored_models(root)
    if not models:
        return f"Compiled-model cache {root}: empty."
    now = time.time()
    lines = [
        f"Compiled-model cache {root}: {len(models)} model(s), {_size(sum(m.size for m in models))}"
    ]
    rows = [("entry", "size", "last used", "backend")] + [
        (m.key, _size(m.size), _age(m.age(now)) + " ago", m.backend) for m in models
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        lines.append(
            f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]}"
        )
    return "\n".join(lines)


def clear(older_than: str | None) -> str:
    """Remove every entry, or those not used for ``older_than``; say what went."""
    limit = parse_age(older_than) if older_than is not None else None
    root = cache_root()
    now = time.time()
    gone = [m for m in stored_models(root) if limit is None or m.age(now) > limit]
    for model in gone:
        remove(model, root)
    kept = len(stored_models(root))
    freed = _size(sum(m.size for m in gone))
    return f"Removed {len(gone)} compiled model(s) ({freed}) from {root}; {kept} left."


def _size(size: int) -> str:
    power = min(int(math.log10(max(size, 1)) // 3), len(SIZE_UNITS) - 1)
    value = size / 1000**power
    return f"{value:.0f} B" if power == 0 else f"{value:.1f} {SIZE_UNITS[power]}"


def _age(seconds: float) -> str:
    for unit, length in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= length:
            return f"{seconds / length:.0f} {unit}" if seconds >= 2 * length else f"1 {unit[:-1]}"
    return f"{max(seconds, 0):.0f} seconds"

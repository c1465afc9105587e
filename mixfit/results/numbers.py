"""Numbers in the text a person reads (summaries, the report's tables), a column at a time, as R
formats a column: enough decimals for the number that needs the most to show 4 significant digits,
and every number of the column with that many."""

from __future__ import annotations

import math
from collections.abc import Iterable

DIGITS = 4  # R's summaries: max(3, getOption("digits") - 3)
MOST_PLACES = 10


def formatted(values: Iterable[float], digits: int = DIGITS) -> list[str]:
    """A column of numbers as text, all with the same decimals; empty where one is missing."""
    values = [float(v) for v in values]
    places = max((places_for(v, digits) for v in values if math.isfinite(v)), default=0)
    return [f"{v:.{places}f}" if math.isfinite(v) else "" for v in values]


def places_for(value: float, digits: int = DIGITS) -> int:
    """Decimals that show ``value`` to ``digits`` significant digits, trailing zeros dropped."""
    if value == 0:
        return 0
    places = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    rounded = round(value, places)
    while places > 0 and round(rounded, places - 1) == rounded:
        places -= 1
    return min(places, MOST_PLACES)

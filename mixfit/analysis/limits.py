"""Where new rows far outside the fitted data take a prediction past what numbers can hold: a
clear error naming it, instead of numpy's sampler failing or a table of inf and NaN.

numpy draws a Poisson count only for a rate below about 9.2e18 (2^63), a binomial count only for
trials below 2^63; trials beyond Stan's integers (2^31) are refused as the fit refuses them.
"""

from __future__ import annotations

import numpy as np

from mixfit.errors import InputError

MAX_RATE = 1e15  # a count draw's expected value; a negative binomial's gamma draw spreads it
COUNT_FAMILIES = {
    "poisson",
    "negbinomial",
    "zero_inflated_poisson",
    "zero_inflated_negbinomial",
    "hurdle_poisson",
    "hurdle_negbinomial",
}


def check_draw_inputs(family: str, mu: np.ndarray) -> None:
    """Before drawing counts: every expected count within what numpy's samplers take."""
    if family in COUNT_FAMILIES and not (mu <= MAX_RATE).all():
        raise InputError(
            f"the expected count is beyond {MAX_RATE:.0e} (or not a number) for some new rows: "
            "they lie too far outside the fitted data to draw predictions"
        )


def check_finite(table: np.ndarray, source: str) -> None:
    """Every prediction of the table a finite number."""
    bad = ~np.isfinite(table)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise InputError(
            f"the predictions for {len(rows)} row(s) of {source} (first: row {rows[0] + 1}) "
            "overflow: their predictors lie too far outside the fitted data"
        )

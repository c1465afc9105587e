"""The data columns a covariate term (s(), t2(), gp()) reads: numeric covariates and, with ``by``,
a factor; each checked with the term named in the message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mixfit.errors import InputError


def covariate_columns(
    frame: pd.DataFrame,
    covariates: Sequence[str],
    by: str | None,
    text: str,
    *,
    needs: str,
    numeric_by: str,
) -> dict[str, Any]:
    """Each covariate as floats and the by factor as text; ``needs`` ends the message for a factor
    covariate ("a smooth needs a numeric covariate ..."), ``numeric_by`` names a numeric by."""
    data: dict[str, Any] = {}
    for name in covariates:
        if name not in frame:
            raise InputError(f"{text}: no column '{name}' in the data")
        column = frame[name]
        if not pd.api.types.is_numeric_dtype(column) or isinstance(
            column.dtype, pd.CategoricalDtype
        ):
            raise InputError(f"{text}: '{name}' is a factor (a text column, or --factor); {needs}")
        data[name] = column.to_numpy(dtype=float)
    if by is not None:
        if by not in frame:
            raise InputError(f"{text}: no column '{by}' (its by variable) in the data")
        column = frame[by]
        if not isinstance(column.dtype, pd.CategoricalDtype):
            raise InputError(
                f"{text}: by = {by} must be a factor (a text column, or --factor {by}); "
                f"{numeric_by} is not supported"
            )
        data[by] = np.asarray(column.astype(str))
    return data

"""Checks of a model that would otherwise fail only after sampling: each runs in prepare(),
before anything is compiled or sampled, and fails with one InputError.

- The response's name becomes a variable of draws.nc beside the Stan program's own (its
  observed data, log-likelihood and predictions): a response named like one of them (``b``,
  ``Intercept``, ``sigma``, ``sd_1``) collides with it when the draws are stored.
- A NUL character in a value or a name can't be written into draws.nc (HDF5's strings end at it).
- A response that is also its own grouping factor (``c ~ x + (1 | c)``) is a model of nothing.
"""

from __future__ import annotations

import re

import pandas as pd

from mixfit.errors import InputError
from mixfit.model.families import FAMILIES
from mixfit.model.formula import ParsedFormula
from mixfit.model.formulas import ModelFormula

# the Stan program's variables that reach the draws (mixfit/model/program.py, stan_templates/)
STAN_NAMES = {"b", "Intercept", "b_Intercept"} | {
    p.name for f in FAMILIES.values() for p in f.params
}
_DPARS = "|".join(sorted({p.name for f in FAMILIES.values() for p in f.params}))
# a block's variables (sd_1), and a parameter's predictor's (b_sigma, Intercept_sigma, first_1_zi)
STAN_PATTERN = re.compile(
    rf"(sd|z|r|L|Cor|C|first|last|centred|F|nest)_\d+(_({_DPARS}))?|(b|Intercept|X|Xc|K)_({_DPARS})"
    rf"|b_({_DPARS})_Intercept"
)


def check_model(formulas: ModelFormula, frame: pd.DataFrame) -> None:
    """Everything here, on the parsed formulas and the table the model is built from."""
    check_response_name(formulas.mu)
    for formula in formulas.parts.values():
        check_response_not_grouping(formula, formulas.mu.response)
    check_no_nul(frame)


def check_response_name(formula: ParsedFormula) -> None:
    name = formula.response
    if name in STAN_NAMES or STAN_PATTERN.fullmatch(name):
        raise InputError(
            f"the response {name!r} has the name of one of mixfit's Stan variables (b, "
            "Intercept, sigma, sd_1, ...), which draws.nc keeps beside it: rename the column "
            f"(e.g. {name}_obs)"
        )


def check_response_not_grouping(formula: ParsedFormula, response: str) -> None:
    for group in formula.groups:
        if response in group.factors:
            raise InputError(
                f"the response {response!r} is also the grouping factor of "
                f"({group.lhs} | {group.group}): each level would hold one value of the "
                "response, and the model could explain nothing; group by another column"
            )


def check_no_nul(frame: pd.DataFrame) -> None:
    for column in frame.columns:
        if "\0" in str(column):
            raise InputError(f"a column name holds a NUL character: {str(column)!r}")
        values = frame[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            texts = pd.Series(values.cat.categories.astype(str))
        elif values.dtype == object or pd.api.types.is_string_dtype(values):
            texts = values.astype(str)
        else:
            continue
        holding = texts.str.contains("\0", regex=False)
        if holding.any():
            raise InputError(
                f"column {str(column)!r} holds a NUL character (in {texts[holding].iloc[0]!r}): "
                "such a value can't be stored; clean the data file"
            )

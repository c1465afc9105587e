"""The posterior beside the classical fit, parameter by parameter, with a flag where the classical
estimate sits on the boundary or the two disagree beyond their uncertainty.
"""

from __future__ import annotations

import pandas as pd

from mixfit.classical.fit import ClassicalFit, interval_columns, with_intervals

BOUNDARY = "boundary"
DISAGREE = "disagree"


def compare(
    fixef: pd.DataFrame, varcorr: pd.DataFrame, classical: ClassicalFit, prob: float = 0.95
) -> pd.DataFrame:
    """One row per parameter (population effects, with an empty group, then varcorr's rows):
    the posterior's Estimate, Est.Error and interval, the classical estimate, its standard error
    and Wald interval (ML_...), and ``flag``: ``boundary``, ``disagree`` or empty.

    The two disagree when the classical estimate lies outside the posterior interval and the
    posterior mean outside the classical interval (or there is no classical interval).
    """
    low, high = interval_columns(prob)
    posterior = pd.concat(
        [fixef.assign(group="").rename(columns={"term": "param"}), varcorr], ignore_index=True
    )[["group", "param", "Estimate", "Est.Error", low, high]]
    ml = pd.concat(
        [
            with_intervals(classical.fixef, prob)
            .assign(group="")
            .rename(columns={"term": "param"}),
            with_intervals(classical.varcorr, prob),
        ],
        ignore_index=True,
    )[["group", "param", "Estimate", "Std.Error", low, high]]
    ml.columns = ["group", "param"] + [f"ML_{c}" for c in ml.columns[2:]]
    table = posterior.merge(ml, on=["group", "param"], how="left")
    estimate, mean = table["ML_Estimate"], table["Estimate"]
    ml_low, ml_high = table[f"ML_{low}"], table[f"ML_{high}"]
    outside_posterior = (estimate < table[low]) | (estimate > table[high])
    outside_ml = (mean < ml_low) | (mean > ml_high)
    no_ml_interval = ml_low.isna() | ml_high.isna()
    disagree = outside_posterior & (no_ml_interval | outside_ml)
    on_boundary = {(b["group"], b["param"]) for b in classical.verdict.boundary}
    # a boundary estimate lies outside any posterior interval: that flag says it all
    flags = [
        BOUNDARY if (group, param) in on_boundary else DISAGREE if differs else ""
        for group, param, differs in zip(table["group"], table["param"], disagree)
    ]
    return table.assign(flag=flags)

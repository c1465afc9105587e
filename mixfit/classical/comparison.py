"""The posterior beside the classical fit, parameter by parameter, with a flag where the classical
estimate sits on the boundary or the two disagree beyond their uncertainty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mixfit.classical.fit import ClassicalFit, interval_columns, with_intervals

BOUNDARY = "boundary"
DISAGREE = "disagree"
NEAR_SD = 0.05  # near an SD's boundary at 0: within this share of the posterior's upper bound
NEAR_COR = 0.05  # near a correlation's at -1 or +1: within this of it


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


@dataclass(frozen=True)
class Nearness:
    """How much of a component's posterior lies by the boundary its classical estimate sits on."""

    share: float  # of the draws
    within: float  # how near counts as near
    edge: float  # 0, -1 or +1
    why: str  # the rule for ``within``, in words
    median: float


def near_boundary(
    comparison: pd.DataFrame, draws: dict[tuple[str, str], np.ndarray], prob: float = 0.95
) -> dict[tuple[str, str], Nearness]:
    """For each boundary row of ``comparison``, the share of its posterior draws near the edge:
    what the posterior says about the value the classical fit settled on."""
    _, high = interval_columns(prob)
    out = {}
    for row in comparison[comparison["flag"] == BOUNDARY].to_dict("records"):
        values = draws.get((row["group"], row["param"]))
        if values is None or not len(values):
            continue
        if row["param"].startswith("cor("):
            edge = 1.0 if row["ML_Estimate"] > 0 else -1.0
            within, why = NEAR_COR, f"{NEAR_COR:g} on the correlation's scale"
        else:
            edge = 0.0
            within = NEAR_SD * row[high]
            why = f"{NEAR_SD:.0%} of its upper {prob * 100:g}% bound"
        share = float(np.mean(np.abs(values - edge) <= within))
        out[(row["group"], row["param"])] = Nearness(
            share, within, edge, why, float(np.median(values))
        )
    return out


def component_draws(model, posterior) -> dict[tuple[str, str], np.ndarray]:
    """Each SD, correlation and family parameter's draws, keyed as varcorr.csv names them."""
    out = {}
    for block in model.design.blocks:
        sd = posterior[f"sd_{block.id}"].values
        for m, term in enumerate(block.terms):
            out[(block.group, f"sd({term})")] = sd[:, :, m].ravel()
        if block.has_cor:
            cor = posterior[f"Cor_{block.id}"].values
            for a in range(len(block.terms)):
                for b in range(a + 1, len(block.terms)):
                    name = f"cor({block.terms[a]},{block.terms[b]})"
                    out[(block.group, name)] = cor[:, :, a, b].ravel()
    for param in model.design.params:
        out[("Residual", param.name)] = posterior[param.name].values.ravel()
    return out

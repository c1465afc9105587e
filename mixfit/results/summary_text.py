"""The brms-style text summary of a fit, for the terminal and for files."""

from __future__ import annotations

import pandas as pd

from mixfit.model.program import Model
from mixfit.results.summaries import AUTOCOR_GROUP, interval_columns
from mixfit.wording import counted


def summary_text(
    model: Model,
    fixef: pd.DataFrame,
    varcorr: pd.DataFrame,
    run: dict,
    prob: float = 0.95,
    smooths: pd.DataFrame | None = None,
    gps: pd.DataFrame | None = None,
    simplexes: pd.DataFrame | None = None,
) -> str:
    design = model.design
    sampler = run["sampler"]
    # as brms: a parameter with a formula has its link, one without is estimated as it is
    mus = design.dpars if model.family.categorical else ["mu"]  # categorical: mu<cat> each
    links = [f"{mu} = {design.family.link}" for mu in mus] + [
        f"{p.name} = {p.link if p.name in design.predictors else 'identity'}"
        for p in model.family.params
    ]
    formulas = design.formulas.texts
    lines = []
    if model.prior_only:
        lines += [
            "PRIOR PREDICTIVE CHECK: sampled from the prior only; the data were not used.",
            "The estimates below summarise the priors, not a posterior.",
            "",
        ]
    thin = sampler.get("thin", 1)
    kept = -(-(sampler["iter"] - sampler["warmup"]) // thin)
    lines += [
        f" Family: {model.family.name}",
        f"  Links: {'; '.join(links)}",
        f"Formula: {formulas[0]}",
        *(f"         {text}" for text in formulas[1:]),
        f"   Data: {run['data']} (Number of observations: {run['rows_used']})",
        (
            f"  Draws: {counted(sampler['chains'], 'chain')}, each with iter = {sampler['iter']}; "
            f"warmup = {sampler['warmup']}; thin = {thin};"
        ),
        f"         total post-warmup draws = {sampler['chains'] * kept}",
    ]
    if run.get("rows_dropped"):
        lines.append(f"         ({run['rows_dropped']} rows with missing values dropped)")
    if design.response.note:
        lines.append(f"   Note: {design.response.note}")
    if model.thresholds:
        order = " < ".join(design.response.categories)
        lines.append(f" Levels: {order}")
    elif model.family.categorical:  # which category the others are against
        first, *others = design.response.categories
        lines.append(f" Levels: {first} (reference), {', '.join(others)}")
    # as brms: smooths, then correlation structures, before the group-level effects
    if smooths is not None and len(smooths):
        lines += ["", "Smooth Terms:"]
        lines += _table(smooths.set_index("param"), prob)
    if gps is not None and len(gps):  # brms: after the smooth terms
        lines += ["", "Gaussian Process Terms:"]
        lines += _table(gps.set_index("param"), prob)
    autocor_rows = varcorr[varcorr["group"] == AUTOCOR_GROUP]
    group_rows = varcorr[~varcorr["group"].isin(["Residual", AUTOCOR_GROUP])]
    if len(autocor_rows):  # brms prints them before the group-level effects
        lines += ["", "Correlation Structures:"]
        lines += _table(autocor_rows.set_index("param"), prob)
    if len(group_rows):
        lines += ["", "Group-Level Effects:"]
        for group, rows in group_rows.groupby("group", sort=False):
            levels = next(len(b.levels) for b in design.blocks if b.group == group)
            lines.append(f"~{group} (Number of levels: {levels})")
            lines += _table(rows.set_index("param"), prob)
    lines += ["", "Population-Level Effects:"]
    lines += _table(fixef.set_index("term"), prob) if len(fixef) else ["(none)"]
    if simplexes is not None and len(simplexes):  # as brms: after the population-level effects
        lines += ["", "Simplex Parameters:"]
        lines += _table(simplexes.set_index("param"), prob)
    family_rows = varcorr[varcorr["group"] == "Residual"]
    if len(family_rows):
        lines += ["", "Family Specific Parameters:"]
        lines += _table(family_rows.set_index("param"), prob)
    if model.prior_only:
        lines += [
            "",
            "Draws were sampled from the prior only (a prior predictive check), using NUTS.",
        ]
    else:
        lines += ["", "Draws were sampled using NUTS."]
    lines += [
        "For each parameter, Bulk_ESS and Tail_ESS are effective sample size measures, and Rhat",
        "is the potential scale reduction factor on split chains (at convergence, Rhat = 1).",
    ]
    return "\n".join(lines) + "\n"


def r2_section(r2: pd.DataFrame, prob: float = 0.95) -> str:
    """The Bayesian R² (r2.csv) as a table after the summary's others."""
    low, high = interval_columns(prob)
    pct = f"{prob * 100:g}%"
    shown = pd.DataFrame(
        {
            "Estimate": r2["Estimate"].map(_num),
            "Est.Error": r2["Est.Error"].map(_num),
            f"l-{pct} CI": r2[low].map(_num),
            f"u-{pct} CI": r2[high].map(_num),
        }
    )
    shown.index = ["R2"]
    return "\nBayesian R2 (brms's bayes_R2):\n" + shown.to_string() + "\n"


def _table(rows: pd.DataFrame, prob: float) -> list[str]:
    low, high = interval_columns(prob)
    pct = f"{prob * 100:g}%"
    shown = pd.DataFrame(
        {
            "Estimate": rows["Estimate"].map(_num),
            "Est.Error": rows["Est.Error"].map(_num),
            f"l-{pct} CI": rows[low].map(_num),
            f"u-{pct} CI": rows[high].map(_num),
            "Rhat": rows["Rhat"].map("{:.2f}".format),
            "Bulk_ESS": rows["Bulk_ESS"].map(lambda v: f"{v:.0f}"),
            "Tail_ESS": rows["Tail_ESS"].map(lambda v: f"{v:.0f}"),
        },
        index=rows.index,
    )
    shown.index.name = None
    return shown.to_string().splitlines()


def _num(value: float) -> str:
    return f"{value:.2f}"

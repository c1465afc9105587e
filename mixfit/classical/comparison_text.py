"""The summary's "Bayesian vs maximum likelihood" section: the classical verdict, then each
parameter's posterior beside its classical estimate, each flag explained."""

from __future__ import annotations

import pandas as pd

from mixfit.classical.comparison import Nearness
from mixfit.classical.fit import interval_columns
from mixfit.classical.verdict import Verdict


def bayes_vs_ml(
    comparison: pd.DataFrame | None,
    verdict: Verdict,
    prob: float = 0.95,
    near: dict[tuple[str, str], Nearness] | None = None,
) -> str:
    """The "Bayesian vs maximum likelihood" section: the classical verdict, then each parameter's
    posterior beside its classical estimate, and ``near``: how much of the posterior lies by each
    boundary estimate (``comparison`` from mixfit.classical.comparison; None
    when the classical fit failed)."""
    method = verdict.method
    lines = [
        f"Bayesian vs maximum likelihood ({method}, {verdict.library}):",
        f"Classical fit: {verdict.headline}",
    ]
    lines += [f"  {m}" for m in verdict.messages if m != verdict.reason]
    if comparison is None:
        lines.append("There are no classical estimates to compare; the Bayesian results stand.")
        return "\n".join(lines) + "\n"
    low, high = interval_columns(prob)
    pct = f"{prob * 100:g}%"
    labels = [
        f"~{group} {param}" if group not in ("", "Residual") else param
        for group, param in zip(comparison["group"], comparison["param"])
    ]
    shown = pd.DataFrame(
        {
            "Estimate": comparison["Estimate"].map(_num),
            f"l-{pct} CI": comparison[low].map(_num),
            f"u-{pct} CI": comparison[high].map(_num),
            method: comparison["ML_Estimate"].map(_maybe),
            f"l-{pct} Wald": comparison[f"ML_{low}"].map(_maybe),
            f"u-{pct} Wald": comparison[f"ML_{high}"].map(_maybe),
            "flag": comparison["flag"],
        }
    )
    shown.index = labels
    lines += [""] + shown.to_string().splitlines()
    flags = set(comparison["flag"])
    if "boundary" in flags:
        lines.append(
            f"boundary: the {method} estimate sits on the edge of its range (an SD at 0, a "
            "correlation at -1 or +1)."
        )
        for (group, param), where in (near or {}).items():
            lines.append(
                f"  ~{group} {param}: the posterior has {where.share:.0%} of its draws within "
                f"{where.within:.2g} of {where.edge:g} ({where.why}); its median is "
                f"{where.median:.2g}."
            )
    if "disagree" in flags:
        lines.append(
            f"disagree: the {method} estimate lies outside the {pct} posterior interval and the "
            f"posterior mean outside the {method} interval, where there is one."
        )
    return "\n".join(lines) + "\n"


def _maybe(value: float) -> str:
    return "" if pd.isna(value) else _num(value)


def _num(value: float) -> str:
    return f"{value:.2f}"

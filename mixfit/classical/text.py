"""The classical fit on its own, as lme4's summary shows it: the random effects, the fixed effects
with Wald intervals, and the verdict."""

from __future__ import annotations

import pandas as pd

from mixfit.classical.fit import ClassicalFit, interval_columns, with_intervals
from mixfit.model.design import Design

TITLES = {
    "REML": "Linear mixed model fit by REML",
    "ML": "Linear mixed model fit by maximum likelihood",
    "Laplace ML": "Generalized linear mixed model fit by maximum likelihood (Laplace Approximation)",
}


def classical_text(fit: ClassicalFit, design: Design, data: str, prob: float = 0.95) -> str:
    verdict = fit.verdict
    lines = [
        f"{TITLES[verdict.method]} [{verdict.library}]",
        f" Family: {design.family}",
        f"Formula: {design.formula.text}",
        f"   Data: {data}",
    ]
    if fit.ok:
        low, high = interval_columns(prob)
        pct = f"{prob * 100:g}%"
        columns = {
            "Estimate": "Estimate",
            "Std.Error": "Std. Error",
            low: f"l-{pct} CI",
            high: f"u-{pct} CI",
        }
        varcorr = with_intervals(fit.varcorr, prob)
        groups = varcorr.assign(group=varcorr["group"].mask(varcorr["group"].duplicated(), ""))
        lines += ["", "Random effects and family parameters:"]
        lines += _table(groups.set_index(["group", "param"]), columns)
        levels = "; ".join(f"{b.group}, {len(b.levels)}" for b in design.blocks)
        lines.append(f"Number of obs: {design.n}" + (f", groups:  {levels}" if levels else ""))
        lines += ["", "Fixed effects:"]
        lines += _table(with_intervals(fit.fixef, prob).set_index("term"), columns)
    lines += ["", f"Verdict: {verdict.headline}"]
    lines += [f"  {m}" for m in verdict.messages if m != verdict.reason]
    return "\n".join(lines) + "\n"


def _table(rows: pd.DataFrame, columns: dict[str, str]) -> list[str]:
    if not len(rows):
        return ["(none)"]
    shown = pd.DataFrame({label: rows[name].map(_num) for name, label in columns.items()})
    shown.index.names = [None] * shown.index.nlevels
    return shown.to_string().splitlines()


def _num(value: float) -> str:
    """Two decimals, as brms prints; three significant digits for small values."""
    if pd.isna(value):
        return ""
    return f"{value:.2f}" if abs(value) >= 0.1 or value == 0 else f"{value:.3g}"

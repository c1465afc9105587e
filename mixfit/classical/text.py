"""The classical fit on its own, as lme4's summary prints it: the criterion, the scaled residuals,
the random effects (Variance, Std.Dev., Corr), the fixed effects with their t values (z values and
Pr(>|z|) for a GLMM) and Wald intervals, the correlation of the fixed effects, and the verdict.

Numbers are formatted a column at a time as R formats them (mixfit/results/numbers.py).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from mixfit.classical.fit import ClassicalFit, interval_columns, with_intervals
from mixfit.classical.summary_figures import Figures
from mixfit.model.design import Design
from mixfit.results.numbers import DIGITS, formatted

TITLES = {
    "REML": "Linear mixed model fit by REML",
    "ML": "Linear mixed model fit by maximum likelihood",
    "Laplace ML": "Generalized linear mixed model fit by maximum likelihood (Laplace Approximation)",
}
MAX_CORRELATED = 12  # lme4 shows the correlation of at most this many fixed effects
STARS = ((0.001, "***"), (0.01, "**"), (0.05, "*"), (0.1, "."), (1.0, " "))
SIGNIF_CODES = "Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1"


def classical_text(fit: ClassicalFit, design: Design, data: str, prob: float = 0.95) -> str:
    verdict = fit.verdict
    title = TITLES[verdict.method]
    if design.response.se is not None:  # metafor's rma: its title
        title = f"Random-effects meta-analysis (k = {design.n}; tau^2 estimator: {verdict.method})"
    lines = [
        f"{title} [{verdict.library}]",
        f" Family: {design.family}",
        f"Formula: {design.formula.text}",
        f"   Data: {data}",
    ]
    if fit.ok:
        figures = fit.figures
        if figures is not None:
            lines += ["", *_criterion(figures.criterion)]
            if figures.residuals:
                lines += ["", "Scaled residuals:", *_residuals(figures.residuals)]
        lines += ["", "Random effects:", *_random_effects(fit.varcorr, design)]
        levels = "; ".join(f"{b.group}, {len(b.levels)}" for b in design.blocks)
        lines.append(f"Number of obs: {design.n}" + (f", groups:  {levels}" if levels else ""))
        lines += ["", "Fixed effects:", *_fixed_effects(fit, prob)]
        if figures is not None:
            lines += _correlation(figures)
    lines += ["", f"Verdict: {verdict.headline}"]
    lines += [f"  {m}" for m in verdict.messages if m != verdict.reason]
    if verdict.max_grad is not None and verdict.gradient_check == "passed":
        lines.append(f"  lme4's convergence check passed (max|grad| = {verdict.max_grad:.2g})")
    elif verdict.gradient_check not in ("passed", "failed") and fit.ok:
        lines.append(f"  lme4's convergence check (max|grad|): {verdict.gradient_check}")
    return "\n".join(lines) + "\n"


def _criterion(criterion: dict[str, float]) -> list[str]:
    if "REML criterion at convergence" in criterion:
        value = criterion["REML criterion at convergence"]
        return [f"REML criterion at convergence: {value:.1f}"]
    names = list(criterion)
    values = [f"{criterion[n]:.0f}" if n == "df.resid" else f"{criterion[n]:.1f}" for n in names]
    width = max(8, *(len(v) for v in values))
    return ["".join(n.rjust(width + 1) for n in names), "".join(v.rjust(width + 1) for v in values)]


def _residuals(quantiles: dict[str, float]) -> list[str]:
    # lme4 zaps them to DIGITS + 1 significant digits of the largest first
    largest = max(abs(v) for v in quantiles.values())
    places = max(0, DIGITS + 1 - math.ceil(math.log10(largest))) if largest > 0 else 0
    shown = formatted([round(v, places) for v in quantiles.values()])
    width = max(len(s) for s in [*shown, *quantiles])
    return [" ".join(n.rjust(width) for n in quantiles), " ".join(s.rjust(width) for s in shown)]


def _random_effects(varcorr: pd.DataFrame, design: Design) -> list[str]:
    """Groups, Name, Variance, Std.Dev. and the lower triangle of each block's correlations."""
    rows = []
    for block in design.blocks:
        mine = varcorr[varcorr["group"] == block.group].set_index("param")["Estimate"]
        for m, term in enumerate(block.terms):
            cors = [mine.get(f"cor({block.terms[a]},{term})", np.nan) for a in range(m)]
            group = block.group if m == 0 else ""
            rows.append((group, term, mine[f"sd({term})"], cors))
    residual = varcorr[varcorr["group"] == "Residual"].set_index("param")["Estimate"]
    if "sigma" in residual:
        rows.append(("Residual", "", residual["sigma"], []))
    sds = [r[2] for r in rows]
    variances = formatted([sd**2 for sd in sds])
    deviations = formatted(sds)
    table = [["Groups", "Name", "Variance", "Std.Dev.", *(["Corr"] if _any_cor(rows) else [])]]
    for (group, name, _, cors), variance, sd in zip(rows, variances, deviations):
        table.append(
            [group, name, variance, sd, *("NaN" if pd.isna(c) else f"{c:.2f}" for c in cors)]
        )
    lines = _aligned(table, right={2, 3})
    if "shape" in residual:  # glmer.nb prints it in the family's name
        lines.append(f" Shape (negative binomial): {formatted([residual['shape']])[0]}")
    return lines


def _any_cor(rows: list) -> bool:
    return any(cors for *_, cors in rows)


def _fixed_effects(fit: ClassicalFit, prob: float) -> list[str]:
    if not len(fit.fixef):
        return ["(none)"]
    low, high = interval_columns(prob)
    pct = f"{prob * 100:g}%"
    table = with_intervals(fit.fixef, prob).set_index("term")
    figures = fit.figures
    estimates = formatted([*table["Estimate"], *table["Std.Error"]])
    n = len(table)
    columns = {"Estimate": estimates[:n], "Std. Error": estimates[n:]}
    stars = None
    if figures is not None:
        tests = figures.tests.set_index("term").reindex(table.index)
        columns[figures.statistic] = formatted(tests[figures.statistic])
        if "Pr(>|z|)" in tests:
            columns["Pr(>|z|)"] = p_values(tests["Pr(>|z|)"])
            stars = [_stars(p) for p in tests["Pr(>|z|)"]]
    bounds = formatted([*table[low], *table[high]])
    columns[f"l-{pct} Wald"], columns[f"u-{pct} Wald"] = bounds[:n], bounds[n:]
    shown = pd.DataFrame(columns, index=table.index)
    if stars is not None:
        shown[""] = stars
    shown.index.name = None
    lines = shown.to_string().splitlines()
    return lines + (["---", SIGNIF_CODES] if stars is not None else [])


def _correlation(figures: Figures) -> list[str]:
    correlation = figures.correlation
    terms = list(correlation.index)
    if len(terms) < 2:
        return []
    if len(terms) > MAX_CORRELATED:
        shown = f"Correlation matrix not shown, as p = {len(terms)} > {MAX_CORRELATED}"
        return ["", f"{shown} (fixed effects)."]
    table = [["", *(abbreviate(t) for t in terms[:-1])]]
    for i, term in enumerate(terms[1:], start=1):
        values = [f"{correlation.iloc[i, j]:.3f}" for j in range(i)]
        table.append([term, *values, *[""] * (len(terms) - 1 - i)])
    return ["", "Correlation of Fixed Effects:", *_aligned(table, right=set(range(1, len(terms))))]


def p_values(values) -> list[str]:
    """Pr(>|z|) as printCoefmat shows them: 3 significant digits, below 1e-4 in e-notation."""
    values = [float(v) for v in values]
    fixed = formatted([v for v in values if v >= 1e-4], 3)
    out, taken = [], iter(fixed)
    for v in values:
        if not np.isfinite(v):
            out.append("")
        elif v < 2.2e-16:
            out.append("<2e-16")
        elif v < 1e-4:
            out.append(f"{v:.2e}")
        else:
            out.append(next(taken))
    return out


def _stars(p: float) -> str:
    return next(mark for bound, mark in STARS if p < bound) if np.isfinite(p) else ""


def abbreviate(name: str, length: int = 6) -> str:
    """R's abbreviate(name, 6), as lme4 heads the correlation's columns: lower-case vowels
    dropped from the end first, then lower-case letters, then the end cut."""
    chars = list(name)
    for drop in ("aeiou", "abcdefghijklmnopqrstuvwxyz"):
        i = len(chars) - 1
        while len(chars) > length and i > 0:
            if chars[i] in drop:
                del chars[i]
            i -= 1
    return "".join(chars[:length])


def _aligned(table: list[list[str]], right: set[int]) -> list[str]:
    """Rows of cells as columns one space apart: left-aligned, or right-aligned in ``right``."""
    columns = max(len(row) for row in table)
    table = [row + [""] * (columns - len(row)) for row in table]
    widths = [max(len(row[c]) for row in table) for c in range(columns)]
    lines = []
    for row in table:
        cells = [
            (cell.rjust if c in right else cell.ljust)(widths[c]) for c, cell in enumerate(row)
        ]
        lines.append((" " + " ".join(cells)).rstrip())
    return lines

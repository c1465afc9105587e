"""The plots that put the posterior beside the classical fit: each variance component's posterior
with the classical estimate marked (a boundary estimate drawn at its boundary), and the
population-level effects' intervals both ways.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from mixfit.classical.comparison import component_draws
from mixfit.model.program import Model
from mixfit.results.plots import DPI, INTERVAL_COLOR, STYLE

ML_COLOR = "#d35400"
PER_PAGE = 12  # panels per figure; more go to classical_components_2.png, ...
COLUMNS = 3
# the classical estimate's line: dashed, or dotted where it sits on the boundary
ESTIMATE_STYLES = {"estimate": {"lw": 2.2, "ls": "--"}, "boundary": {"lw": 2.2, "ls": ":"}}


def write_classical_plots(
    model: Model, posterior, comparison: pd.DataFrame, method: str, plot_dir: Path
) -> list[Path]:
    """Write the comparison plots under ``plot_dir``; return the files in reading order."""
    import matplotlib

    plot_dir.mkdir(parents=True, exist_ok=True)
    draws = component_draws(model, posterior)
    components = comparison[comparison["group"] != ""]
    effects = comparison[comparison["group"] == ""]
    figures = []
    with matplotlib.rc_context(STYLE):
        for k, page in enumerate(_pages(components), start=1):
            stem = "classical_components" + ("" if k == 1 else f"_{k}")
            figures.append((stem, _components_figure(page, draws, method)))
        for k, page in enumerate(_pages(effects), start=1):
            stem = "classical_effects" + ("" if k == 1 else f"_{k}")
            figures.append((stem, _effects_figure(page, method)))
        paths = []
        for stem, figure in figures:
            path = plot_dir / f"{stem}.png"
            figure.savefig(path, dpi=DPI)
            paths.append(path)
    return paths


def _pages(rows: pd.DataFrame) -> list[pd.DataFrame]:
    return [rows.iloc[i : i + PER_PAGE] for i in range(0, len(rows), PER_PAGE)]


def _components_figure(rows: pd.DataFrame, draws: dict, method: str):
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    n = len(rows)
    columns = min(n, COLUMNS)
    lines = math.ceil(n / columns)
    figure = Figure(figsize=(max(4.2 * columns, 7), 3.1 * lines + 1.0), layout="constrained")
    axes = figure.subplots(lines, columns, squeeze=False).ravel()
    styles = set()
    for ax, row in zip(axes, rows.itertuples(index=False)):
        values = draws[(row.group, row.param)]
        estimate = row.ML_Estimate
        low, high = _x_range(row, values)
        ax.hist(
            values, bins=np.linspace(low, high, 41), density=True, color=INTERVAL_COLOR, alpha=0.45
        )
        ax.axvline(row.Estimate, color=INTERVAL_COLOR, lw=1.5)
        if np.isfinite(estimate):
            style = "boundary" if "boundary" in row.flag else "estimate"
            styles.add(style)
            ax.axvline(estimate, color=ML_COLOR, **ESTIMATE_STYLES[style])
            if style == "boundary":
                ax.plot(estimate, 0, marker="^", ms=11, color=ML_COLOR, clip_on=False, zorder=5)
        ax.set_xlim(low, high)
        ax.set_ylim(bottom=0)
        where = "family parameter" if row.group == "Residual" else f"~{row.group}"
        ax.set_title(f"{row.param}  ({where})")
        ax.set_xlabel(row.param)
        ax.set_ylabel("density")
    for ax in axes[n:]:
        ax.set_visible(False)
    handles = [
        Patch(color=INTERVAL_COLOR, alpha=0.45, label="posterior"),
        Line2D([], [], color=INTERVAL_COLOR, lw=1.5, label="posterior mean"),
    ]
    labels = {"estimate": f"{method} estimate", "boundary": f"{method} estimate, on the boundary"}
    for style in ("estimate", "boundary"):
        if style in styles:
            marker = {"marker": "^", "ms": 9} if style == "boundary" else {}
            line = Line2D([], [], color=ML_COLOR, **ESTIMATE_STYLES[style], **marker)
            line.set_label(labels[style])
            handles.append(line)
    figure.legend(handles=handles, loc="outside lower center", ncols=4)
    figure.suptitle(f"Variance components: posterior against the {method} estimate")
    return figure


def _x_range(row, values: np.ndarray) -> tuple[float, float]:
    """A correlation's whole range; an SD's from its boundary at 0; a family parameter's around
    its posterior and the classical estimate, which are far from 0."""
    estimate = row.ML_Estimate if np.isfinite(row.ML_Estimate) else np.nan
    if row.param.startswith("cor("):
        return -1.0, 1.0
    if row.group != "Residual":
        top = np.quantile(values, 0.995) * 1.15
        return 0.0, max(top, estimate * 1.15 if np.isfinite(estimate) else 0.0)
    low, high = np.quantile(values, [0.005, 0.995])
    if np.isfinite(estimate):
        low, high = min(low, estimate), max(high, estimate)
    pad = 0.1 * (high - low) or 0.1 * abs(high) or 1.0
    return max(low - pad, 0.0), high + pad


def _effects_figure(rows: pd.DataFrame, method: str):
    from matplotlib.figure import Figure

    low, high = [c for c in rows.columns if c.startswith("Q")][:2]
    figure = Figure(figsize=(8, 0.95 * len(rows) + 1.4), layout="constrained")
    axes = figure.subplots(len(rows), 1, squeeze=False).ravel()
    for ax, row in zip(axes, rows.to_dict("records")):
        ax.plot([row[low], row[high]], [1, 1], color=INTERVAL_COLOR, lw=3, label="posterior")
        ax.plot(row["Estimate"], 1, "o", color=INTERVAL_COLOR, ms=7)
        ml_low, ml_high = row[f"ML_{low}"], row[f"ML_{high}"]
        if np.isfinite(ml_low) and np.isfinite(ml_high):
            label = f"{method} (Wald)"
            ax.plot([ml_low, ml_high], [0, 0], color=ML_COLOR, lw=3, label=label)
        if np.isfinite(row["ML_Estimate"]):
            ax.plot(row["ML_Estimate"], 0, "s", color=ML_COLOR, ms=7)
        ax.set_ylim(-0.7, 1.7)
        ax.set_yticks([1, 0], ["posterior", method])
        ax.set_title(row["param"] + (f"  [{row['flag']}]" if row["flag"] else ""), loc="left")
        ax.grid(axis="x", alpha=0.3)
    legend = {label: h for ax in axes for h, label in zip(*ax.get_legend_handles_labels())}
    figure.legend(legend.values(), legend.keys(), loc="outside lower center", ncols=2)
    width = float(high[1:]) - float(low[1:])
    figure.suptitle(
        f"Population-level effects: the posterior's and the {method} Wald {width:g}% intervals"
    )
    return figure

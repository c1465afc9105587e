"""Conditional-effects plots (mixfit/analysis/effects.py): a line and its band for a numeric
predictor, points with intervals for a categorical one; with a second predictor, one line or
one dodged set of points per value of it. matplotlib is imported inside the functions."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from mixfit.analysis.effects import conditional_effects, is_categorical
from mixfit.analysis.saved_fit import Posterior

DPI = 100
COLORS = ["#3b6ea8", "#c0392b", "#2e8b57", "#8e44ad", "#d35400", "#16a085", "#7f8c8d"]


def write_effects_plots(design: dict, posterior: Posterior, plot_dir: Path) -> list[Path]:
    """``plot_dir/conditional_effects_<predictor>.png`` per population-level predictor."""
    plot_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for effect in design["effects"]:
        path = plot_dir / f"conditional_effects_{_file_part(effect)}.png"
        save(effects_figure(design, posterior, effect), path)
        written.append(path)
    return written


def effects_figure(
    design: dict,
    posterior: Posterior,
    effect: str,
    by: str | None = None,
    prob: float = 0.95,
    dpar: str | None = None,
):
    from matplotlib.figure import Figure

    table = conditional_effects(design, posterior, effect, by, prob, dpar)
    variables = design["variables"]
    figure = Figure(figsize=(6.4, 4.4), dpi=DPI)
    ax = figure.add_subplot()
    if "cats__" in table:  # categorical: a line per category, of its probability
        by = "cats__"
    groups = [(None, table)] if by is None else list(table.groupby(by, sort=False))
    scale = max((abs(v) for v, _ in groups if isinstance(v, float)), default=0.0)
    categorical = is_categorical(variables[effect])
    width = 0.6 / max(1, len(groups))
    for k, (value, rows) in enumerate(groups):
        color = COLORS[k % len(COLORS)]
        label = None if by is None else f"{by} = {_short(value, scale)}"
        if by == "cats__":
            label = f"P({design['response']['name']} = {value})"
        if categorical:
            x = np.arange(len(rows)) + (k - (len(groups) - 1) / 2) * width
            errors = [rows["estimate__"] - rows["lower__"], rows["upper__"] - rows["estimate__"]]
            ax.errorbar(
                x, rows["estimate__"], yerr=errors, fmt="o", color=color, capsize=3, label=label
            )
        else:
            ax.plot(rows[effect], rows["estimate__"], color=color, label=label)
            ax.fill_between(
                rows[effect], rows["lower__"], rows["upper__"], color=color, alpha=0.2, linewidth=0
            )
    if categorical:
        levels = table[effect].drop_duplicates().tolist()
        ax.set_xticks(np.arange(len(levels)), [str(v) for v in levels])
    ax.set_xlabel(effect)
    ax.set_ylabel(dpar if dpar and dpar != "mu" else _response_label(design))
    if by is not None:
        ax.legend(frameon=False)
    others = "others at their mean or reference level; group-level effects left out"
    ax.set_title(f"Conditional effect of {effect} ({prob * 100:g}% interval)\n{others}", fontsize=9)
    return figure


def save(figure, path: Path, format: str = "png") -> None:
    from mixfit.results.plot_layout import place

    place(figure)
    figure.savefig(path, dpi=DPI, format=format)


def _response_label(design: dict) -> str:
    response = design["response"]
    if design["family"] == "categorical":
        return f"probability of each category of {response['name']}"
    if response["categories"]:
        return f"{response['name']} (expected category, 1 = {response['categories'][0]})"
    if response["trials"] is not None and not response["trials"].isdigit():
        return f"{response['name']} (per trial)"
    return response["name"]


def _short(value, scale: float) -> str:
    """A value of ``by`` for the legend; a mean of centred data (1e-17) reads 0."""
    if not isinstance(value, (float, np.floating)):
        return str(value)
    return f"{0.0 if abs(value) < 1e-6 * scale else value:.3g}"


def _file_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)

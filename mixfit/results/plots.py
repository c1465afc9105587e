"""The plots of a fit as PNG files: convergence, effects, group-level deviations, fit, priors.

Parameters carry brms's names (``b_Days``, ``sd_Subject__Days``, ``cor_Subject__Intercept__Days``,
``sigma``). matplotlib is imported inside the functions, so commands that do not plot never
load it. The plots are drawn here into figures mixfit owns, with R's density estimate (as brms's
plots: mixfit/results/density.py), not ArviZ's: ArviZ 1.x draws its plots through pyplot into
figures of its own, 0.x into given axes, and its import (with scipy.stats) took 0.6 s.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from mixfit.model.priors import DISTRIBUTIONS, Prior
from mixfit.model.program import Model
from mixfit.results.density import kde
from mixfit.results.prior_density import prior_density
from mixfit.wording import counted

PER_PAGE = 8  # parameters per trace or rank plot; more go to trace_2.png, ...
PAGED = ("trace", "rank")  # the paged plots, drawn in a forked child where there are two cores
CHILD_PATIENCE = 60.0  # seconds at least that the forked child is waited for
PPC_DRAWS = 10  # replicated data sets drawn in the posterior predictive check (brms: ndraws = 10)
RANK_BINS = 20  # bars per chain in a rank plot
DPI = 100
STYLE = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "figure.titlesize": 13,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
INTERVAL_COLOR = "#3b6ea8"
PRIOR_COLOR = "#c0392b"
OBSERVED_COLOR = "#222222"

# Caterpillar plots: inches per level, the height limits, and the room a level label needs.
LEVEL_HEIGHT = 0.17
CATERPILLAR_HEIGHT = (3.5, 40.0)
LABEL_ROOM = 0.12


def write_plots(
    model: Model,
    idata,
    plot_dir: Path,
    alongside: Callable[[], list[Path]] | None = None,
) -> list[Path]:
    """Write every plot of the fit under ``plot_dir``, and ``alongside``'s; return the files in
    reading order. With a second core, a forked child draws the trace and rank plots meanwhile
    (results/forked.py)."""
    # Figures are made without pyplot, so no window or global state is involved whatever the
    # backend; savefig renders PNG with Agg.
    from mixfit.results import forked

    preload()  # once, before the fork, not in both processes
    plot_dir.mkdir(parents=True, exist_ok=True)
    figures = _unique(_figures(model, idata))
    paths = [plot_dir / f"{name}.png" for name, _ in figures]
    drawn = [(path, draw) for path, (_, draw) in zip(paths, figures)]
    convergence = [(path, draw) for path, draw in drawn if path.stem.startswith(PAGED)]
    with forked.meanwhile(partial(_save, convergence, model.prior_only), CHILD_PATIENCE):
        _save([job for job in drawn if job not in convergence], model.prior_only)
        others = alongside() if alongside else []
    return paths + others


def preload() -> None:
    """Import what drawing the plots needs: matplotlib's figures and Agg canvas, a third of a
    second; a fit calls it while its chains run."""
    import matplotlib.figure  # noqa: F401

    from mixfit.results import plot_layout  # noqa: F401 - plot_layout: the Agg canvas


def _figures(model: Model, idata) -> list[tuple[str, Callable]]:
    """Each plot's file name and the function that draws its figure, in reading order."""
    from mixfit.results.arviz_api import group_names
    from mixfit.results.summaries import labelled_draws

    params = labelled_draws(model, idata.posterior)
    scalars = {name: draws for kind in params.values() for name, draws in kind.items()}
    figures = _paged("trace", scalars, _trace_figure) + _paged("rank", scalars, _rank_figure)
    if params["population"]:
        figures.append(("forest", partial(_forest_figure, model, params["population"])))
    for block in model.design.blocks:
        r = idata.posterior[f"r_{block.id}"].values  # chain, draw, level, term
        for m, term in enumerate(block.terms):
            name = f"caterpillar_{_file_part(block.group)}_{_file_part(term)}"
            figures.append((name, partial(_caterpillar_figure, block, term, r[:, :, :, m])))
    if {"posterior_predictive", "observed_data"} <= group_names(idata):
        for name in idata.posterior_predictive.data_vars:
            if name in idata.observed_data:
                figures.append(("ppc", partial(_ppc_figure, model, idata, name)))
    if params["sd"]:
        sd_prior = partial(_sd_prior_figure, model, params["sd"], model.prior_only)
        figures.append(("sd_prior", sd_prior))
    return figures


def _save(jobs: list[tuple[Path, Callable]], prior_only: bool) -> None:
    import matplotlib

    from mixfit.results.plot_layout import place

    with matplotlib.rc_context(STYLE):
        for path, draw in jobs:
            figure = draw()
            if prior_only:
                _mark_prior_only(figure)
            place(figure)
            figure.savefig(path, dpi=DPI)


def _paged(stem: str, params: dict[str, np.ndarray], draw) -> list[tuple[str, Callable]]:
    names = list(params)
    pages = [names[i : i + PER_PAGE] for i in range(0, len(names), PER_PAGE)]
    out = []
    for k, page in enumerate(pages, start=1):
        name = stem if len(pages) == 1 else f"{stem}_{k}"
        suffix = "" if len(pages) == 1 else f" (page {k} of {len(pages)})"
        out.append((name, partial(draw, {n: params[n] for n in page}, suffix)))
    return out


def _trace_figure(params: dict[str, np.ndarray], suffix: str):
    from matplotlib.figure import Figure

    n = len(params)
    figure = Figure(figsize=(11, 1.9 * n + 1.0))
    axes = figure.subplots(n, 2, squeeze=False)
    for (density_ax, draws_ax), (name, values) in zip(axes, params.items()):
        for chain, draws in enumerate(values):
            colour = f"C{chain}"
            finite = draws[np.isfinite(draws)]
            if np.unique(finite).size > 1:
                density_ax.plot(*kde(finite), color=colour)
            draws_ax.plot(draws, color=colour, alpha=0.5, lw=0.8)
        density_ax.set_yticks([])
        density_ax.set_title(name)
        density_ax.set_xlabel(name)
        density_ax.set_ylabel("density")
        draws_ax.set_title(f"{name} by draw")
        draws_ax.set_xlabel("draw (after warmup)")
        draws_ax.set_ylabel(name)
        draws_ax.set_xlim(0, max(values.shape[1] - 1, 1))
    chains = next(iter(params.values())).shape[0]
    figure.legend(
        handles=_chain_handles(chains),
        loc="outside lower center",
        ncols=min(chains, 8),
        frameon=False,
    )
    figure.suptitle(
        f"Trace plots: posterior density and draws, {counted(chains, 'chain')} (one colour each)"
        f"{suffix}"
    )
    return figure


def _ranks(values: np.ndarray) -> np.ndarray:
    """The ranks of all chains' draws together, ties averaged, NaN left NaN."""
    from mixfit.results.convergence import average_ranks

    flat = np.ravel(values)
    finite = np.isfinite(flat)
    ranks = np.full(flat.shape, np.nan)
    ranks[finite] = average_ranks(flat[finite][None, :])[0][0]
    return ranks.reshape(np.shape(values))


def _chain_handles(chains: int) -> list:
    """A legend entry per chain, numbered from 1 as Stan, the summary and the progress count."""
    from matplotlib.lines import Line2D

    return [Line2D([], [], color=f"C{c}", label=f"chain {c + 1}") for c in range(chains)]


def _rank_figure(params: dict[str, np.ndarray], suffix: str):
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure

    n = len(params)
    columns = 2 if n > 1 else 1
    rows = math.ceil(n / columns)
    figure = Figure(figsize=(5.5 * columns, 2.4 * rows + 1.0))
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, (name, values) in zip(axes, params.items()):
        # ranks among all chains' draws, binned per chain: a flat histogram, as tall as the dashed
        # line, is what chains that sample the same distribution give
        ranks = _ranks(values)
        total = np.isfinite(ranks).sum()
        bins = min(RANK_BINS, max(1, values.shape[1]))
        edges = np.linspace(0.5, total + 0.5, bins + 1)
        width = edges[1] - edges[0]
        for chain, chain_ranks in enumerate(ranks):
            counts, _ = np.histogram(chain_ranks[np.isfinite(chain_ranks)], edges)
            expected = np.isfinite(chain_ranks).sum() / bins
            heights = 0.5 * counts / expected if expected else counts
            # each chain's bars as one collection: ax.bar's patch per bar took most of the plot's time
            left, right = edges[:-1], edges[:-1] + width * 0.95
            top = chain + heights
            bars = np.stack([left, np.full(bins, chain), left, top, right, top, right], axis=1)
            bars = np.c_[bars, np.full(bins, chain)].reshape(bins, 4, 2)
            ax.add_collection(PolyCollection(bars, facecolors=f"C{chain}", edgecolors="none"))
            ax.axhline(chain + 0.5, color="black", ls="--", lw=1.2)
        ax.autoscale_view()
        ax.set_ylim(bottom=0)  # as ax.bar's bars, which stand on the axis
        ax.set_yticks(range(values.shape[0]), [str(c + 1) for c in range(values.shape[0])])
        ax.set_title(name)
        ax.set_xlabel("rank of draw among all chains")
        ax.set_ylabel("chain")
    for ax in axes[n:]:
        ax.set_visible(False)
    figure.suptitle(f"Rank plots: each chain's histogram of ranks should be flat (uniform){suffix}")
    return figure


def _forest_figure(model: Model, population: dict[str, np.ndarray]):
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    # The intercept is on the response's scale, often far from the slopes: it gets its own axis.
    intercepts = [n for n in population if n.startswith("b_Intercept")]  # or thresholds
    panels = [intercepts] if intercepts else []
    slopes = [n for n in population if n not in intercepts]
    if slopes:
        panels.append(slopes)
    heights = [len(p) + 0.6 for p in panels]
    figure = Figure(figsize=(8, 0.5 * sum(heights) + 1.8))
    axes = figure.subplots(len(panels), 1, squeeze=False, height_ratios=heights).ravel()
    for ax, names in zip(axes, panels):
        for y, name in enumerate(reversed(names)):
            draws = population[name].ravel()
            q = np.quantile(draws, [0.025, 0.25, 0.5, 0.75, 0.975])
            ax.plot([q[0], q[4]], [y, y], color=INTERVAL_COLOR, lw=1.5)
            ax.plot([q[1], q[3]], [y, y], color=INTERVAL_COLOR, lw=5, solid_capstyle="butt")
            ax.plot(q[2], y, "o", color="white", mec=INTERVAL_COLOR, mew=1.5, ms=7)
        ax.set_yticks(range(len(names)), list(reversed(names)))
        ax.set_ylim(-0.6, len(names) - 0.4)
        if names is slopes:
            ax.axvline(0, color="grey", ls="--", lw=1)
        ax.set_xlabel("posterior " + ("intercept" if names is not slopes else "coefficient"))
        ax.set_ylabel("population effect")
        ax.grid(axis="x", alpha=0.3)
    handles = [
        Line2D([], [], color=INTERVAL_COLOR, lw=5, label="50% interval"),
        Line2D([], [], color=INTERVAL_COLOR, lw=1.5, label="95% interval"),
        Line2D([], [], marker="o", ls="", color="white", mec=INTERVAL_COLOR, label="median"),
    ]
    axes[0].legend(
        handles=handles, loc="lower left", bbox_to_anchor=(0, 1.02), ncols=3, frameon=False
    )
    figure.suptitle(f"Population-level effects: {model.design.formula.text}")
    return figure


def _caterpillar_figure(block, term: str, draws: np.ndarray):
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure

    flat = draws.reshape(-1, draws.shape[-1])  # draws x levels
    estimate = flat.mean(axis=0)
    low, high = np.quantile(flat, [0.025, 0.975], axis=0)
    order = np.argsort(estimate)
    n = len(order)
    lo_height, hi_height = CATERPILLAR_HEIGHT
    plot_height = min(max(LEVEL_HEIGHT * n, lo_height), hi_height)
    figure = Figure(figsize=(8, plot_height + 1.6))
    ax = figure.subplots()
    y = np.arange(n)
    segments = np.stack([np.column_stack([low[order], y]), np.column_stack([high[order], y])], 1)
    ax.add_collection(
        LineCollection(segments, colors=INTERVAL_COLOR, linewidths=1.2 if n < 150 else 0.7)
    )
    ax.plot(estimate[order], y, "o", color=OBSERVED_COLOR, ms=4 if n < 150 else 2)
    ax.axvline(0, color="grey", ls="--", lw=1)
    step = max(1, math.ceil(LABEL_ROOM / (plot_height / n)))
    labels = np.asarray(block.levels)[order]
    ax.set_yticks(y[::step], labels[::step], fontsize=8 if n <= 60 else 7)
    ax.set_ylim(-1, n)
    ax.margins(x=0.05)
    ax.grid(axis="x", alpha=0.3)
    ax.set_xlabel(f"deviation from the population effect of {term} (posterior mean, 95% interval)")
    shown = "" if step == 1 else f", one in {step} labelled"
    ax.set_ylabel(f"{block.group} level ({n} levels, sorted by estimate{shown})")
    ax.set_title(f"r_{block.group}[, {term}]: group-level deviations of {term} by {block.group}")
    return figure


def _ppc_figure(model: Model, idata, name: str):
    from matplotlib.figure import Figure

    observed = idata.observed_data[name].values.ravel()
    replicated = idata.posterior_predictive[name].values.reshape(-1, observed.size)
    figure = Figure(figsize=(9, 5.5))
    ax = figure.subplots()
    if model.family.response in {"binary", "count", "binomial", "ordinal", "categorical"}:
        _ppc_bars(ax, observed, replicated)
        ax.set_xlabel(f"{name} (observed value)")
        ax.set_ylabel("number of observations")
        kind = "observed (bars) against replicated data (median, 90% interval)"
    else:
        _ppc_densities(ax, observed, replicated)
        ax.set_xlabel(name)
        ax.set_ylabel("density")
        kind = f"observed density against {PPC_DRAWS} replicated data sets"
    check = "Prior" if model.prior_only else "Posterior"
    ax.set_title(f"{check} predictive check of {name}: {kind}")
    return figure


def _ppc_densities(ax, observed: np.ndarray, replicated: np.ndarray) -> None:
    from matplotlib.lines import Line2D

    rng = np.random.default_rng(0)
    rows = rng.choice(len(replicated), size=min(len(replicated), PPC_DRAWS), replace=False)
    for values in replicated[rows]:
        ax.plot(*kde(values), color=INTERVAL_COLOR, alpha=0.15, lw=0.8)
    ax.plot(*kde(observed), color=OBSERVED_COLOR, lw=2)
    ax.set_ylim(bottom=0)
    handles = [
        Line2D([], [], color=OBSERVED_COLOR, lw=2, label="observed"),
        Line2D([], [], color=INTERVAL_COLOR, alpha=0.5, lw=1, label="replicated (one line each)"),
    ]
    ax.legend(handles=handles, frameon=False)


def _ppc_bars(ax, observed: np.ndarray, replicated: np.ndarray, max_bins: int = 40) -> None:
    rng = np.random.default_rng(0)
    rows = rng.choice(len(replicated), size=min(len(replicated), 1000), replace=False)
    replicated = replicated[rows]
    low = int(min(observed.min(), replicated.min()))
    top = int(max(observed.max(), np.quantile(replicated, 0.999)))
    edges = np.unique(
        np.linspace(low, top + 1, min(top + 2 - low, max_bins + 1)).round().astype(int)
    )
    bins = len(edges) - 1

    def counts(values: np.ndarray) -> np.ndarray:
        index = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, bins - 1)
        return np.bincount(index, minlength=bins)

    seen = counts(observed)
    rep = np.array([counts(r) for r in replicated])
    median = np.median(rep, axis=0)
    q05, q95 = np.quantile(rep, [0.05, 0.95], axis=0)
    x = np.arange(bins)
    ax.bar(x, seen, color="#9ecae1", edgecolor="#4a7fb0", label="observed")
    ax.errorbar(
        x,
        median,
        yerr=[median - q05, q95 - median],
        fmt="o",
        color=OBSERVED_COLOR,
        ms=4,
        capsize=2,
        label="replicated: median and 90% interval",
    )
    labels = [str(a) if b - a == 1 else f"{a}-{b - 1}" for a, b in itertools.pairwise(edges)]
    if replicated.max() > top:
        labels[-1] = f"{edges[-2]}+"
    step = max(1, math.ceil(bins / 20))
    ax.set_xticks(x[::step], labels[::step], rotation=45 if bins > 12 else 0)
    ax.legend(frameon=False)


def _sd_prior_figure(model: Model, sds: dict[str, np.ndarray], prior_only: bool = False):
    """Each SD's draws against its prior's density; in a prior predictive run the draws are the
    prior's own, and the figure says so."""
    from matplotlib.figure import Figure

    drawn = "draws from the prior" if prior_only else "posterior"

    priors = [p for block in model.design.blocks for p in model.slot(f"sd_{block.id}").priors]
    n = len(sds)
    columns = min(n, 3)
    rows = math.ceil(n / columns)
    figure = Figure(figsize=(max(4.2 * columns, 7), 3.3 * rows + 0.9))
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, (name, draws), prior in zip(axes, sds.items(), priors):
        draws = draws.ravel()
        top = np.quantile(draws, 0.995) * 1.3
        grid, density = kde(draws, lower=0.0)
        ax.fill_between(grid, density, color=INTERVAL_COLOR, alpha=0.35, lw=0)
        ax.plot(grid, density, color=INTERVAL_COLOR, label=drawn)
        x = np.linspace(0, top, 400)
        prior_y = prior_density(prior, x)
        if prior_y is not None:
            ax.plot(x, prior_y, color=PRIOR_COLOR, ls="--", lw=1.8, label="prior density")
        ax.set_xlim(0, top)
        ax.set_ylim(bottom=0)
        ax.set_title(f"{name}\nprior: {_half(prior)}")
        ax.set_xlabel(name)
        ax.set_ylabel("density")
    for ax in axes[n:]:
        ax.set_visible(False)
    legend = {label: h for ax in axes[:n] for h, label in zip(*ax.get_legend_handles_labels())}
    figure.legend(legend.values(), legend.keys(), loc="outside lower center", ncols=2)
    figure.suptitle(f"Group-level SDs: {drawn} (filled) against the prior density (dashed)")
    return figure


def _mark_prior_only(figure) -> None:
    """A prior predictive run: every plot says its draws come from the prior alone."""
    mark = "Sampled from the prior only (no data used)"
    title = figure.get_suptitle()
    if "prior" not in title:  # the SD plot names the prior's draws itself
        title = title.replace("posterior", "prior").replace("Posterior", "Prior")
    figure.suptitle(f"{mark}\n{title}" if title else mark)


def _half(prior: Prior) -> str:
    if prior.distribution == "flat":
        return "flat (improper)"
    real = DISTRIBUTIONS[prior.distribution].support == "real"
    return f"half {prior}" if real else str(prior)


def _file_part(text: str) -> str:
    return re.sub(r"[^\w.-]+", "-", text).strip("-") or "term"


def _unique(figures: list[tuple[str, Callable]]) -> list[tuple[str, Callable]]:
    seen: dict[str, int] = {}
    out = []
    for name, figure in figures:
        seen[name] = seen.get(name, 0) + 1
        out.append((name if seen[name] == 1 else f"{name}_{seen[name]}", figure))
    return out

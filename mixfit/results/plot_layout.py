"""Axes placed in a figure from the measured sizes of their texts, once, just before it is saved.

matplotlib's constrained layout did the same job at more than a third of the plots' cost: it asks
every axis for its tight bounding box (each tick label's extent, measured anew) twice per layout,
and saving a figure that has a layout engine draws it once more first. Here each tick label, title,
axis label, suptitle and legend is measured once, on the Agg canvas the figure is then saved with,
and the axes of the figure's grid (``figure.subplots``, with its height and width ratios) get the
margins the largest of them need, row by row and column by column.
"""

from __future__ import annotations

from matplotlib import rcParams
from matplotlib.backends.backend_agg import FigureCanvasAgg

PAD = 3 / 72  # inches of space around each axes' texts, and at the figure's edges (as constrained)
SPACE = 3 / 72  # inches between an axes' texts and the next text out (label, title)


def place(figure) -> None:
    """Position the visible axes of ``figure`` (all made by one ``figure.subplots``) so that
    their tick labels, axis labels and titles, the suptitle and the figure's legends fit."""
    renderer = FigureCanvasAgg(figure).get_renderer()
    inch = figure.dpi
    width, height = figure.get_size_inches()
    axes = [ax for ax in figure.axes if ax.get_visible() and ax.get_subplotspec() is not None]
    if not axes:
        return
    grid = axes[0].get_subplotspec().get_gridspec()
    rows, columns = grid.get_geometry()
    needs = {ax: _needs(ax, renderer, inch) for ax in axes}
    left, right = [PAD] * columns, [PAD] * columns
    top, bottom = [PAD] * rows, [PAD] * rows
    for ax, (ax_left, ax_right, ax_bottom, ax_top) in needs.items():
        spec = ax.get_subplotspec()
        left[spec.colspan.start] = max(left[spec.colspan.start], ax_left)
        right[spec.colspan.stop - 1] = max(right[spec.colspan.stop - 1], ax_right)
        top[spec.rowspan.start] = max(top[spec.rowspan.start], ax_top)
        bottom[spec.rowspan.stop - 1] = max(bottom[spec.rowspan.stop - 1], ax_bottom)
    above = max((_suptitle_room(t, renderer, inch, height) for t in figure.texts), default=0.0)
    below = sum(_legend_room(legend, renderer, inch) for legend in figure.legends)
    column_widths = _shares(width - sum(left) - sum(right), grid.get_width_ratios(), columns)
    row_heights = _shares(
        height - above - below - sum(top) - sum(bottom), grid.get_height_ratios(), rows
    )
    x = [sum(left[: c + 1]) + sum(right[:c]) + sum(column_widths[:c]) for c in range(columns)]
    y_top = [
        height - above - sum(top[: r + 1]) - sum(bottom[:r]) - sum(row_heights[:r])
        for r in range(rows)
    ]
    for ax in axes:
        spec = ax.get_subplotspec()
        c0, c1 = spec.colspan.start, spec.colspan.stop - 1
        r0, r1 = spec.rowspan.start, spec.rowspan.stop - 1
        x0, x1 = x[c0], x[c1] + column_widths[c1]
        y1, y0 = y_top[r0], y_top[r1] - row_heights[r1]
        ax.set_position([x0 / width, y0 / height, (x1 - x0) / width, (y1 - y0) / height])


def _needs(ax, renderer, inch: float) -> tuple[float, float, float, float]:
    """Inches an axes needs outside its frame: left, right, bottom, top."""
    x_labels = _tick_labels(ax.xaxis)
    y_labels = _tick_labels(ax.yaxis)
    x_tick = max((_size(t, renderer)[1] for t in x_labels), default=0.0) / inch
    y_tick = max((_size(t, renderer)[0] for t in y_labels), default=0.0) / inch
    # a tick label overhangs the frame by half its width at the right end of the x axis
    overhang = max((_size(t, renderer)[0] for t in x_labels[-1:]), default=0.0) / inch / 2
    tick_room = _tick_room(ax.xaxis) if x_labels else 0.0
    left = y_tick + (_tick_room(ax.yaxis) if y_labels else 0.0)
    left += _label_room(ax.yaxis, renderer, inch, 0)
    bottom = x_tick + tick_room + _label_room(ax.xaxis, renderer, inch, 1)
    legend = ax.get_legend()
    above = _legend_above(legend, renderer, inch) if legend is not None else 0.0
    top = max(_title_room(ax, renderer, inch), above)
    return left + PAD, overhang + PAD, bottom + PAD, top + PAD


def _tick_labels(axis) -> list:
    """The tick labels an axis will draw: the visible, non-empty ones within its view."""
    axis.get_majorticklabels()  # gives each tick its place and text from the locator and formatter
    low, high = sorted(axis.get_view_interval())
    slack = 1e-9 * max(abs(high - low), 1e-300)
    return [
        tick.label1
        for tick in axis.get_major_ticks()
        if tick.label1.get_visible()
        and tick.label1.get_text()
        and low - slack <= tick.get_loc() <= high + slack
    ]


def _size(text, renderer) -> tuple[float, float]:
    box = text.get_window_extent(renderer)
    return box.width, box.height


def _tick_room(axis) -> float:
    """Inches of tick mark and its pad between the frame and a tick label."""
    tick = axis.get_major_ticks(1)[0]
    return (tick.get_tick_padding() + tick.get_pad()) / 72


def _label_room(axis, renderer, inch: float, dimension: int) -> float:
    label = axis.label
    if not label.get_visible() or not label.get_text():
        return 0.0
    return _size(label, renderer)[dimension] / inch + axis.labelpad / 72 + SPACE


def _title_room(ax, renderer, inch: float) -> float:
    if not ax.title.get_text():  # mixfit's titles are centred: ax.title
        return 0.0
    return _size(ax.title, renderer)[1] / inch + SPACE + rcParams["axes.titlepad"] / 72


def _legend_above(legend, renderer, inch: float) -> float:
    """A legend anchored above its axes (bbox_to_anchor's y past 1) takes room at the top."""
    anchor = legend.get_bbox_to_anchor()
    frame = legend.axes.bbox
    if anchor.y0 <= frame.y1:
        return 0.0
    return (anchor.y0 - frame.y1 + legend.get_window_extent(renderer).height) / inch


def _suptitle_room(text, renderer, inch: float, height: float) -> float:
    """The suptitle (mixfit's one figure text), moved to hang from the top edge less PAD: the
    room above the axes it takes."""
    if not text.get_text():
        return 0.0
    text.set_y(1 - PAD / height)
    text.set_verticalalignment("top")
    return PAD + _size(text, renderer)[1] / inch + SPACE


def _legend_room(legend, renderer, inch: float) -> float:
    """A figure legend at its lower centre: its height and its pad from the edge."""
    pad = legend.borderaxespad * legend.prop.get_size_in_points() / 72
    return legend.get_window_extent(renderer).height / inch + pad


def _shares(total: float, ratios, n: int) -> list[float]:
    ratios = list(ratios) if ratios is not None else [1.0] * n
    return [max(total, 0.0) * r / sum(ratios) for r in ratios]

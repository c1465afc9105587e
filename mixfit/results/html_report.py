"""report.html: the summary, the tables, the diagnostics verdict and every plot on one page.

The page is self-contained: images are embedded as data URIs, the style is inline, and nothing is
fetched from the network or run as a script, so it opens the same from a laptop, a CI artefact or an
e-mail attachment.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mixfit.results.numbers import formatted

COLLAPSE_ROWS = 30  # longer tables start folded (<details>), so the plots stay near the top
MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       color: #1d2329; background: #fff; line-height: 1.45; }
main { max-width: 1100px; margin: 0 auto; padding: 1.5rem 2rem 4rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.25rem; border-bottom: 1px solid #d0d7de; padding-bottom: .3rem;
     margin-top: 2.2rem; }
h3 { font-size: 1.05rem; margin: 1.4rem 0 .5rem; }
nav a { margin-right: 1rem; color: #0b5cad; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: .9rem 1rem;
      overflow-x: auto; font-size: .85rem; line-height: 1.35; }
.verdict { white-space: pre-wrap; border-left: 5px solid #3b6ea8; background: #eef4fb;
           padding: .7rem 1rem; border-radius: 4px; font-family: ui-monospace, monospace; }
table { border-collapse: collapse; font-size: .85rem; margin: .3rem 0 1rem; }
th, td { padding: .25rem .65rem; border-bottom: 1px solid #e3e7eb; text-align: left; }
th { background: #f0f3f6; position: sticky; top: 0; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:nth-child(even) { background: #fafbfc; }
details > summary { cursor: pointer; color: #0b5cad; margin: .3rem 0; }
figure { margin: 1.2rem 0 2rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #e3e7eb; }
figcaption { font-size: .85rem; color: #57606a; margin-top: .3rem; }
"""


@dataclass
class Section:
    """A further part of the page (e.g. the classical fit's): a note, tables and plots."""

    key: str
    heading: str
    note: str
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    plots: list[Path] = field(default_factory=list)


def write_html(
    outdir: Path,
    summary_text: str,
    tables: dict[str, pd.DataFrame],
    verdict: str,
    plots: list[Path],
    extra: Sequence[Section] = (),
    name: str | None = None,
) -> Path:
    """Write ``outdir/report.html`` and return its path. The title names the results folder:
    ``name``, or ``outdir``'s own name (not that of a staging folder the page is written into)."""
    title = f"mixfit results: {name or outdir.resolve().name}"
    sections = [
        ("diagnostics", "Diagnostics", f'<p class="verdict">{_text(verdict)}</p>'),
        ("summary", "Summary", f"<pre>{_text(summary_text)}</pre>"),
    ]
    if tables:
        sections.append(("tables", "Tables", "\n".join(_table(n, t) for n, t in tables.items())))
    if plots:
        sections.append(("plots", "Plots", "\n".join(_figure(p) for p in plots)))
    for part in extra:
        parts = [f'<p class="verdict">{_text(part.note)}</p>']
        parts += [_table(n, t) for n, t in part.tables.items()] + [_figure(p) for p in part.plots]
        sections.append((part.key, part.heading, "\n".join(parts)))
    nav = " ".join(f'<a href="#{key}">{heading}</a>' for key, heading, _ in sections)
    body = "\n".join(
        f'<section id="{key}">\n<h2>{heading}</h2>\n{content}\n</section>'
        for key, heading, content in sections
    )
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_text(title)}</title>
<style>{CSS}</style>
</head>
<body>
<main>
<h1>{_text(title)}</h1>
<nav>{nav}</nav>
{body}
</main>
</body>
</html>
"""
    path = outdir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


def _text(value: str) -> str:
    return html.escape(value, quote=True)


def _table(name: str, frame: pd.DataFrame) -> str:
    anchor = "table-" + "".join(c if c.isalnum() else "-" for c in name)
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    head = "".join(
        f'<th class="num">{_text(str(c))}</th>' if num else f"<th>{_text(str(c))}</th>"
        for c, num in zip(frame.columns, numeric)
    )
    columns = [
        _numbers(frame[c]) if num else [_cell(v) for v in frame[c]]
        for c, num in zip(frame.columns, numeric)
    ]
    rows = "\n".join(
        "<tr>"
        + "".join(
            f'<td class="num">{v}</td>' if num else f"<td>{v}</td>" for v, num in zip(row, numeric)
        )
        + "</tr>"
        for row in zip(*columns)
    )
    markup = f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}\n</tbody>\n</table>"
    heading = f'<h3 id="{_text(anchor)}">{_text(name)}</h3>'
    if len(frame) <= COLLAPSE_ROWS:
        return f"{heading}\n{markup}"
    return (
        f"{heading}\n<details><summary>show all {len(frame)} rows</summary>\n{markup}\n</details>"
    )


def _cell(value) -> str:
    return "" if pd.isna(value) else _text(str(value))


def _numbers(column: pd.Series) -> list[str]:
    """A numeric column with the same decimals throughout (R's rule); counts as whole numbers."""
    if pd.api.types.is_integer_dtype(column):
        return ["" if pd.isna(v) else str(int(v)) for v in column]
    return formatted(column.astype(float))


def _figure(path: Path) -> str:
    mime = MIME.get(path.suffix.lower(), "application/octet-stream")
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    name = _text(path.name)
    return (
        f'<figure id="plot-{_text(path.stem)}">\n'
        f'<img src="data:{mime};base64,{data}" alt="{_text(path.stem)}">\n'
        f"<figcaption>{name}</figcaption>\n</figure>"
    )

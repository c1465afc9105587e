"""What a fit shows on the terminal: progress while it runs (rich), then the summary.

rich draws live progress only on a terminal; elsewhere each stage is one plain line, so logs of
batch jobs hold no control characters.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from rich.console import Console as RichConsole
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from mixfit.engines.protocol import Progress as ProgressCallback


class Console:
    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.out = RichConsole(highlight=False)
        self.err = RichConsole(stderr=True, highlight=False)

    @contextmanager
    def progress(self) -> Iterator[ProgressCallback]:
        if self.quiet:
            yield lambda stage, fraction, message: None
            return
        if not self.err.is_terminal:
            yield self._plain_lines()
            return
        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=self.err,
            transient=True,
        )
        tasks: dict[str, int] = {}

        def update(stage: str, fraction: float | None, message: str) -> None:
            if stage == "backend":
                bar.console.print(message)
                return
            if stage not in tasks:
                tasks[stage] = bar.add_task(message, total=None if fraction is None else 1.0)
            if fraction is not None:
                bar.update(tasks[stage], total=1.0, completed=fraction, description=message)
            else:
                bar.update(tasks[stage], description=message)

        with bar:
            yield update

    def _plain_lines(self) -> ProgressCallback:
        said: set[str] = set()

        def update(stage: str, fraction: float | None, message: str) -> None:
            if message not in said:
                said.add(message)
                self.err.print(message, markup=False)

        return update

    def summary(self, text: str, outdir: Path) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()
        if not self.quiet:
            self.err.print(f"Results written to {outdir}", markup=False)

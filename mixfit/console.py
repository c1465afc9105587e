"""What a fit shows on the terminal: progress while it runs (rich), then the summary.

On a terminal rich draws a live display, redrawn ten times a second: the current stage, the run's
share of iterations done with the time elapsed and an estimate of the time left, and a line per
chain (its iteration, warming up or sampling) where the engine reports chains. Elsewhere (a log file, a
batch job) every line is plain text: each stage once, and the sampling's progress at each further
tenth (at most every 2 s, and at least every 30 s while it moves), so logs hold no control
characters.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console as RichConsole
from rich.progress import (
    BarColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from mixfit.engines.protocol import Progress as ProgressCallback

# what a fit does between its last draw and its first result file
AFTER_SAMPLING = "Sampling done: deriving quantities from the draws"


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
            yield PlainLines(
                lambda line: self.err.print(line, markup=False, highlight=False, soft_wrap=True)
            )
            return
        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            TextColumn("elapsed,"),
            TimeRemainingColumn(),
            TextColumn("left"),
            console=self.err,
            transient=True,
        )
        with bar:
            yield LiveDisplay(bar)

    def summary(self, text: str, outdir: Path) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()
        if not self.quiet:
            self.err.print(f"Results written to {outdir}", markup=False)


class LiveDisplay:
    """Progress on a terminal: the current stage (each new one replaces those before it, the
    chains' lines once sampling is over), and under the sampling a line per chain, in order."""

    def __init__(self, bar: Progress):
        self.bar = bar
        self.tasks: dict[str, int] = {}  # stage -> rich's task

    def __call__(self, stage: str, fraction: float | None, message: str) -> None:
        if stage == "backend":
            self.bar.console.print(message, markup=False)
            return
        chain = stage.startswith("chain ")
        description = f"  {message}" if chain else message
        if stage not in self.tasks and not chain:
            for done in [s for s in self.tasks if stage != "sample" or not s.startswith("chain ")]:
                self.bar.remove_task(self.tasks.pop(done))
        if stage not in self.tasks:
            self._add(stage, description, fraction)
            if chain:
                self._chains_in_order()
        if fraction is None:
            self.bar.update(self.tasks[stage], description=description)
        else:
            self.bar.update(
                self.tasks[stage], total=1.0, completed=fraction, description=description
            )
        if stage == "sample" and fraction is not None and fraction >= 1.0:
            self("finish", None, AFTER_SAMPLING)

    def shown(self) -> list[str]:
        """The lines on display, top to bottom."""
        return [task.description for task in self.bar.tasks]

    def _add(self, stage: str, description: str, fraction: float | None) -> None:
        total = None if fraction is None else 1.0
        self.tasks[stage] = self.bar.add_task(description, total=total, completed=fraction or 0)

    def _chains_in_order(self) -> None:
        """Chains listed 1, 2, 3, ... whichever reported first: those numbered after the newest
        move below it."""
        chains = sorted((s for s in self.tasks if s.startswith("chain ")), key=_chain_number)
        newest = max(chains, key=lambda s: self.tasks[s])
        for stage in chains[chains.index(newest) + 1 :]:
            task = next(t for t in self.bar.tasks if t.id == self.tasks[stage])
            self.bar.remove_task(self.tasks.pop(stage))
            self._add(stage, task.description, None if task.total is None else task.completed)


def _chain_number(stage: str) -> int:
    return int(stage.split()[1])


class PlainLines:
    """Progress as plain lines, for output that is not a terminal."""

    STEP = 0.1  # a line per further tenth of the iterations ...
    MIN_SECONDS = 2.0  # ... but not more often than this
    MAX_SECONDS = 30.0  # and at least this often while sampling moves

    def __init__(self, write: Callable[[str], None], clock: Callable[[], float] = time.monotonic):
        self._write = write
        self._clock = clock
        self._said: set[str] = set()
        self._chains: dict[str, str] = {}
        self._started: float | None = None
        self._last = (0.0, 0.0)  # (fraction, time) of the last sampling line

    def __call__(self, stage: str, fraction: float | None, message: str) -> None:
        if stage.startswith("chain "):
            self._chains[stage] = message
            return
        if stage == "sample" and fraction is not None:
            self._sampling(fraction, message)
            if fraction >= 1.0:
                self("finish", None, AFTER_SAMPLING)
            return
        if message not in self._said:
            self._said.add(message)
            self._write(message)

    def _sampling(self, fraction: float, message: str) -> None:
        now = self._clock()
        if self._started is None:
            self._started, self._last = now, (fraction, now)
            if message not in self._said:
                self._said.add(message)
                self._write(message)
            return
        done, when = self._last
        moved = fraction > done
        due = (
            (fraction >= 1.0 and moved)
            or (fraction - done >= self.STEP and now - when >= self.MIN_SECONDS)
            or (moved and now - when >= self.MAX_SECONDS)
        )
        if not due:
            return
        self._last = (fraction, now)
        elapsed = now - self._started
        line = f"{message}: {100 * fraction:.0f}%"
        if self._chains:
            chains = sorted(self._chains, key=_chain_number)
            line += " (" + ", ".join(self._chains[c] for c in chains) + ")"
        line += f", {_duration(elapsed)} elapsed"
        if fraction < 1.0:
            line += f", about {_duration(elapsed * (1 - fraction) / max(fraction, 1e-9))} left"
        self._write(line)


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"

"""Sampling progress from an engine's own output: per chain, its iteration and whether it is still
warming up; for the run, the fraction done.

Engines report through a ``Progress`` callback (stage, fraction, message): each chain as stage
``chain N``, the run as stage ``sample``. stanli and CmdStan print CmdStan's progress lines
(``Chain [1] Iteration:  100 / 2000 [  5%]  (Warmup)``); ``ChainLines`` reads them in place of
stdout. PyStan prints only the run's total (``Sampling:  25% (2000/8000)``).
"""

from __future__ import annotations

import io
import re
import threading

from mixfit.engines.protocol import Progress

CHAIN_LINE = re.compile(
    r"Chain \[(\d+)\] Iteration:\s*(\d+)\s*/\s*(\d+)\s*\[\s*\d+%\]\s*\((Warmup|Sampling)\)"
)
TIMING_LINE = re.compile(r"seconds \((Warm-up|Sampling|Total)\)")


def refresh_every(iterations: int, asked: int | None = None) -> int:
    """How many iterations between a chain's progress reports: ``--refresh`` (0: none), else
    about 200 reports per chain, so a slow run still moves every few seconds and a fast one is not
    slowed by them."""
    return max(1, iterations // 200) if asked is None else asked


class ChainProgress:
    """Each chain's latest iteration, turned into progress calls."""

    def __init__(self, progress: Progress, chains: int, iterations: int):
        self._progress = progress
        self._iterations = iterations
        self._done = [0] * chains
        self._warmup = [True] * chains

    def update(self, chain: int, iteration: int, warmup: bool) -> None:
        """``chain`` counts from 1, as Stan prints it."""
        index = chain - 1
        if not 0 <= index < len(self._done):
            return
        self._done[index] = iteration
        self._warmup[index] = warmup
        phase = "warmup" if warmup else "sampling"
        total = self._iterations
        self._progress(
            f"chain {chain}", iteration / total, f"chain {chain}: {phase} {iteration}/{total}"
        )
        overall = sum(self._done) / (total * len(self._done))
        self._progress("sample", overall, f"Sampling {len(self._done)} chains")


class ChainLines(io.TextIOBase):
    """Stands in for stdout while an engine prints CmdStan-shaped progress: reports each progress
    line to a ``ChainProgress`` and keeps every other line (timings, warnings) as a message."""

    def __init__(self, chains: ChainProgress):
        self._chains = chains
        self._partial = ""
        self._messages: list[str] = []
        self._lock = threading.Lock()  # chains may print from their own threads

    def write(self, text: str) -> int:
        with self._lock:
            lines = (self._partial + text).split("\n")
            self._partial = lines.pop()
            for line in lines:
                self._read(line)
        return len(text)

    def _read(self, line: str) -> None:
        match = CHAIN_LINE.search(line)
        if match:
            chain, iteration, _, phase = match.groups()
            self._chains.update(int(chain), int(iteration), phase == "Warmup")
        elif line.strip() and not TIMING_LINE.search(line):
            self._messages.append(line.strip())

    def isatty(self) -> bool:
        return False

    def messages(self) -> list[str]:
        with self._lock:
            return self._messages + ([self._partial.strip()] if self._partial.strip() else [])

"""Progress on a terminal: the stage, then the chains in order, then what comes after sampling;
off a terminal: plain lines, each stage once, sampling at each further tenth (no more often than
every 2 s, at least every 30 s while it moves), with chains and the time left."""

from __future__ import annotations

import io

from rich.console import Console as RichConsole
from rich.progress import Progress

from mixfit.console import AFTER_SAMPLING, LiveDisplay, PlainLines


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_plain_lines_say_each_stage_once_and_sampling_as_it_moves():
    lines: list[str] = []
    clock = Clock()
    show = PlainLines(lines.append, clock)
    show("compile", None, "Loading the Stan program")
    show("compile", None, "Loading the Stan program")
    show("sample", 0.0, "Sampling 2 chains")
    for second, (a, b) in enumerate([(100, 100), (400, 200), (800, 600), (1500, 1400)], 1):
        clock.now = 100.0 + 2 * second
        show("chain 1", a / 2000, f"chain 1: warmup {a}/2000")
        show("chain 2", b / 2000, f"chain 2: warmup {b}/2000")
        show("sample", (a + b) / 4000, "Sampling 2 chains")
    assert lines[:2] == ["Loading the Stan program", "Sampling 2 chains"]
    # 5% at 2 s is not yet a tenth; 15% at 4 s, 35% at 6 s and 72% at 8 s are
    assert lines[2:] == [
        (
            "Sampling 2 chains: 15% (chain 1: warmup 400/2000, chain 2: warmup 200/2000), "
            "4 s elapsed, about 23 s left"
        ),
        (
            "Sampling 2 chains: 35% (chain 1: warmup 800/2000, chain 2: warmup 600/2000), "
            "6 s elapsed, about 11 s left"
        ),
        (
            "Sampling 2 chains: 72% (chain 1: warmup 1500/2000, chain 2: warmup 1400/2000), "
            "8 s elapsed, about 3 s left"
        ),
    ]


def test_plain_lines_keep_a_slow_run_moving_and_say_when_it_ends():
    lines: list[str] = []
    clock = Clock()
    show = PlainLines(lines.append, clock)
    show("sample", 0.0, "Sampling 4 chains")
    clock.now += 31  # a slow run: 1% in half a minute still gets a line
    show("sample", 0.01, "Sampling 4 chains")
    clock.now += 0.5  # then nothing new for a while: no line
    show("sample", 0.01, "Sampling 4 chains")
    clock.now += 1
    show("sample", 1.0, "Sampling 4 chains")  # the end, however soon
    assert lines == [
        "Sampling 4 chains",
        "Sampling 4 chains: 1%, 31 s elapsed, about 51 min 09 s left",
        "Sampling 4 chains: 100%, 32 s elapsed",
        AFTER_SAMPLING,  # what comes next is named, not a run at 100% that says nothing
    ]


def live() -> LiveDisplay:
    terminal = RichConsole(file=io.StringIO(), force_terminal=True, width=120)
    return LiveDisplay(Progress(console=terminal, transient=True))


def test_the_live_display_lists_chains_in_order_whichever_reports_first():
    show = live()
    show("compile", None, "Loading the Stan program")
    show("sample", 0.0, "Sampling 4 chains")
    for chain in (3, 1, 4, 2):
        show(f"chain {chain}", 0.1, f"chain {chain}: warmup 100/1000")
    show("chain 3", 0.2, "chain 3: warmup 200/1000")
    assert show.shown() == [
        "Sampling 4 chains",
        "  chain 1: warmup 100/1000",
        "  chain 2: warmup 100/1000",
        "  chain 3: warmup 200/1000",
        "  chain 4: warmup 100/1000",
    ]


def test_the_live_display_names_each_stage_after_sampling():
    show = live()
    show("sample", 0.0, "Sampling 2 chains")
    show("chain 1", 1.0, "chain 1: sampling 1000/1000")
    show("chain 2", 1.0, "chain 2: sampling 1000/1000")
    show("sample", 1.0, "Sampling 2 chains")
    assert show.shown() == [AFTER_SAMPLING]
    show("write", None, "Writing the results into out")
    assert show.shown() == ["Writing the results into out"]
    show("plots", None, "Drawing the plots and report.html")
    assert show.shown() == ["Drawing the plots and report.html"]

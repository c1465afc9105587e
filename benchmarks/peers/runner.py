"""Run a peer on a benchmark case as its user would: its script in a process of its own, timed and
polled for memory as mixfit's fits are (benchmarks/run.py's measure), stopped at a time cap.

bambi-nutpie and bambi-pymc run benchmarks/peers/bambi_run.py with the interpreter given (one
that has `.[bench]` installed); brms runs brms_run.R through Rscript where R and brms are
installed, else its saved figures (tests/reference) stand in, marked "saved, not run".
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from peers.results import read_output, saved_brms

HERE = Path(__file__).resolve().parent
PEERS = ("bambi-nutpie", "bambi-pymc", "brms")


def command(peer: str, case: tuple[Path, str, str], out: Path, python: str) -> list[str]:
    data, formula, family = case
    if peer == "brms":
        return ["Rscript", str(HERE / "brms_run.R"), str(data), formula, family, str(out)]
    sampler = peer.removeprefix("bambi-")
    script = str(HERE / "bambi_run.py")
    return [python, script, str(data), formula, family, "--sampler", sampler, "--out", str(out)]


def brms_unavailable() -> str | None:
    """Why brms can't run here, or None: Rscript on the PATH and `library(brms)` loading."""
    if shutil.which("Rscript") is None:
        return "R is not installed (no Rscript on the PATH)"
    loads = subprocess.run(
        ["Rscript", "-e", "suppressPackageStartupMessages(library(brms))"],
        capture_output=True,
        text=True,
        check=False,
    )
    if loads.returncode:
        # R's first line names the cause ("there is no package called 'brms'"), its last is
        # "Execution halted"
        return f"brms does not load in R: {(loads.stderr.strip().splitlines() or ['?'])[0]}"
    return None


def stop_tree(fired: threading.Event) -> None:
    """At the cap: kill every process this one started (the benchmark runs one at a time)."""
    import psutil  # the bench extra's; the tests of the rest run without it

    fired.set()
    for process in psutil.Process().children(recursive=True):
        try:
            process.kill()
        except psutil.Error:
            pass


def capped(measure, argv: list[str], env: dict, cap_seconds: float):
    """measure(argv, env) with the process tree killed after cap_seconds; and whether it was."""
    fired = threading.Event()
    timer = threading.Timer(cap_seconds, stop_tree, args=(fired,))
    timer.start()
    try:
        seconds, peak, done = measure(argv, env)
    finally:
        timer.cancel()
    return seconds, peak, done, fired.is_set()


def run_peer(
    measure, name: str, case: tuple, peer: str, *, python: str, cap_seconds: float
) -> dict:
    """One peer on one case: a row for results.json, with its status: ran, cap (stopped at the
    time cap), failed (the last lines of its stderr), saved, not run, or not run (why)."""
    row: dict = {"case": name, "peer": peer, "cap_seconds": cap_seconds}
    if peer == "brms" and (reason := brms_unavailable()):
        saved = saved_brms(name)
        if saved is None:
            return {**row, "status": f"not run: {reason}"}
        saved.update(date="saved (tests/reference)", load_average=None)
        return {**row, "status": "saved, not run", "reason": reason, **saved}
    with tempfile.TemporaryDirectory(prefix="mixfit-peer-") as scratch:
        out = Path(scratch) / "result.json"
        argv = command(peer, case, out, python)
        seconds, peak, done, hit = capped(measure, argv, dict(os.environ), cap_seconds)
        row.update(wall_seconds=round(seconds, 2), peak_memory_gb=round(peak, 2))
        if hit:
            return {**row, "status": "cap"}
        if done.returncode or not out.exists():
            failed = {**row, "status": "failed", "returncode": done.returncode}
            if done.returncode == -9:  # SIGKILL, not ours: the kernel's, out of memory
                failed["status"] = "failed: killed (SIGKILL, out of memory?)"
            return {**failed, "stderr": done.stderr.strip().splitlines()[-5:]}
        return {**row, "status": "ran", **read_output(out)}


def run_peers(measure, name: str, case: tuple, peers: list[str], args) -> list[dict]:
    """Each peer on one case, one after another, with run.py's --peer-python and
    --peer-cap-minutes."""
    rows = []
    for peer in peers:
        print(f"{name} on {peer} ...", file=sys.stderr, flush=True)
        cap = args.peer_cap_minutes * 60
        rows.append(run_peer(measure, name, case, peer, python=args.peer_python, cap_seconds=cap))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows

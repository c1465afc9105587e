"""The same cases fitted by two mixfit source trees, alternating, in one run: does a change leave
the benchmark's cases as fast as before?

    python benchmarks/before_after.py BEFORE_TREE AFTER_TREE [--cases sleepstudy radon] [--rounds 3]

Each round fits every case once with each tree (the order alternating between rounds), as
benchmarks/run.py runs a case (4 chains x 2000, seed 1, stanli, --no-plots --quiet, a warm cache),
and records each run's wall seconds and its run.json's sampling seconds. Writes
benchmarks/before_after.json and prints the median ratio after / before per case.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import CASES

HERE = Path(__file__).resolve().parent


def fit(tree: Path, case: str, scratch: Path) -> dict:
    data, formula, family = CASES[case]
    out = scratch / f"{case}-{tree.name}"
    command = [
        sys.executable,
        "-m",
        "mixfit",
        "fit",
        str(data),
        "-f",
        formula,
        "--family",
        family,
        "-o",
        str(out),
        "--backend",
        "stanli",
        "--seed",
        "1",
        "--no-plots",
        "--quiet",
        "--force",
    ]
    env = {**os.environ, "PYTHONPATH": str(tree), "MIXFIT_CACHE_DIR": str(scratch / "cache")}
    start = time.perf_counter()
    done = subprocess.run(
        command, check=False, env=env, capture_output=True, text=True, cwd=scratch
    )
    wall = time.perf_counter() - start
    if done.returncode not in (0, 4):
        raise SystemExit(f"{case} on {tree}: exit {done.returncode}: {done.stderr[-500:]}")
    run = json.loads((out / "run.json").read_text())
    return {"wall": wall, "sampling": run["sampling_seconds"], "load": os.getloadavg()[0]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--cases", nargs="+", default=["sleepstudy", "radon"])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    results: dict = {case: {"before": [], "after": []} for case in args.cases}
    with tempfile.TemporaryDirectory(prefix="mixfit-ab-") as scratch:
        for case in args.cases:  # a warm cache and warm file system for both trees
            for tree in trees.values():
                fit(tree, case, Path(scratch))
        for round_ in range(args.rounds):
            order = ["before", "after"] if round_ % 2 == 0 else ["after", "before"]
            for case in args.cases:
                for name in order:
                    results[case][name].append(fit(trees[name], case, Path(scratch)))
    summary = {}
    for case, runs in results.items():
        ratio = {
            key: statistics.median(a[key] / b[key] for a, b in zip(runs["after"], runs["before"]))
            for key in ("wall", "sampling")
        }
        summary[case] = ratio
        print(
            f"{case}: after / before, median of {args.rounds} pairs: wall {ratio['wall']:.3f}, "
            f"sampling {ratio['sampling']:.3f}"
        )
    record = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "trees": {k: str(v) for k, v in trees.items()},
        "runs": results,
        "median_ratios": summary,
    }
    (HERE / "before_after.json").write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()

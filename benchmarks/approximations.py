"""Pathfinder and Laplace against NUTS, case by case: time and error of the approximations.

    python benchmarks/approximations.py [--cases insteval_73k,sleepstudy] [--out benchmarks]

Each case is fitted three times as a user would (run.py's command: 4 chains x 2000 for NUTS,
`--algorithm pathfinder` and `--algorithm laplace` with their 1,000 draws), one after the other.
Writes OUT/approximations.json and .md: wall seconds, peak memory, Pareto k, and each
approximation's error against NUTS: population effects as |mean - NUTS mean| / NUTS posterior SD
(target: within 0.2), SDs and family parameters as |mean / NUTS mean - 1| (target: within 10%).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import pandas as pd
from run import CASES, HERE, fit_command, measure

ALGORITHMS = ("sampling", "pathfinder", "laplace")


def errors(approximate: Path, nuts: Path) -> dict:
    """The approximation's largest errors against NUTS, and which parameter has each."""
    fa, fn = (pd.read_csv(p / "fixef.csv").set_index("term") for p in (approximate, nuts))
    in_sd = ((fa["Estimate"] - fn["Estimate"]).abs() / fn["Est.Error"]).round(3)
    va, vn = (
        pd.read_csv(p / "varcorr.csv").assign(key=lambda f: f["group"] + " " + f["param"])
        for p in (approximate, nuts)
    )
    va, vn = (f[~f["param"].str.startswith("cor(")].set_index("key") for f in (va, vn))
    relative = ((va["Estimate"] / vn["Estimate"]) - 1).abs().round(3)
    return {
        "fixef_error_in_sd": in_sd.to_dict(),
        "max_fixef_error_in_sd": float(in_sd.max()),
        "sd_relative_error": relative.to_dict(),
        "max_sd_relative_error": float(relative.max()),
    }


def run_case(name: str) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="mixfit-approx-") as scratch:
        scratch = Path(scratch)
        env = {**os.environ, "MIXFIT_CACHE_DIR": str(HERE / ".cache")}
        for algorithm in ALGORITHMS:
            command = fit_command(name, "stanli", scratch / algorithm, None)
            command += ["--algorithm", algorithm]
            seconds, peak, done = measure(command, env)
            if done.returncode:
                raise SystemExit(f"{name} with {algorithm} failed: {done.stderr}")
            run = json.loads((scratch / algorithm / "run.json").read_text())
            row = {
                "case": name,
                "algorithm": algorithm,
                "seconds": round(seconds, 2),
                "approximating_seconds": run["sampling_seconds"],
                "peak_memory_gb": round(peak, 2),
                "pareto_k": run.get("pareto_k"),
            }
            if algorithm != "sampling":
                row.update(errors(scratch / algorithm, scratch / "sampling"))
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [
        (
            "| case | algorithm | wall s | its own s | peak GB | Pareto k | max fixef error (NUTS SDs) "
            "| max SD error (relative) |"
        ),
        "|" + " --- |" * 8,
    ]
    for r in rows:
        k = "-" if r["pareto_k"] is None else f"{r['pareto_k']:.2f}"
        lines.append(
            f"| {r['case']} | {r['algorithm']} | {r['seconds']} | {r['approximating_seconds']} | "
            f"{r['peak_memory_gb']} | {k} | {r.get('max_fixef_error_in_sd', '-')} | "
            f"{r.get('max_sd_relative_error', '-')} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="sleepstudy,insteval_73k")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    rows = [row for name in args.cases.split(",") for row in run_case(name) if name in CASES]
    (args.out / "approximations.json").write_text(json.dumps(rows, indent=2) + "\n")
    (args.out / "approximations.md").write_text(markdown(rows))
    print(markdown(rows))


if __name__ == "__main__":
    main()

"""Within-chain threads: the 50,000-row poisson benchmark case, one chain, on 1 and on 2 threads.

    python benchmarks/simulate.py      # once: the large simulated data sets
    python benchmarks/threads.py [--backend stanli] [--threads 1,2]

With more than one thread the likelihood goes through reduce_sum (the rows shared among the
chain's threads); the posterior is the same. Writes benchmarks/threads.json and threads.md.
Run it alone on the machine: the threads compete with anything else running.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from run import HERE, fit_command, measure, read_fit

CASE = "poisson_slope_50k"


def run_threads(threads: int, backend: str, scratch: Path) -> dict:
    outdir = scratch / f"threads-{threads}"
    command = fit_command(CASE, backend, outdir, None)
    command += ["--chains", "1", "--threads-per-chain", str(threads)]
    seconds, peak, done = measure(command, {**os.environ, "MIXFIT_CACHE_DIR": str(HERE / ".cache")})
    if done.returncode:
        raise SystemExit(f"{threads} threads failed: {done.stderr}")
    fit = read_fit(outdir)
    return {
        "threads": threads,
        "backend": backend,
        "seconds": round(seconds, 2),
        "peak_memory_gb": round(peak, 2),
        **fit,
    }


def markdown(results: list[dict]) -> str:
    base = results[0]["sampling_seconds"]
    lines = [
        f"{CASE}, 1 chain x 2000 iterations, seed 1:",
        "",
        "| threads | backend | sampling s | speed-up | min bulk ESS | ESS/s | max R-hat |",
        "|" + " --- |" * 7,
    ]
    for r in results:
        lines.append(
            f"| {r['threads']} | {r['backend']} | {r['sampling_seconds']} | "
            f"{base / r['sampling_seconds']:.2f} | {r['min_bulk_ess']:.0f} | "
            f"{r['ess_per_second']} | {r['max_rhat']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="stanli")
    parser.add_argument("--threads", default="1,2")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mixfit-threads-") as scratch:
        results = [
            run_threads(int(t), args.backend, Path(scratch)) for t in args.threads.split(",")
        ]
    (HERE / "threads.json").write_text(json.dumps(results, indent=2) + "\n")
    (HERE / "threads.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()

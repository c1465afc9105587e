"""The benchmark: time to a trustworthy posterior, cold (empty cache) and warm, per case and engine.

    python benchmarks/simulate.py      # once: the large simulated data sets
    python benchmarks/run.py [--cases sleepstudy,radon] [--engines stanli,cmdstan] [--skip-cold]

Writes benchmarks/results.json and benchmarks/results.md (cases not named keep their last
results). Each fit runs as a user would run it (`mixfit fit ... --no-plots --quiet`), in a
subprocess whose whole process tree is polled for its memory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import arviz as az
import pandas as pd
import psutil

from mixfit.engines import cmdstan

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
SAMPLE = ROOT / "sample_data"

CASES = {
    "sleepstudy": (SAMPLE / "sleepstudy.csv", "Reaction ~ Days + (Days | Subject)", "gaussian"),
    "radon": (
        SAMPLE / "radon.csv",
        "log_radon ~ floor + log_uranium + (1 + floor | county)",
        "gaussian",
    ),
    "bernoulli_crossed_10k": (
        DATA / "bernoulli_crossed_10k.csv", "y ~ x + (1 | subject) + (1 | item)", "bernoulli"
    ),
    "poisson_slope_50k": (DATA / "poisson_slope_50k.csv", "count ~ x + (1 + x | g)", "poisson"),
    "gaussian_slope_500k": (DATA / "gaussian_slope_500k.csv", "y ~ x + (1 + x | g)", "gaussian"),
}

# the engines run side by side, each a column; CmdStan's only where one is installed (CMDSTAN, or
# cmdstanpy's default folder)
ENGINES = ["stanli", "pystan", *(["cmdstan"] if cmdstan.unavailable() is None else [])]

# brms 2.18 through rstan on this kind of machine (tests/reference): end-to-end seconds, summed
# per-chain sampling seconds, smallest bulk ESS over population effects, SDs and correlations.
BRMS = {
    "sleepstudy": {"total_seconds": "41-46", "sampling_seconds": 6.57, "min_bulk_ess": 991},
    "radon": {"total_seconds": "42.5", "sampling_seconds": 12.6, "min_bulk_ess": 664},
}


def measure(command: list[str], env: dict) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall seconds and peak memory (GB) of the command's whole process tree, as the sum of each
    process's proportional set size: forked chain workers share their parent's pages, which a sum
    of resident sizes would count once per process."""
    peak = 0
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    done = threading.Event()

    def poll() -> None:
        nonlocal peak
        root = psutil.Process(process.pid)
        while not done.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_full_info().pss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.1)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - start
    done.set()
    watcher.join()
    return seconds, peak / 1e9, subprocess.CompletedProcess(command, process.returncode, stdout,
                                                            stderr)


def fit_command(name: str, outdir: Path, engine: str) -> list[str]:
    data, formula, family = CASES[name]
    return [sys.executable, "-m", "mixfit", "fit", str(data), "-f", formula, "--family", family,
            "-o", str(outdir), "--seed", "1", "--no-plots", "--quiet", "--backend", engine]


def read_fit(outdir: Path) -> dict:
    run = json.loads((outdir / "run.json").read_text())
    diagnostics = json.loads((outdir / "diagnostics.json").read_text())
    fixef = pd.read_csv(outdir / "fixef.csv")
    varcorr = pd.read_csv(outdir / "varcorr.csv")
    structural = pd.concat([fixef, varcorr[varcorr["group"] != "Residual"]])
    min_ess = float(structural["Bulk_ESS"].min())
    tree_depth = az.from_netcdf(outdir / "draws.nc").sample_stats["tree_depth"]
    return {
        "compile_seconds": run["compile_seconds"],
        "sampling_seconds": run["sampling_seconds"],
        "model_from_cache": run["model_from_cache"],
        "min_bulk_ess": round(min_ess, 1),
        "ess_per_second": round(min_ess / run["sampling_seconds"], 1),
        "max_rhat": round(float(pd.concat([fixef, varcorr])["Rhat"].max()), 4),
        "divergences": diagnostics["run"]["divergent_transitions"],
        "mean_tree_depth": round(float(tree_depth.mean()), 2),
        "checks_ok": diagnostics["ok"],
    }


def run_case(name: str, cold: bool, engine: str) -> dict:
    result: dict = {"case": name, "engine": engine}
    with tempfile.TemporaryDirectory(prefix="mixfit-bench-") as scratch:
        scratch = Path(scratch)
        env = {**os.environ, "MIXFIT_CACHE_DIR": str(scratch / "cache")}
        if not cold:  # warm only: a shared cache, built by an earlier run if need be
            env["MIXFIT_CACHE_DIR"] = str(HERE / ".cache")
            seconds, peak, done = measure(fit_command(name, scratch / "prime", engine), env)
        else:
            seconds, peak, done = measure(fit_command(name, scratch / "cold", engine), env)
            if done.returncode:
                raise SystemExit(f"{name} failed: {done.stderr}")
            result["cold_seconds"] = round(seconds, 2)
            result["cold_compile_seconds"] = read_fit(scratch / "cold")["compile_seconds"]
        seconds, peak, done = measure(fit_command(name, scratch / "warm", engine), env)
        if done.returncode:
            raise SystemExit(f"{name} failed: {done.stderr}")
        result["warm_seconds"] = round(seconds, 2)
        result["peak_memory_gb"] = round(peak, 2)
        result.update(read_fit(scratch / "warm"))
    return result


def help_seconds() -> float:
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mixfit", "--help"], capture_output=True, check=True)
        best = min(best, time.perf_counter() - start)
    return round(best, 3)


def wide_read() -> dict | None:
    """Peak memory of preparing a model on 1M rows x 50 columns, of which it uses 3."""
    path = DATA / "wide_1m.csv"
    if not path.exists():
        return None
    command = [sys.executable, "-m", "mixfit", "stancode", str(path), "-f", "y ~ x + (1 | g)"]
    seconds, peak, done = measure(command, dict(os.environ))
    return {"seconds": round(seconds, 2), "peak_memory_gb": round(peak, 2),
            "file_gb": round(path.stat().st_size / 1e9, 2), "ok": done.returncode == 0}


def markdown(results: list[dict], extra: dict) -> str:
    header = ("| case | engine | cold s | warm s | compile s (cold) | sampling s | min bulk ESS | "
              "ESS/s | max R-hat | divergences | mean tree depth | peak memory GB |")
    lines = [header, "|" + " --- |" * 12]
    for r in results:
        lines.append(
            f"| {r['case']} | {_engine(r)} | {r.get('cold_seconds', '-')} | {r['warm_seconds']} | "
            f"{r.get('cold_compile_seconds', '-')} | {r['sampling_seconds']} | "
            f"{r['min_bulk_ess']:.0f} | {r['ess_per_second']} | {r['max_rhat']} | "
            f"{r['divergences']} | {r.get('mean_tree_depth', '-')} | {r['peak_memory_gb']} |"
        )
    lines.append("")
    lines.append(f"`mixfit --help`: {extra['help_seconds']} s (best of 5).")
    if extra.get("wide_read"):
        w = extra["wide_read"]
        lines.append(f"Preparing a model on a {w['file_gb']} GB CSV (1M rows x 50 columns, 3 used): "
                     f"{w['seconds']} s, peak memory {w['peak_memory_gb']} GB.")
    return "\n".join(lines) + "\n"


def _engine(result: dict) -> str:
    return result.get("engine", "pystan")  # results from before the engines were compared


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--skip-cold", action="store_true")
    args = parser.parse_args()
    # cases not run this time keep their last results, so long cases can be run on their own
    saved = HERE / "results.json"
    kept = json.loads(saved.read_text())["cases"] if saved.exists() else []
    by_case = {(r["case"], _engine(r)): r for r in kept}
    for name in args.cases.split(","):
        for engine in args.engines.split(","):
            print(f"{name} on {engine} ...", file=sys.stderr, flush=True)
            by_case[name, engine] = run_case(name, cold=not args.skip_cold, engine=engine)
            print(json.dumps(by_case[name, engine]), file=sys.stderr, flush=True)
    engines = list(dict.fromkeys([*ENGINES, *(engine for _, engine in by_case)]))
    results = [by_case[c, e] for c in CASES for e in engines if (c, e) in by_case]
    extra = {"help_seconds": help_seconds(), "wide_read": wide_read(), "brms": BRMS,
             "machine": {"cores": os.cpu_count(), "memory_gb": round(
                 psutil.virtual_memory().total / 1e9, 1)}}
    saved.write_text(json.dumps({"cases": results, **extra}, indent=2) + "\n")
    (HERE / "results.md").write_text(markdown(results, extra))
    print(markdown(results, extra))


if __name__ == "__main__":
    main()

"""The benchmark: time to a trustworthy posterior, cold (empty cache) and warm, per case and engine.

    python benchmarks/simulate.py      # once: the large simulated data sets
    python benchmarks/run.py [--cases sleepstudy,radon] [--engines stanli,pystan] [--skip-cold]
                             [--iter 2000] [--out benchmarks]
                             [--peers bambi-nutpie,bambi-pymc,brms] [--peer-python PYTHON]
                             [--peer-cap-minutes 60]

Each case runs on each engine side by side in one run: stanli and PyStan, and CmdStan where it is
installed. Writes OUT/results.json and OUT/results.md (case and engine pairs not run keep their last
results); the ratio table sets stanli against PyStan case by case. Each fit runs as a user would run
it (`mixfit fit ... --backend ENGINE --no-plots --quiet`), in a subprocess whose whole process tree
is polled for its memory. Cold is an empty cache (for stanli: its check on a tiny program included);
warm reuses a cache kept in benchmarks/.cache.

The peers (benchmarks/peers/) run after mixfit's engines on each case, each as its user would run
it, in the same run: bambi on nutpie and on PyMC's NUTS, and brms where R has it (else brms's
saved figures). `--engines none` or `--peers none` leaves either out. The machine's load average
is recorded at the start and the end of each case.
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
from peers import report as peer_report
from peers.runner import PEERS, run_peers

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
        DATA / "bernoulli_crossed_10k.csv",
        "y ~ x + (1 | subject) + (1 | item)",
        "bernoulli",
    ),
    "poisson_slope_50k": (DATA / "poisson_slope_50k.csv", "count ~ x + (1 + x | g)", "poisson"),
    "gaussian_slope_500k": (DATA / "gaussian_slope_500k.csv", "y ~ x + (1 + x | g)", "gaussian"),
    "insteval_73k": (
        DATA / "insteval_73k.csv",
        "y ~ service + (1 | student) + (1 | instructor) + (1 | dept)",
        "gaussian",
    ),
}


def measure(command: list[str], env: dict) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall seconds and peak memory (GB) of the command's whole process tree, as the sum of each
    process's proportional set size: forked chain workers share their parent's pages, which a sum
    of resident sizes would count once per process."""
    peak = 0
    start = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
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
    return (
        seconds,
        peak / 1e9,
        subprocess.CompletedProcess(command, process.returncode, stdout, stderr),
    )


def engines() -> list[str]:
    """stanli and PyStan, and CmdStan where an installation is found."""
    from mixfit.engines import cmdstan

    return ["stanli", "pystan"] + (["cmdstan"] if cmdstan.unavailable() is None else [])


def fit_command(name: str, engine: str, outdir: Path, iterations: int | None) -> list[str]:
    data, formula, family = CASES[name]
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
        str(outdir),
        "--seed",
        "1",
        "--backend",
        engine,
        "--no-plots",
        "--quiet",
    ]
    return command + (["--iter", str(iterations)] if iterations else [])


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
        # posterior means of the SDs, to set beside the simulation's truth (data/truth.json)
        "sd": {
            f"{row.group} {row.param}": round(float(row.Estimate), 4)
            for row in varcorr.itertuples()
            if row.param.startswith("sd(") or row.param == "sigma"
        },
    }


REPEATS = 3  # warm runs of a case whose first takes less than REPEAT_UNDER seconds
REPEAT_UNDER = 10.0


def run_case(name: str, engine: str, cold: bool, iterations: int | None) -> dict:
    result: dict = {"case": name, "engine": engine, "iter": iterations or 2000}
    with tempfile.TemporaryDirectory(prefix="mixfit-bench-") as scratch:
        scratch = Path(scratch)
        env = {**os.environ, "MIXFIT_CACHE_DIR": str(scratch / "cache")}
        if not cold:  # warm only: a shared cache, built by an earlier run if need be
            env["MIXFIT_CACHE_DIR"] = str(HERE / ".cache")
            # the same run: how many draws there are decides whether log_lik and y_rep are in the
            # program; stanli (and nutpie, on stanli's programs) builds nothing, so needs no run before
            if engine not in ("stanli", "nutpie"):
                measure(fit_command(name, engine, scratch / "prime", iterations), env)
        else:
            seconds, peak, done = measure(
                fit_command(name, engine, scratch / "cold", iterations), env
            )
            if done.returncode:
                raise SystemExit(f"{name} on {engine} failed: {done.stderr}")
            result["cold_seconds"] = round(seconds, 2)
            result["cold_compile_seconds"] = read_fit(scratch / "cold")["compile_seconds"]
        runs = []
        while not runs or (runs[0][0] < REPEAT_UNDER and len(runs) < REPEATS):
            outdir = scratch / f"warm{len(runs)}"
            seconds, peak, done = measure(fit_command(name, engine, outdir, iterations), env)
            if done.returncode:
                raise SystemExit(f"{name} on {engine} failed: {done.stderr}")
            runs.append((seconds, peak, outdir))
        # a second or two end to end moves by a tenth from run to run: the median of three
        seconds, peak, outdir = sorted(runs)[len(runs) // 2]
        result["warm_seconds"] = round(seconds, 2)
        if len(runs) > 1:
            result["warm_runs"] = [round(r[0], 2) for r in runs]
        result["peak_memory_gb"] = round(max(r[1] for r in runs), 2)
        result.update(read_fit(outdir))
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
    return {
        "seconds": round(seconds, 2),
        "peak_memory_gb": round(peak, 2),
        "file_gb": round(path.stat().st_size / 1e9, 2),
        "ok": done.returncode == 0,
    }


EARLIER = "2026-11-25"  # the rows saved before runs were dated: that run, on an idle machine


def _load(row: dict) -> str:
    load = row.get("load_average")
    return f"{load['start'][0]} / {load['end'][0]}" if load else "-"


def markdown(results: list[dict], extra: dict) -> str:
    header = (
        "| case | engine | iter | cold s | warm s | compile s (cold) | sampling s | "
        "min bulk ESS | ESS/s | max R-hat | divergences | mean tree depth | peak memory GB | "
        "date | load average start / end |"
    )
    lines = [header, "|" + " --- |" * 15]
    for r in results:
        lines.append(
            f"| {r['case']} | {r['engine']} | {r.get('iter', 2000)} | {r.get('cold_seconds', '-')} "
            f"| {r['warm_seconds']} | {r.get('cold_compile_seconds', '-')} | "
            f"{r['sampling_seconds']} | {r['min_bulk_ess']:.0f} | {r['ess_per_second']} | "
            f"{r['max_rhat']} | {r['divergences']} | {r.get('mean_tree_depth', '-')} | "
            f"{r['peak_memory_gb']} | {r.get('date', EARLIER)} | {_load(r)} |"
        )
    repeated = [r for r in results if "warm_runs" in r]
    if repeated:
        lines += [
            "",
            f"warm s: where the first warm run took under {REPEAT_UNDER:g} s, the median of "
            f"{REPEATS} ("
            + "; ".join(
                f"{r['case']} {r['engine']}: " + ", ".join(map(str, r["warm_runs"]))
                for r in repeated
            )
            + ").",
        ]
    lines += [
        "",
        "stanli against PyStan, same case, same run (cases where both ran on one day):",
        "",
        "| case | warm s (stanli / PyStan) | ESS/s ratio (stanli / PyStan) |",
        "| --- | --- | --- |",
    ]
    by_key = {(r["case"], r["engine"]): r for r in results}
    for case in dict.fromkeys(r["case"] for r in results):
        a, b = by_key.get((case, "stanli")), by_key.get((case, "pystan"))
        if a and b and a.get("date", EARLIER) == b.get("date", EARLIER):  # one run only
            lines.append(
                f"| {case} | {a['warm_seconds']} / {b['warm_seconds']} | "
                f"{a['ess_per_second'] / max(b['ess_per_second'], 1e-9):.2f} |"
            )
    lines.append("")
    lines.append(f"`mixfit --help`: {extra['help_seconds']} s (best of 5).")
    if extra.get("wide_read"):
        w = extra["wide_read"]
        lines.append(
            f"Preparing a model on a {w['file_gb']} GB CSV (1M rows x 50 columns, 3 used): "
            f"{w['seconds']} s, peak memory {w['peak_memory_gb']} GB."
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument(
        "--engines", default=None, help="default: stanli, pystan, cmdstan if found; or nutpie"
    )
    parser.add_argument("--skip-cold", action="store_true")
    parser.add_argument("--iter", type=int, default=None, help="iterations per chain (2000)")
    parser.add_argument("--out", type=Path, default=HERE, help="where results.json/.md go")
    parser.add_argument("--peers", default=",".join(PEERS), help="or none")
    parser.add_argument("--peer-python", default=sys.executable, help="with .[bench] installed")
    parser.add_argument("--peer-cap-minutes", type=float, default=60, help="each peer's time cap")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite results.md from results.json, run nothing",
    )
    args = parser.parse_args()
    if args.report_only:
        return write_report(args.out, json.loads((args.out / "results.json").read_text()))
    chosen = args.engines.split(",") if args.engines else engines()
    chosen = [] if chosen == ["none"] else chosen
    peers = [] if args.peers == "none" else args.peers.split(",")
    # pairs not run this time keep their last results, so long cases can be run on their own;
    # results from before the engines ran side by side were PyStan's
    args.out.mkdir(parents=True, exist_ok=True)
    saved = args.out / "results.json"
    kept = json.loads(saved.read_text())["cases"] if saved.exists() else []
    by_key = {(r["case"], r.get("engine", "pystan")): {"engine": "pystan", **r} for r in kept}
    kept_peers = json.loads(saved.read_text()).get("peers", []) if saved.exists() else []
    peer_rows = {(r["case"], r["peer"]): r for r in kept_peers}
    for name in args.cases.split(","):
        start, ran = os.getloadavg(), []
        for engine in chosen:  # engine after engine on the same case: measured side by side
            print(f"{name} on {engine} ...", file=sys.stderr, flush=True)
            by_key[(name, engine)] = run_case(name, engine, not args.skip_cold, args.iter)
            ran.append(by_key[(name, engine)])
            print(json.dumps(by_key[(name, engine)]), file=sys.stderr, flush=True)
        for row in run_peers(measure, name, CASES[name], peers, args):
            peer_rows[(name, row["peer"])] = row
            ran.append(row)
        load = {
            "start": [round(x, 2) for x in start],
            "end": [round(x, 2) for x in os.getloadavg()],
        }
        for row in ran:
            row.setdefault("load_average", load)  # saved figures keep their own (none)
            row.setdefault("date", time.strftime("%Y-%m-%d"))
    results = [
        by_key[key]
        for key in sorted(
            by_key,
            key=lambda k: (
                list(CASES).index(k[0]),
                ["stanli", "nutpie", "pystan", "cmdstan"].index(k[1]),
            ),
        )
    ]
    peer_results = [
        peer_rows[key]
        for key in sorted(peer_rows, key=lambda k: (list(CASES).index(k[0]), PEERS.index(k[1])))
    ]
    extra = {
        "help_seconds": help_seconds(),
        "wide_read": wide_read(),
        "peers": peer_results,
        "machine": {
            "cores": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 1e9, 1),
        },
    }
    saved.write_text(json.dumps({"cases": results, **extra}, indent=2) + "\n")
    write_report(args.out, {"cases": results, **extra})


def write_report(out: Path, saved: dict) -> None:
    """results.md from what results.json holds."""
    results, extra = saved["cases"], {k: v for k, v in saved.items() if k != "cases"}
    text = markdown(results, extra) + "\n" + peer_report.markdown(extra.get("peers", []), results)
    (out / "results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

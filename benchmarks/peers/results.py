"""A peer's run -> one row of benchmarks/results.json, with the figures mixfit's rows have.

A peer script (bambi_run.py, brms_run.R) writes its summary as rows of `kind` (population, sd,
cor, family), `group`, `param` (brms's names: `sd(Days)` in group `Subject`, `sigma` in
`Residual`), mean, sd, ess_bulk, ess_tail, r_hat; and its timings in `seconds`.
"""

from __future__ import annotations

import json
from pathlib import Path

REFERENCE = Path(__file__).resolve().parents[2] / "tests" / "reference"

# the set mixfit's min bulk ESS is taken over (benchmarks/run.py's read_fit): fixef and varcorr
# without the Residual group, i.e. population effects, SDs and correlations
STRUCTURAL = {"population", "sd", "cor"}


def figures(output: dict) -> dict:
    """The row's figures from a peer script's output."""
    rows = output["summary"]
    structural = [r for r in rows if r["kind"] in STRUCTURAL]
    min_ess = min(r["ess_bulk"] for r in structural)
    sampling = output["seconds"]["sampling"]
    return {
        "sampling_seconds": round(sampling, 3),
        "min_bulk_ess": round(min_ess, 1),
        "min_bulk_ess_with_family": round(min(r["ess_bulk"] for r in rows), 1),
        "ess_per_second": round(min_ess / sampling, 1),
        "max_rhat": round(max(r["r_hat"] for r in rows), 4),
        "divergences": output["divergences"],
        "mean_tree_depth": output["mean_tree_depth"],
        "seconds": output["seconds"],
        "versions": output["versions"],
        "sd": {
            f"{r['group']} {r['param']}": round(r["mean"], 4)
            for r in rows
            if r["kind"] in ("sd", "family")
        },
        "bulk_ess": {label(r): round(r["ess_bulk"], 1) for r in rows},
    }


def label(row: dict) -> str:
    return row["param"] if row["group"] is None else f"{row['group']} {row['param']}"


def read_output(path: Path) -> dict:
    return figures(json.loads(path.read_text()))


def saved_brms(case: str) -> dict | None:
    """brms 2.18's figures for a case from tests/reference (run once, on a machine of this kind):
    end-to-end seconds and the summed sampling seconds of its chains, which rstan ran one after
    another."""
    path = REFERENCE / f"{case}.json"
    if not path.exists():
        return None
    brms = json.loads(path.read_text())["brms"]
    tables = [("population", None, brms["fixed"])]
    tables += [(None, group, rows) for group, rows in brms["random"].items()]
    tables += [("family", "Residual", brms["spec_pars"])]
    rows = [
        {
            "kind": kind or ("cor" if row["_row"].startswith("cor(") else "sd"),
            "group": group,
            "param": row["_row"],
            "mean": row["Estimate"],
            "sd": row["Est.Error"],
            "ess_bulk": row["Bulk_ESS"],
            "ess_tail": row["Tail_ESS"],
            "r_hat": row["Rhat"],
        }
        for kind, group, table in tables
        for row in table
    ]
    row = figures(
        {
            "summary": rows,
            "seconds": {"sampling": sum(brms["sampling_seconds_per_chain"].values())},
            "divergences": None,
            "mean_tree_depth": None,
            "versions": {"brms": "2.18.0", "rstan": "2.21"},
        }
    )
    return {**row, "wall_seconds": brms["total_seconds"], "peak_memory_gb": None}

"""bambi as its user runs it: read the CSV, fit with bambi's default priors, look at the summary.

    python benchmarks/peers/bambi_run.py DATA.csv FORMULA FAMILY --sampler nutpie|pymc
        --out RESULT.json [--chains 4] [--tune 1000] [--draws 1000] [--seed 1]

Prints ArviZ's summary of the population effects, the group-level SDs and the family's parameters
(the table a bambi user reads after `model.fit()`), and writes it to RESULT.json with the run's
timings and versions, in the form benchmarks/peers/results.py reads (brms_run.R writes the same).
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()  # before the imports: a user's script pays for them too

import argparse
import json
from importlib.metadata import version

import arviz as az
import bambi as bmb
import pandas as pd


def summary_rows(idata, family_params: set[str]) -> list[dict]:
    """The summary's rows under brms's names: population effects, `sd(term)` per group, and the
    family's parameters under the group `Residual`. bambi names a group-level SD `term|group_sigma`
    and each level's effects `term|group`; transformed parameters end in `__`."""
    wanted = []
    for name in idata.posterior.data_vars:
        if name.endswith("__") or ("|" in name and not name.endswith("_sigma")):
            continue
        if "|" in name:
            term, group = name.removesuffix("_sigma").split("|", 1)
            label = ("sd", group, f"sd({'Intercept' if term == '1' else term})")
        elif name in family_params:
            label = ("family", "Residual", name)
        else:
            label = ("population", None, name)
        wanted.append((name, label))
    table = az.summary(idata, var_names=[name for name, _ in wanted], kind="all")
    print(table.to_string())
    rows = []
    for name, (kind, group, param) in wanted:
        # a categorical population effect has one row per level: "name[level]"
        for index in [i for i in table.index if i == name or i.startswith(f"{name}[")]:
            line = table.loc[index]
            rows.append(
                {
                    "kind": kind,
                    "group": group,
                    "param": index if kind == "population" else param,
                    "mean": float(line["mean"]),
                    "sd": float(line["sd"]),
                    "ess_bulk": float(line["ess_bulk"]),
                    "ess_tail": float(line["ess_tail"]),
                    "r_hat": float(line["r_hat"]),
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("formula")
    parser.add_argument("family")
    parser.add_argument("--sampler", choices=["nutpie", "pymc"], required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    imported = time.perf_counter()

    data = pd.read_csv(args.data)
    model = bmb.Model(args.formula, data, family=args.family)
    model.build()
    built = time.perf_counter()
    idata = model.fit(
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        random_seed=args.seed,
        inference_method=args.sampler,
        progressbar=False,
    )
    fitted = time.perf_counter()

    likelihood = model.family.likelihood
    rows = summary_rows(idata, set(likelihood.params) - {likelihood.parent})
    stats = idata.sample_stats
    depth = stats["tree_depth"] if "tree_depth" in stats else stats["depth"]
    result = {
        "engine": f"bambi-{args.sampler}",
        "versions": {name: version(name) for name in ("bambi", "pymc", "nutpie", "arviz")},
        "chains": args.chains,
        "tune": args.tune,
        "draws": args.draws,
        "seconds": {
            "imports": round(imported - STARTED, 3),
            "read_and_build": round(built - imported, 3),
            # fit = compiling the model's log density (pytensor's C, or numba for nutpie) + sampling
            "fit": round(fitted - built, 3),
            "sampling": round(float(idata.posterior.attrs["sampling_time"]), 3),
            "summary": round(time.perf_counter() - fitted, 3),
        },
        "divergences": int(stats["diverging"].sum()),
        "mean_tree_depth": round(float(depth.mean()), 2),
        "summary": rows,
    }
    with open(args.out, "w") as handle:
        json.dump(result, handle, indent=1)


if __name__ == "__main__":
    main()

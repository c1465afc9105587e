"""K-fold cross-validation, as brms's kfold: the model refitted K times, each time without one
fold of the rows, and each fold's rows scored by the fit that did not see them.

The folds are planned once, in the job folder beside OUTDIR (``OUTDIR.jobs/folds``): each fold's
training rows and held-out rows as CSV files (the model's columns, complete rows), and
``kfold.json``, the plan. Each fold is then fitted (here, one after another, or as a task of a
SLURM array) into ``folds/fold-K/fit``, and the held-out rows' pointwise elpd written beside it.
Collecting sums them: elpd_kfold, with its standard error sqrt(n var(elpd_i)), as the loo package
reports it, comparable with elpd_loo.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from mixfit.engines.protocol import Progress
from mixfit.errors import InputError, ToolchainError
from mixfit.hpc.shards import jobs_dir, spec_from_record, spec_record, write_file
from mixfit.pipeline import prepare
from mixfit.readback import records
from mixfit.results.tables import write_table
from mixfit.spec import RunSpec
from mixfit.wording import counted

PLAN = "kfold.json"
# how the held-out rows' new levels get effects, as brms's kfold (allow_new_levels = TRUE)
NEW_LEVELS = "uncertainty"


def folds_dir(outdir: Path) -> Path:
    return jobs_dir(outdir) / "folds"


def fold_dir(outdir: Path, fold: int) -> Path:
    return folds_dir(outdir) / f"fold-{fold}"


def assign_folds(frame: pd.DataFrame, folds: int, group: str | None, seed: int) -> np.ndarray:
    """Each row's fold, 1..folds: balanced at random (loo's kfold_split_random), or with ``group``
    every level's rows in one fold, the levels balanced at random (kfold_split_grouped)."""
    rng = np.random.default_rng(seed)
    if group is None:
        if folds > len(frame):
            raise InputError(f"--folds {folds} is more than the {len(frame)} rows")
        return rng.permutation(np.arange(len(frame)) % folds) + 1
    if group not in frame.columns:
        raise InputError(
            f"--group {group!r} is not a column the model uses ({', '.join(frame.columns)})"
        )
    levels = pd.unique(frame[group].astype(str))
    if folds > len(levels):
        raise InputError(f"--folds {folds} is more than the {len(levels)} levels of {group}")
    fold_of_level = dict(zip(rng.permutation(levels), np.arange(len(levels)) % folds + 1))
    return frame[group].astype(str).map(fold_of_level).to_numpy()


def plan_folds(spec: RunSpec, folds: int, group: str | None, write: bool = True) -> dict:
    """Check the model, split its rows into folds and (``write``) write each fold's rows and
    the plan, unless the same plan is there already; returns the plan."""
    if spec.output is None:
        raise InputError("no output folder given: use -o OUTDIR (or 'output' in the spec)")
    if folds < 2:
        raise InputError(f"--folds must be at least 2 (got {folds})")
    prepared = prepare(spec)  # a bad model stops here, before any fold is fitted
    if prepared.model.design.autocor is not None:  # held-out rows' log_lik: not built yet
        raise InputError(
            f"kfold does not take {prepared.model.design.autocor.term.text} yet: the "
            "log-likelihood of held-out rows of an autocorrelated series is not built; use loo"
        )
    frame = prepared.table.frame
    assignment = assign_folds(frame, folds, group, spec.sampler.seed)
    plan = {
        "folds": folds,
        "group": group,
        "seed": spec.sampler.seed,
        "rows": len(frame),
        "fold_of_row": assignment.tolist(),
        "spec": spec_record(spec),
    }
    plan = json.loads(json.dumps(plan))  # as it reads back from kfold.json (lists, not tuples)
    existing = read_plan(spec.output)
    if existing is not None:
        if existing != plan:
            raise InputError(
                f"{str(folds_dir(spec.output))!r} holds the folds of another K-fold run: "
                "remove it, or use another -o"
            )
        return existing
    if not write:
        return plan
    for k in range(1, folds + 1):
        folder = fold_dir(spec.output, k)
        folder.mkdir(parents=True, exist_ok=True)
        _write_csv(frame[assignment != k], folder / "train.csv")
        _write_csv(frame[assignment == k], folder / "heldout.csv")
    write_file(folds_dir(spec.output) / PLAN, json.dumps(plan) + "\n")
    return plan


def pending(outdir: Path, plan: dict) -> list[int]:
    """The folds without their held-out elpd yet."""
    return [
        k for k in range(1, plan["folds"] + 1) if not (fold_dir(outdir, k) / "elpd.csv").is_file()
    ]


def reused(outdir: Path, done: list[int], folds: int) -> str:
    """What a rerun takes from the earlier one: the folds that have their result."""
    where = str(folds_dir(outdir))
    if len(done) == folds:
        return f"Every fold has its result from an earlier run ({where}): nothing is refitted."
    listed = ", ".join(map(str, done))
    return f"Reusing the results of {counted(len(done), 'fold')} of {folds} ({listed}) in {where}."


def run_fold(outdir: Path, fold: int, progress: Progress, command: list[str]) -> Path:
    """Fit fold ``fold``'s training rows, score its held-out rows; returns the elpd file."""
    from mixfit.pipeline import fit
    from mixfit.results.writer import write_results

    plan = read_plan(outdir)
    if plan is None:
        raise InputError(f"no K-fold plan in {str(folds_dir(outdir))!r}: run 'mixfit kfold' first")
    if not 1 <= fold <= plan["folds"]:
        raise InputError(f"fold must be between 1 and {plan['folds']} (got {fold})")
    folder = fold_dir(outdir, fold)
    spec = spec_from_record(plan["spec"], repr(str(folds_dir(outdir) / PLAN)))
    spec = replace(spec, data=folder / "train.csv", output=folder / "fit")
    result = fit(spec, progress)
    write_results(result, spec.output, command, plots=False)
    heldout = pd.read_csv(folder / "heldout.csv")
    log_lik = _log_lik_function()
    pointwise = log_lik(
        spec.output, heldout, allow_new_levels=True, sample_new_levels=NEW_LEVELS, seed=plan["seed"]
    )
    rows = np.flatnonzero(np.asarray(plan["fold_of_row"]) == fold)
    elpd = _log_mean_exp(pointwise)
    table = pd.DataFrame({"row": rows + 1, "fold": fold, "elpd_kfold": elpd})
    target = folder / "elpd.csv"
    write_file(target, table.to_csv(index=False))  # full precision: kfold.csv sums them
    return target


def collect(outdir: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Every fold's held-out elpd: the estimates table, the pointwise table, and the plan."""
    plan = read_plan(outdir)
    if plan is None:
        raise InputError(f"no K-fold plan in {str(folds_dir(outdir))!r}: run 'mixfit kfold' first")
    missing = pending(outdir, plan)
    if missing:
        listed = ", ".join(map(str, missing))
        raise InputError(
            f"cannot collect the {plan['folds']} folds: fold{'s' if len(missing) > 1 else ''} "
            f"{listed} {'have' if len(missing) > 1 else 'has'} no held-out elpd in "
            f"{str(folds_dir(outdir))!r}; run {'them' if len(missing) > 1 else 'it'} again "
            "('mixfit kfold ... --slurm' submits only the folds without one)"
        )
    folds = np.asarray(plan["fold_of_row"])
    pointwise = pd.concat(
        [
            records.fold_elpd(fold_dir(outdir, k) / "elpd.csv", k, np.flatnonzero(folds == k) + 1)
            for k in range(1, plan["folds"] + 1)
        ]
    ).sort_values("row", ignore_index=True)
    return estimates(pointwise["elpd_kfold"].to_numpy()), pointwise, plan


def estimates(elpd_i: np.ndarray) -> pd.DataFrame:
    """elpd_kfold and kfoldic with their standard errors, as the loo package computes them."""
    n = len(elpd_i)
    se = math.sqrt(n * float(np.var(elpd_i, ddof=1)))
    elpd = float(elpd_i.sum())
    return pd.DataFrame(
        {"Estimate": [elpd, -2 * elpd], "SE": [se, 2 * se]}, index=["elpd_kfold", "kfoldic"]
    )


def write_kfold(outdir: Path, table: pd.DataFrame, pointwise: pd.DataFrame, plan: dict) -> str:
    """OUTDIR: kfold.csv, kfold_pointwise.csv, kfold.json and kfold.txt, all at once."""
    from mixfit.results.writer import staged

    text = kfold_text(table, plan)
    record = {
        "folds": plan["folds"],
        "group": plan["group"],
        "seed": plan["seed"],
        "rows": plan["rows"],
        "estimates": {name: row.to_dict() for name, row in table.iterrows()},
    }
    with staged(outdir) as stage:
        write_table(table.rename_axis("quantity").reset_index(), stage / "kfold.csv")
        write_table(pointwise, stage / "kfold_pointwise.csv")
        (stage / "kfold.json").write_text(json.dumps(record, indent=2) + "\n")
        (stage / "kfold.txt").write_text(text)
    return text


def kfold_text(table: pd.DataFrame, plan: dict) -> str:
    by = f", leaving out whole levels of {plan['group']}" if plan["group"] else ""
    lines = [
        f"Based on {plan['folds']}-fold cross-validation{by} ({plan['rows']} rows).",
        "",
        table.to_string(float_format=lambda v: f"{v:.1f}"),  # as mixfit loo prints elpd_loo
    ]
    return "\n".join(lines) + "\n"


def _log_mean_exp(pointwise: np.ndarray) -> np.ndarray:
    """Per held-out row (column), log of the mean over draws of exp(log-likelihood)."""
    from scipy.special import logsumexp

    return logsumexp(pointwise, axis=0) - math.log(pointwise.shape[0])


def _log_lik_function():
    try:
        from mixfit.analysis.predict import log_lik
    except ImportError:
        raise ToolchainError(
            "K-fold needs the pointwise log-likelihood of new rows (mixfit.analysis.predict), "
            "which this build of mixfit does not have"
        ) from None
    return log_lik


def read_plan(outdir: Path) -> dict | None:
    """The K-fold plan in OUTDIR's job folder, if there is one."""
    path = folds_dir(outdir) / PLAN
    return records.kfold_plan(path) if path.is_file() else None  # untrusted: checked


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    write_file(path, frame.to_csv(index=False))

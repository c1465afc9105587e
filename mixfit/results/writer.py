"""Write a fit's results folder, atomically: all files appear at once, or none change."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np
import pandas as pd

from mixfit import __version__, interrupt
from mixfit.model.program import Model, prior_table
from mixfit.results import summaries
from mixfit.results.arviz_api import write_netcdf
from mixfit.results.diagnostics import Diagnostics, diagnose
from mixfit.results.summary_text import summary_text

SIGNIFICANT_DIGITS = 6
ESS_COLUMNS = {"Bulk_ESS", "Tail_ESS"}

if TYPE_CHECKING:  # the pipeline imports this module while the chains run, never the reverse
    from mixfit.pipeline import FitResult


def run_record(result: FitResult, command: list[str]) -> dict:
    spec, table = result.spec, result.prepared.table
    s = spec.sampler
    return {
        "mixfit_version": __version__,
        "backend": result.backend,
        "backend_version": result.backend_version,
        "command": command,
        "data": str(spec.data),
        "formula": spec.formula,
        "family": str(result.model.design.family),
        "seed": s.seed,
        "sampler": {
            "chains": s.chains,
            "iter": s.iter,
            "warmup": s.num_warmup,
            "adapt_delta": s.adapt_delta,
            "max_treedepth": s.max_treedepth,
            "parallel_chains": s.num_parallel,
        },
        "compile_seconds": round(result.compiled.seconds, 3),
        "sampling_seconds": round(result.draws.sampling_seconds, 3),
        "model_from_cache": result.compiled.from_cache,
        "rows_read": table.rows_read,
        "rows_used": len(table.frame),
        "rows_dropped": table.rows_dropped,
        "predictions": result.model.predictions,
        "group_effects": _parameterisation(result.model),
        "response_note": result.model.design.response.note,
        "sample_prior": "only" if result.model.prior_only else "no",
    }


def _parameterisation(model: Model) -> list[dict]:
    """How each block's group-level effects were sampled."""
    blocks = model.design.blocks
    if model.marginal:
        forms = ["integrated out"] * len(blocks)
    else:
        forms = ["centred" if centred else "non-centred" for centred in model.centred]
    return [{"group": b.group, "terms": b.terms, "sampled": f} for b, f in zip(blocks, forms)]


@dataclass
class Written:
    summary: str
    diagnostics: Diagnostics


def write_results(
    result: FitResult, outdir: Path, command: list[str], prob: float = 0.95, plots: bool = True
) -> Written:
    """Write every result file into ``outdir`` at once."""
    model, posterior = result.model, result.idata.posterior
    run = run_record(result, command)
    fixef = summaries.fixef(model, posterior, prob)
    varcorr = summaries.varcorr(model, posterior, prob)
    checks = diagnose(
        model, result.idata, result.spec.sampler.max_treedepth, result.spec.sampler.num_warmup
    )
    text = summary_text(model, fixef, varcorr, run, prob) + "\n" + checks.verdict() + "\n"
    if not model.predictions:
        text += (
            "Note: rows x draws is too large to store log_lik and y_rep; draws.nc has no "
            "posterior_predictive or log_likelihood group.\n"
        )
    with staged(outdir) as stage:
        (stage / "model.stan").write_text(result.prepared.code)
        (stage / "standata.json").write_text(standata_json(result.prepared.data))
        write_netcdf(result.idata, stage / "draws.nc")
        write_table(fixef, stage / "fixef.csv")
        write_table(summaries.ranef(model, posterior, prob), stage / "ranef.csv")
        write_table(summaries.coef(model, posterior, prob), stage / "coef.csv")
        write_table(varcorr, stage / "varcorr.csv")
        write_table(prior_table(model), stage / "prior.csv")
        (stage / "summary.txt").write_text(text)
        (stage / "run.json").write_text(json.dumps(run, indent=2) + "\n")
        (stage / "diagnostics.json").write_text(json.dumps(checks.as_dict(), indent=2) + "\n")
        write_table(checks.parameters, stage / "diagnostics.csv")
        if plots:
            from mixfit.results.html_report import write_html
            from mixfit.results.plots import write_plots

            images = write_plots(model, result.idata, stage / "plots")
            tables = {
                "Population-level effects": fixef,
                "Group-level effects and family parameters": varcorr,
            }
            write_html(stage, text, tables, checks.verdict(), images, name=outdir.resolve().name)
    return Written(text, checks)


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """A table as CSV for people and pipelines alike: 6 significant digits (a posterior summary's
    Monte Carlo error is far larger; the draws themselves are in draws.nc), ESS in whole draws."""
    frame = frame.copy()
    for column in ESS_COLUMNS & set(frame.columns):
        frame[column] = frame[column].round().astype("Int64")  # Int64: a missing ESS stays empty
    frame.to_csv(path, index=False, float_format=f"%.{SIGNIFICANT_DIGITS}g")


def standata_json(data: dict) -> str:
    def plain(value):
        if isinstance(value, np.ndarray):
            return value.tolist()
        if isinstance(value, np.generic):
            return value.item()
        return value

    return json.dumps({k: plain(v) for k, v in data.items()})


@contextmanager
def staged(outdir: Path) -> Iterator[Path]:
    """A fresh folder beside ``outdir``, swapped into its place only if the block succeeds."""
    outdir = outdir.resolve()
    outdir.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.partial-", dir=outdir.parent))
    try:
        yield stage
        with interrupt.critical():  # a signal waits until the old folder or the new one is in place
            if outdir.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.old-", dir=outdir.parent))
                os.replace(outdir, old / "previous")
                os.replace(stage, outdir)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(stage, outdir)
    finally:
        shutil.rmtree(stage, ignore_errors=True)

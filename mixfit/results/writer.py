"""Write a fit's results folder, atomically: all files appear at once, or none change."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mixfit import __version__
from mixfit.engines.protocol import Progress
from mixfit.model.program import Model, prior_table
from mixfit.results import forked, summaries
from mixfit.results.analysis_files import (
    AnalysisFiles,
    analysis_draws,
    analysis_files,
    write_draws,
)
from mixfit.results.arviz_api import group_names
from mixfit.results.diagnostics import Diagnostics, diagnose
from mixfit.results.outdir import reserve, staged
from mixfit.results.summary_text import r2_section, summary_text
from mixfit.results.tables import write_table

if TYPE_CHECKING:  # the pipeline imports this module while the chains run, never the reverse
    from mixfit.pipeline import FitResult


def run_record(result: FitResult, command: list[str]) -> dict:
    spec, table = result.spec, result.prepared.table
    s = spec.sampler
    return {
        "mixfit_version": __version__,
        "backend": result.backend,
        "backend_version": result.backend_version,
        "backend_reason": result.backend_reason,
        "command": command,
        "data": str(spec.data),
        "formula": spec.formula[0],  # the mean's, as before distributional formulas
        "formulas": list(spec.formula),
        "family": str(result.model.design.family),
        "seed": s.seed,
        "sampler": {
            "chains": s.chains,
            "iter": s.iter,
            "warmup": s.num_warmup,
            "thin": s.thin,
            "init": s.init,
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
        **_algorithm(result),
    }


def _algorithm(result: FitResult) -> dict:
    """How the draws were made: NUTS, or an approximation, marked as such with its Pareto k."""
    found = result.draws.approximation
    if found is None:
        return {"algorithm": "sampling", "approximate": False}
    return {
        "algorithm": found["algorithm"],
        "approximate": True,
        "pareto_k": found["pareto_k"] if np.isfinite(found["pareto_k"]) else None,
        "draws": found["draws"],
        "log_density_evaluations": found["log_density_evaluations"],
    }


def _approximate_wording(text: str, run: dict) -> str:
    """brms's lines on the draws, as they read for an approximation."""
    if not run.get("approximate"):
        return text
    lines = text.splitlines(keepends=True)
    out = []
    skip = False
    for line in lines:
        if line.lstrip().startswith("Draws:"):
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}Draws: {run['draws']} from the {run['algorithm']} approximation\n")
            skip = True
            continue
        if skip and line.startswith(" ") and "total post-warmup draws" in line:
            continue
        skip = False
        if line.startswith("Draws were sampled using NUTS."):
            line = line.replace(
                "Draws were sampled using NUTS.",
                f"Draws are from the {run['algorithm']} approximation, not MCMC (Rhat needs chains).",
            )
        out.append(line)
    return "".join(out)


def approximate_banner(run: dict) -> str:
    """The first lines of an approximate fit's summary (and so of report.html)."""
    if not run.get("approximate"):
        return ""
    k = run["pareto_k"]
    shown = "unknown" if k is None else f"{k:.2f}"
    verdict = (
        "above 0.7: the approximation misses the posterior; run NUTS (leave out --algorithm) "
        "before trusting these results"
        if k is None or k > 0.7
        else "at most 0.7, yet still an approximation: confirm with NUTS before relying on it"
    )
    return (
        f"APPROXIMATE POSTERIOR: {run['algorithm']} (not MCMC), {run['draws']} draws; "
        f"Pareto k {shown}, {verdict}.\n\n"
    )


def _parameterisation(model: Model) -> list[dict]:
    """How each block's group-level effects were sampled."""
    blocks = model.design.blocks
    if model.marginal:
        forms = ["integrated out"] * len(blocks)
    else:
        groups = {b.id: b.group for b in blocks}
        forms = [
            ("centred" + (f" within {groups[nest]}" if nest else "")) if centred else "non-centred"
            for centred, nest in zip(model.centred, model.nests)
        ]
    return [{"group": b.group, "terms": b.terms, "sampled": f} for b, f in zip(blocks, forms)]


@dataclass
class Written:
    summary: str
    diagnostics: Diagnostics


def write_results(
    result: FitResult,
    outdir: Path,
    command: list[str],
    prob: float = 0.95,
    plots: bool = True,
    progress: Progress | None = None,
) -> Written:
    """Write every result file into ``outdir`` at once; ``progress`` hears each stage. With a
    second core, draws.nc is written by a forked child while this process summarises."""
    progress = progress or _silent
    progress("summaries", None, "Summarising the draws (tables, diagnostics, R2)")
    model = result.model
    draws = analysis_draws(model, result.idata)
    with staged(outdir, force=result.spec.force) as stage:
        nbytes = _netcdf_bytes(result.idata)
        reserve(stage / "draws.nc", nbytes)
        with forked.meanwhile(partial(write_draws, draws, stage), _patience(nbytes)):
            after = analysis_files(model, draws, result.prepared.table.frame, prob)
            summary = _summary(result, after, command, prob)
            progress("write", None, f"Writing the results into {outdir}")
            _write_files(stage, result, after, summary)
        if plots:
            progress("plots", None, "Drawing the plots and report.html")
            _write_plots(stage, result, after, summary, name=outdir.resolve().name)
    return Written(summary.text, summary.checks)


@dataclass
class _Summary:
    """What the results folder says of the draws, before any of it is written."""

    run: dict
    tables: dict[str, pd.DataFrame]  # file stem -> table; an empty table is not written
    checks: Diagnostics
    text: str
    classical: object | None  # a ClassicalReport, when the spec asked for the classical fit


def _summary(result: FitResult, after: AnalysisFiles, command: list[str], prob: float) -> _Summary:
    model, posterior = result.model, result.idata.posterior
    run = run_record(result, command)
    fixef = summaries.fixef(model, posterior, prob)
    varcorr = summaries.varcorr(model, posterior, prob)
    smooths = summaries.smooths(model, posterior, prob)
    gps = summaries.gps(model, posterior, prob)
    simplexes = summaries.simplexes(model, posterior, prob)
    checks = diagnose(
        model,
        result.idata,
        result.spec.sampler.max_treedepth,
        result.spec.sampler.num_warmup,
        result.draws.approximation,
    )
    classical = None
    if result.classical:
        from mixfit.classical.comparison import component_draws
        from mixfit.classical.report import ClassicalReport

        classical = ClassicalReport.beside(
            result.classical,
            model.design,
            str(result.spec.data),
            fixef,
            varcorr,
            prob,
            draws=component_draws(model, posterior),
        )
    text = approximate_banner(run) + _approximate_wording(
        summary_text(model, fixef, varcorr, run, prob, smooths, gps=gps, simplexes=simplexes), run
    )
    if not model.prior_only and after.r2 is not None:  # an R2 of the prior describes no fit
        text += r2_section(after.r2, prob)
    text += "\n" + checks.verdict() + "\n"
    if not model.predictions:
        text += (
            "Note: rows x draws is too large to store log_lik and y_rep; draws.nc has no "
            "posterior_predictive or log_likelihood group.\n"
        )
    text += "\n" + classical.section if classical else ""
    tables = {
        "fixef": fixef,
        "ranef": summaries.ranef(model, posterior, prob),
        "coef": summaries.coef(model, posterior, prob),
        "varcorr": varcorr,
        "smooths": smooths,  # brms's "Smooth Terms": the SDs of the smooths
        "gps": gps,  # brms's "Gaussian Process Terms": each GP's SD and length-scale
        "simplexes": simplexes,  # brms's "Simplex Parameters": the monotonic effects' simplexes
    }
    return _Summary(run, tables, checks, text, classical)


# the tables written even when empty (an intercept-only model's fixef, a model without groups')
ALWAYS_WRITTEN = ("fixef", "ranef", "coef", "varcorr")


def _write_files(stage: Path, result: FitResult, after: AnalysisFiles, summary: _Summary) -> None:
    """Every file of the folder but draws.nc and the plots."""
    (stage / "model.stan").write_text(result.prepared.code)
    (stage / "standata.json").write_text(standata_json(result.prepared.data))
    after.write(stage)  # design.json, r2.csv
    for stem, table in summary.tables.items():
        if stem in ALWAYS_WRITTEN or len(table):
            write_table(table, stage / f"{stem}.csv")
    write_table(prior_table(result.model), stage / "prior.csv")
    (stage / "summary.txt").write_text(summary.text)
    (stage / "run.json").write_text(json.dumps(summary.run, indent=2) + "\n")
    (stage / "diagnostics.json").write_text(json.dumps(summary.checks.as_dict(), indent=2) + "\n")
    write_table(summary.checks.parameters, stage / "diagnostics.csv")
    if summary.classical:
        summary.classical.write(stage)


def _write_plots(
    stage: Path, result: FitResult, after: AnalysisFiles, summary: _Summary, name: str
) -> None:
    from mixfit.results.html_report import write_html
    from mixfit.results.plots import write_plots

    # the conditional effects drawn here while a forked child draws the trace and rank plots
    images = write_plots(
        result.model, result.idata, stage / "plots", alongside=partial(after.plots, stage / "plots")
    )
    shown = summary.tables
    tables = {
        "Population-level effects": shown["fixef"],
        "Group-level effects and family parameters": shown["varcorr"],
    }
    if len(shown["smooths"]):
        tables = {"Smooth terms": shown["smooths"]} | tables
    if len(shown["gps"]):
        tables = {"Gaussian process terms": shown["gps"]} | tables
    if len(shown["simplexes"]):
        tables["Simplex parameters"] = shown["simplexes"]
    classical = summary.classical
    extra = [classical.html(result.model, result.idata.posterior, stage)] if classical else []
    write_html(stage, summary.text, tables, summary.checks.verdict(), images, extra, name=name)


def _silent(stage: str, fraction: float | None, message: str) -> None:
    pass


def _patience(nbytes: int) -> float:
    """How long the child writing draws.nc is waited for: a minute, and a second for each 10 MB
    (HDF5 writes far faster; far longer means it is stuck)."""
    return 60.0 + nbytes / 10e6


def _netcdf_bytes(idata) -> int:
    """An upper bound of draws.nc's size: the arrays, and HDF5's headers per variable."""
    groups = [idata[name] for name in group_names(idata)]
    return sum(g.nbytes + 16_384 * len(g.variables) for g in groups) + 262_144


def standata_json(data: dict) -> str:
    def plain(value):
        if isinstance(value, np.ndarray):
            return value.tolist()
        if isinstance(value, np.generic):
            return value.item()
        return value

    return json.dumps({k: plain(v) for k, v in data.items()})

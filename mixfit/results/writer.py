"""Write a fit's results folder, atomically: all files appear at once, or none change."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mixfit import __version__
from mixfit.engines.protocol import Progress
from mixfit.model.program import Model, prior_table
from mixfit.results import summaries
from mixfit.results.analysis_files import analysis_files
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
    """Write every result file into ``outdir`` at once; ``progress`` hears each stage."""
    progress = progress or _silent
    progress("summaries", None, "Summarising the draws (tables, diagnostics, R2)")
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
    after = analysis_files(model, result.idata, result.prepared.table.frame, prob)
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
    with staged(outdir, force=result.spec.force) as stage:
        progress("write", None, f"Writing the results into {outdir}")
        (stage / "model.stan").write_text(result.prepared.code)
        (stage / "standata.json").write_text(standata_json(result.prepared.data))
        reserve(stage / "draws.nc", _netcdf_bytes(result.idata))
        after.write(stage)  # draws.nc (brms's names), design.json, r2.csv
        write_table(fixef, stage / "fixef.csv")
        write_table(summaries.ranef(model, posterior, prob), stage / "ranef.csv")
        write_table(summaries.coef(model, posterior, prob), stage / "coef.csv")
        write_table(varcorr, stage / "varcorr.csv")
        if len(smooths):  # brms's "Smooth Terms": the SDs of the smooths
            write_table(smooths, stage / "smooths.csv")
        if len(gps):  # brms's "Gaussian Process Terms": each GP's SD and length-scale
            write_table(gps, stage / "gps.csv")
        if len(simplexes):  # brms's "Simplex Parameters": the monotonic effects' simplexes
            write_table(simplexes, stage / "simplexes.csv")
        write_table(prior_table(model), stage / "prior.csv")
        (stage / "summary.txt").write_text(text)
        (stage / "run.json").write_text(json.dumps(run, indent=2) + "\n")
        (stage / "diagnostics.json").write_text(json.dumps(checks.as_dict(), indent=2) + "\n")
        write_table(checks.parameters, stage / "diagnostics.csv")
        if classical:
            classical.write(stage)
        if plots:
            from mixfit.results.html_report import write_html
            from mixfit.results.plots import write_plots

            progress("plots", None, "Drawing the plots and report.html")
            images = write_plots(model, result.idata, stage / "plots")
            images += after.plots(stage / "plots")
            tables = {
                "Population-level effects": fixef,
                "Group-level effects and family parameters": varcorr,
            }
            if len(smooths):
                tables = {"Smooth terms": smooths} | tables
            if len(gps):
                tables = {"Gaussian process terms": gps} | tables
            if len(simplexes):
                tables["Simplex parameters"] = simplexes
            extra = [classical.html(model, result.idata.posterior, stage)] if classical else []
            write_html(
                stage, text, tables, checks.verdict(), images, extra, name=outdir.resolve().name
            )
    return Written(text, checks)


def _silent(stage: str, fraction: float | None, message: str) -> None:
    pass


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

"""Write a fit's results folder, atomically: all files appear at once, or none change."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from mixfit import __version__, summaries
from mixfit.pipeline import FitResult
from mixfit.report import summary_text


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
        "response_note": result.model.design.response.note,
    }


def write_results(result: FitResult, outdir: Path, command: list[str]) -> str:
    """Write every result file into ``outdir``; return the summary text."""
    model, posterior = result.model, result.idata.posterior
    run = run_record(result, command)
    fixef = summaries.fixef(model, posterior)
    varcorr = summaries.varcorr(model, posterior)
    text = summary_text(model, fixef, varcorr, run)
    with staged(outdir) as stage:
        (stage / "model.stan").write_text(result.prepared.code)
        (stage / "standata.json").write_text(standata_json(result.prepared.data))
        result.idata.to_netcdf(str(stage / "draws.nc"), engine="h5netcdf")
        fixef.to_csv(stage / "fixef.csv", index=False)
        summaries.ranef(model, posterior).to_csv(stage / "ranef.csv", index=False)
        summaries.coef(model, posterior).to_csv(stage / "coef.csv", index=False)
        varcorr.to_csv(stage / "varcorr.csv", index=False)
        prior_table(model).to_csv(stage / "prior.csv", index=False)
        (stage / "summary.txt").write_text(text)
        (stage / "run.json").write_text(json.dumps(run, indent=2) + "\n")
    return text


def prior_table(model):
    import pandas as pd

    rows = []
    for slot in model.slots:
        for (coef, group), prior, source in zip(slot.labels, slot.priors, slot.sources):
            rows.append(
                {"class": slot.cls, "coef": coef, "group": group, "prior": str(prior),
                 "source": source}
            )
    return pd.DataFrame(rows, columns=["class", "coef", "group", "prior", "source"])


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
        if outdir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.old-", dir=outdir.parent))
            os.replace(outdir, old / "previous")
            os.replace(stage, outdir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(stage, outdir)
    finally:
        shutil.rmtree(stage, ignore_errors=True)

"""A results folder read back for the analysis commands: design.json, run.json and the posterior
of draws.nc, each checked (mixfit/readback/design_schema.py, draws.py) and held against the
others, so that a folder whose files are not of one fit is refused rather than believed."""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from mixfit.errors import InputError
from mixfit.readback import draws
from mixfit.readback.design_schema import DESIGN, FORMAT, check_design
from mixfit.readback.json_file import read_json
from mixfit.readback.schema import Record, Text

# run.json: only what is held against the design; its other keys are a record for people
RUN = Record({"formula": Text(), "family": Text(max_len=1_000)}, extra=True)


def read_design(outdir: Path) -> dict:
    path = outdir / "design.json"
    if not path.is_file():
        raise InputError(
            f"{str(outdir)!r} has no design.json (a results folder of an older mixfit): refit "
            "the model to predict from it"
        )
    what = f"a {FORMAT!r} file"
    design = read_json(path, what, DESIGN)
    try:
        check_design(design)
    except InputError as exc:
        raise InputError(f"{str(path)!r} is not {what}: {exc}") from None
    return design


def read_run(outdir: Path, design: dict) -> dict:
    path = outdir / "run.json"
    run = read_json(path, "a mixfit run record", RUN)
    family = f"{design['family']}(link = {design['link']})"
    if run["family"] != family or run["formula"] != design["formula"]:
        raise InputError(
            f"{str(outdir)!r}: design.json and run.json are not of one fit (design.json: "
            f"{design['formula'][:100]!r}, {family}; run.json: {run['formula'][:100]!r}, "
            f"{run['family'][:100]})"
        )
    return run


def read_posterior(outdir: Path, design: dict) -> xr.Dataset:
    """draws.nc's posterior, checked against the design."""
    dataset = draws.posterior(outdir / "draws.nc")
    draws.check_against_design(dataset, design, str(outdir))
    return dataset

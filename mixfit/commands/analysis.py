"""Commands that work from a results folder after the fit, with no Stan and no compiling:
predict, loo, r2, hypothesis, effects."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mixfit.commands.common import DEBUG_OPTION, errors_to_exit_codes, json_text
from mixfit.errors import InputError

OUTDIR = click.argument("outdir", type=click.Path(path_type=Path))


def _strictly_between(low: float, high: float):
    """A click callback: a number strictly between ``low`` and ``high`` (click's FloatRange lets
    nan through, as every comparison with it is false)."""

    def check(ctx, param, value):
        if value is not None and not low < value < high:
            raise click.BadParameter(f"{value} is not strictly between {low:g} and {high:g}")
        return value

    return check


PROB = click.option(
    "--prob",
    type=float,
    callback=_strictly_between(0, 1),
    default=0.95,
    show_default=True,
    help="Probability of the intervals.",
)
JSON = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
EFFECTS_FORMATS = {".png", ".pdf", ".svg", ".csv"}
READ_FILES = ("draws.nc", "design.json", "run.json")


@click.command()
@OUTDIR
@click.argument("newdata", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="CSV file to write (default: print the table).",
)
@click.option(
    "--type",
    "kind",
    type=click.Choice(["epred", "prediction", "linpred"]),
    default="epred",
    show_default=True,
    help="epred: expected response (brms's fitted); prediction: new responses (predict); "
    "linpred: the linear predictor.",
)
@click.option("--re-formula", help="NA: population-level effects only (default: every group term).")
@click.option(
    "--dpar",
    help="A family parameter with a formula (sigma, zi, ...): its draws per row instead of the "
    "response's (brms's posterior_epred(dpar = ...)).",
)
@click.option("--allow-new-levels", is_flag=True, help="Predict for levels the fit did not see.")
@click.option(
    "--sample-new-levels",
    type=click.Choice(["uncertainty", "gaussian", "old_levels"]),
    default="uncertainty",
    show_default=True,
    help="How new levels' effects are drawn.",
)
@PROB
@click.option("--seed", type=click.IntRange(min=0), help="Random seed (default: a random one).")
@click.option(
    "--draws",
    "draws_file",
    type=click.Path(path_type=Path),
    help="Also write every draw, as a netCDF file (chain, draw, obs).",
)
@DEBUG_OPTION
@errors_to_exit_codes
def predict(
    outdir: Path,
    newdata: Path,
    output: Path | None,
    kind: str,
    re_formula: str | None,
    dpar: str | None,
    allow_new_levels: bool,
    sample_new_levels: str,
    prob: float,
    seed: int | None,
    draws_file: Path | None,
    debug: bool,
) -> None:
    """Predict for the rows of NEWDATA (a CSV file) from the fit in OUTDIR."""
    import numpy as np
    import pandas as pd

    from mixfit.analysis import newdata as rows
    from mixfit.analysis.files import replacing
    from mixfit.analysis.predict import predict as run_predict
    from mixfit.analysis.saved_fit import load

    if re_formula is not None and re_formula.strip().upper() != "NA":
        raise InputError(
            f"--re-formula {re_formula!r}: only NA (population-level effects only) is supported; "
            "leave it out to use every group-level term"
        )
    targets = [p for p in (output, draws_file) if p is not None]
    if len({p.resolve() for p in targets}) < len(targets):
        raise InputError("-o and --draws name the same file")
    fit = load(outdir)
    frame = rows.read_csv(newdata)
    inputs = {"new data file": newdata, **_folder_files(outdir)}
    # overflow in rows far outside the data is reported as one error, not numpy's warnings
    with replacing(*targets, inputs=inputs) as paths, np.errstate(all="ignore"):
        table = run_predict(
            fit,
            frame,
            newdata.name,
            kind=kind,
            groups=re_formula is None,
            allow_new_levels=allow_new_levels,
            sample_new_levels=sample_new_levels,
            prob=prob,
            seed=seed,
            draws_file=paths[-1] if draws_file else None,
            dpar=dpar,
        )
        shown = pd.concat([rows.read_csv(newdata, as_text=True), _rounded(table)], axis=1)
        if output:
            shown.to_csv(paths[0], index=False)
    if not output:
        shown.to_csv(sys.stdout, index=False)


@click.command()
@click.argument("outdirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@JSON
@DEBUG_OPTION
@errors_to_exit_codes
def loo(outdirs: tuple[Path, ...], as_json: bool, debug: bool) -> None:
    """PSIS-LOO of one fit, or of several compared (loo_compare), best first."""
    from mixfit.analysis import loo as psis

    names = [p.name for p in outdirs]
    if len(set(names)) < len(names):
        names = [str(p) for p in outdirs]
    results = [psis.loo(p, name) for p, name in zip(outdirs, names)]
    table = psis.compare(results) if len(results) > 1 else None
    if as_json:
        out = {"loo": {r.name: psis.loo_json(r) for r in results}}
        if table is not None:
            out["compare"] = [{"model": name, **row} for name, row in table.iterrows()]
        click.echo(json_text(out))
        return
    click.echo("\n".join(psis.loo_text(r) for r in results), nl=False)
    if table is not None:
        click.echo("\nModel comparisons (loo_compare):")
        click.echo(psis.compare_text(table), nl=False)


@click.command()
@OUTDIR
@JSON
@DEBUG_OPTION
@errors_to_exit_codes
def r2(outdir: Path, as_json: bool, debug: bool) -> None:
    """The Bayesian R² a fit saved (brms's bayes_R2)."""
    from mixfit.readback.tables import read_table
    from mixfit.results.folder import check_folder

    check_folder(outdir)
    path = outdir / "r2.csv"
    if not path.is_file() and (outdir / "design.json").is_file():
        from mixfit.analysis.r2 import check_family

        check_family(outdir)
    if not path.is_file():
        raise InputError(f"{str(outdir)!r} has no r2.csv (a results folder of an older mixfit)")
    table = read_table(path, rows=1)
    if as_json:
        click.echo(json_text(table.iloc[0].to_dict()))
    else:
        table.index = ["R2"]
        click.echo(table.to_string(float_format=lambda v: f"{v:.4f}"))


@click.command()
@OUTDIR
@click.argument("expressions", nargs=-1, required=True)
@click.option(
    "--alpha",
    type=float,
    callback=_strictly_between(0, 0.5),
    default=0.05,
    show_default=True,
    help="One-sided tests: 1 - 2 alpha intervals.",
)
@click.option(
    "--class",
    "cls",
    default="b",
    show_default=True,
    help='As brms\'s class: the prefix of the names ("sd": Subject__Days is sd_Subject__Days; '
    '"": full names, e.g. sigma or r_Subject[308,Intercept]).',
)
@JSON
@DEBUG_OPTION
@errors_to_exit_codes
def hypothesis(
    outdir: Path, expressions: tuple[str, ...], alpha: float, cls: str, as_json: bool, debug: bool
) -> None:
    """Test hypotheses about any parameter, as brms's hypothesis(): e.g. "Days > 5"."""
    import xarray as xr

    from mixfit.analysis.hypothesis import PosteriorDraws, hypotheses, hypotheses_text
    from mixfit.analysis.saved_fit import load

    load(outdir)  # a results folder whose draws match its design, or one line saying why not
    with xr.open_dataset(outdir / "draws.nc", group="posterior", engine="h5netcdf") as posterior:
        table = hypotheses(list(expressions), PosteriorDraws(posterior), alpha, cls)
    if as_json:
        records = table.astype(object).where(table.notna(), None).to_dict(orient="records")
        for record in records:  # JSON has no infinity: "Inf", as R prints it
            if record["Evid.Ratio"] == float("inf"):
                record["Evid.Ratio"] = "Inf"
        click.echo(json_text(records))
    else:
        click.echo(hypotheses_text(table, alpha, cls), nl=False)


@click.command()
@OUTDIR
@click.option("--effect", required=True, help="A population-level predictor; 'a:b' draws a by b.")
@click.option("--by", help="A second predictor: a line (or set of points) per value of it.")
@click.option("--dpar", help="A family parameter with a formula (sigma, zi, ...): its effect.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="The plot (.png, .pdf, .svg) or its table (.csv); without it the table is printed.",
)
@PROB
@DEBUG_OPTION
@errors_to_exit_codes
def effects(
    outdir: Path,
    effect: str,
    by: str | None,
    dpar: str | None,
    output: Path | None,
    prob: float,
    debug: bool,
) -> None:
    """Draw the conditional effect of a predictor (brms's conditional_effects)."""
    from mixfit.analysis.effects import check_effect, conditional_effects
    from mixfit.analysis.files import replacing
    from mixfit.analysis.predict import FamilyLink
    from mixfit.analysis.saved_fit import load
    from mixfit.results.tables import write_table

    if ":" in effect and by is None and effect not in _predictors(outdir):
        effect, by = effect.split(":", 1)
    if output is not None and output.suffix.lower() not in EFFECTS_FORMATS:
        raise InputError(
            f"-o {str(output)!r}: give a file ending in {', '.join(sorted(EFFECTS_FORMATS))}"
        )
    fit = load(outdir)
    FamilyLink.of(fit.design, dpar)  # a parameter without a formula: one line, before anything
    check_effect(fit.design, effect, by, dpar)
    if output is None:  # as predict without -o: the table on standard output
        write_table(
            conditional_effects(fit.design, fit.posterior, effect, by, prob, dpar), sys.stdout
        )
        return
    with replacing(output, inputs=_folder_files(outdir)) as (path,):
        if output.suffix.lower() == ".csv":
            write_table(
                conditional_effects(fit.design, fit.posterior, effect, by, prob, dpar), path
            )
        else:
            from mixfit.results.effects_plots import effects_figure, save

            figure = effects_figure(fit.design, fit.posterior, effect, by, prob, dpar)
            save(figure, path, format=output.suffix.lower()[1:])


def _predictors(outdir: Path) -> list[str]:
    from mixfit.results.design_file import read

    return read(outdir)["effects"] if outdir.is_dir() else []


def _folder_files(outdir: Path) -> dict[str, Path]:
    """The files of the results folder an analysis reads: never an output of it."""
    return {f"results folder's {name}": outdir / name for name in READ_FILES}


def _rounded(table):
    """6 significant digits: far below the Monte Carlo error of any prediction."""
    return table.map(lambda v: float(f"{v:.6g}"))


COMMANDS = [predict, loo, r2, hypothesis, effects]

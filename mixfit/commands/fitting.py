"""Commands that build a model and fit it: fit, stancode, standata, priors."""

from __future__ import annotations

import sys

import click

from mixfit.commands.common import (
    DEBUG_OPTION,
    MODEL_OPTIONS,
    REPORT_OPTIONS,
    SAMPLER_OPTIONS,
    errors_to_exit_codes,
    run_spec,
    with_options,
)
from mixfit.errors import CHECKS_FAILED, INPUT, MixfitError


@click.command()
@with_options(MODEL_OPTIONS, SAMPLER_OPTIONS, REPORT_OPTIONS, [DEBUG_OPTION])
@click.option("--chain", help="Only chain K (or 'array'), written as a shard: see combine.")
@errors_to_exit_codes
def fit(**options) -> None:
    """Fit a model: SOURCE is a CSV file (with -f) or a YAML spec."""
    from mixfit.console import Console

    if options["chain"] is not None:
        from mixfit.commands.hpc import fit_chain

        return fit_chain(options)
    spec = run_spec(options)
    if spec.output is None:
        raise MixfitError("no output folder given: use -o OUTDIR (or 'output' in the spec)", INPUT)
    from mixfit.pipeline import fit as run_fit

    preload = None
    if not options["no_plots"]:  # the plots' imports, started while the chains run
        from mixfit.results.plots import preload

    console = Console(quiet=options["quiet"])
    with console.progress() as progress:
        result = run_fit(spec, progress, preload)
        from mixfit.results.writer import write_results  # imported while the chains ran

        written = write_results(
            result,
            spec.output,
            sys.argv,
            prob=options["prob"],
            plots=not options["no_plots"],
            progress=progress,
        )
    console.summary(written.summary, spec.output)
    if options["strict"] and not written.diagnostics.ok:
        sys.exit(CHECKS_FAILED)


@click.command()
@with_options(MODEL_OPTIONS, [DEBUG_OPTION])
@errors_to_exit_codes
def stancode(**options) -> None:
    """Print the Stan program for a model (nothing is compiled)."""
    from mixfit.pipeline import prepare

    click.echo(prepare(run_spec(options)).code, nl=False)


@click.command()
@with_options(MODEL_OPTIONS, [DEBUG_OPTION])
@errors_to_exit_codes
def standata(**options) -> None:
    """Print the Stan data for a model as JSON."""
    from mixfit.pipeline import prepare
    from mixfit.results.writer import standata_json

    click.echo(standata_json(prepare(run_spec(options)).data))


@click.command()
@with_options(MODEL_OPTIONS, [DEBUG_OPTION])
@errors_to_exit_codes
def priors(**options) -> None:
    """Print the priors a fit would use, as brms's get_prior (nothing is compiled)."""
    from mixfit.model.program import prior_table
    from mixfit.pipeline import prepare

    table = prior_table(prepare(run_spec(options)).model)
    if not table["dpar"].any():  # brms's dpar column says something only where a dpar has a formula
        table = table.drop(columns="dpar")
    click.echo(table.to_string(index=False))


COMMANDS = [fit, stancode, standata, priors]

"""Commands that run a fit as batch jobs: combine (chain shards -> results folder) and submit
(a SLURM job array of chains, then combine); ``mixfit fit --chain K`` runs one chain here."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

import click

from mixfit.cli import (
    DEBUG_OPTION,
    MODEL_OPTIONS,
    SAMPLER_OPTIONS,
    errors_to_exit_codes,
    run_spec,
    with_options,
)
from mixfit.commands.fitting import REPORT_OPTIONS
from mixfit.errors import CHECKS_FAILED, InputError


def fit_chain(options: dict) -> None:
    """``mixfit fit --chain K``: sample chain K of the run alone and write its shard."""
    from mixfit.console import Console
    from mixfit.hpc.shards import run_chain

    chain = chain_number(options["chain"])
    spec = run_spec(options)
    spec = replace(spec, sampler=replace(spec.sampler, chain=chain))
    spec.sampler.check()
    console = Console(quiet=options["quiet"])
    with console.progress() as progress:
        path = run_chain(spec, progress, sys.argv)
    if not options["quiet"]:
        console.err.print(f"Chain {chain} of {spec.sampler.chains} written to {path}", markup=False)


def chain_number(value: str) -> int:
    """K, or for "array" the task id of the SLURM array job this runs in."""
    if value == "array":
        value = os.environ.get("SLURM_ARRAY_TASK_ID", "")
        if not value:
            raise InputError(
                "--chain array needs $SLURM_ARRAY_TASK_ID: run it as a SLURM array task"
            )
    if not value.isdigit():
        raise InputError(f"--chain must be a chain number or 'array' (got {value!r})")
    return int(value)


@click.command()
@click.argument("outdir", type=click.Path(path_type=Path))
@with_options(REPORT_OPTIONS)
@click.option("--quiet", is_flag=True, help="Print only the summary and errors.")
@DEBUG_OPTION
@errors_to_exit_codes
def combine(outdir: Path, **options) -> None:
    """Merge the chain shards beside OUTDIR into OUTDIR: the files one fit would leave."""
    from mixfit.console import Console
    from mixfit.hpc.combine import combine as combine_shards
    from mixfit.results.writer import write_results

    result, command = combine_shards(outdir)
    written = write_results(
        result, outdir, command, prob=options["prob"], plots=not options["no_plots"]
    )
    Console(quiet=options["quiet"]).summary(written.summary, outdir)
    if options["strict"] and not written.diagnostics.ok:
        sys.exit(CHECKS_FAILED)


SUBMIT_OPTIONS = [
    click.option("--partition", help="SLURM partition of the jobs (the cluster's default)."),
    click.option("--time", "time_limit", help="Time limit of each chain, e.g. 2:00:00."),
    click.option("--mem", help="Memory of each chain, e.g. 4G."),
    click.option(
        "--cpus-per-chain",
        type=int,
        default=1,
        show_default=True,
        help="Cores of each chain's task; its threads, unless --threads-per-chain.",
    ),
    click.option("--account", help="SLURM account to charge."),
    click.option("--dry-run", is_flag=True, help="Print the job scripts; submit nothing."),
]


@click.command()
@with_options(MODEL_OPTIONS, SAMPLER_OPTIONS, REPORT_OPTIONS, SUBMIT_OPTIONS, [DEBUG_OPTION])
@errors_to_exit_codes
def submit(**options) -> None:
    """Submit a fit to SLURM: its chains as a job array, then a job combining them into OUTDIR.

    Submitting again runs only the chains that have no shard yet."""
    from mixfit.hpc import slurm
    from mixfit.hpc.submit import Resources, plan
    from mixfit.hpc.submit import submit as submit_plan

    spec = run_spec(options)
    cpus = options["cpus_per_chain"]
    if options["threads_per_chain"] is None and cpus > 1:
        spec = replace(spec, sampler=replace(spec.sampler, threads_per_chain=cpus))
    resources = Resources(
        partition=options["partition"],
        time=options["time_limit"],
        mem=options["mem"],
        cpus_per_chain=cpus,
        account=options["account"],
    )
    report = [f"--prob={options['prob']}"]
    report += ["--no-plots"] if options["no_plots"] else []
    report += ["--strict"] if options["strict"] else []
    planned = plan(spec, resources, report, marginal_flag=bool(options.get("no_marginal")))
    if options["dry_run"]:
        for script in (planned.chain_script, planned.combine_script):
            if script is not None:
                click.echo(script)
        return
    problem = slurm.available()
    if problem:
        raise InputError(problem, 3)
    done = submit_plan(planned)
    if done.array_job:
        click.echo(
            f"Submitted chains {', '.join(map(str, done.chains))} as job array {done.array_job}; "
            f"combine job {done.combine_job} runs when they end."
        )
    else:
        click.echo(f"Every chain has its shard: submitted combine job {done.combine_job}.")
    click.echo(f"Job scripts and logs: {done.jobs}")


COMMANDS = [combine, submit]

"""Commands that run a fit as batch jobs: combine (chain shards -> results folder), submit (a
SLURM job array of chains, then combine) and kfold (K-fold cross-validation, here or as a SLURM
job array of folds); ``mixfit fit --chain K`` runs one chain here."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

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
from mixfit.errors import CHECKS_FAILED, InputError


def check_job_folder(outdir: Path) -> None:
    from mixfit.hpc.job_folder import check_job_folder as check  # the pipeline takes a second

    check(outdir)


def fit_chain(options: dict) -> None:
    """``mixfit fit --chain K``: sample chain K of the run alone and write its shard."""
    from mixfit.console import Console
    from mixfit.hpc.shards import run_chain

    chain = task_number(options["chain"], "chain")
    spec = run_spec(options)
    if spec.output is not None:
        check_job_folder(spec.output)
    if spec.approximate:
        raise InputError(
            f"--algorithm {spec.algorithm} has no chains to run one at a time (--chain)"
        )
    spec = replace(spec, sampler=replace(spec.sampler, chain=chain))
    spec.sampler.check()
    console = Console(quiet=options["quiet"])
    with console.progress() as progress:
        path = run_chain(spec, progress, sys.argv)
    if not options["quiet"]:
        console.err.print(f"Chain {chain} of {spec.sampler.chains} written to {path}", markup=False)


def task_number(value: str, what: str) -> int:
    """K, or for "array" the task id of the SLURM array job this runs in."""
    if value == "array":
        value = os.environ.get("SLURM_ARRAY_TASK_ID", "")
        if not value:
            raise InputError(
                f"--{what} array needs $SLURM_ARRAY_TASK_ID: run it as a SLURM array task"
            )
    if not value.isdigit():
        raise InputError(f"--{what} must be a {what} number or 'array' (got {value!r})")
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


SLURM_OPTIONS = [
    click.option("--partition", help="SLURM partition of the jobs (the cluster's default)."),
    click.option("--time", "time_limit", help="Time limit of each task, e.g. 2:00:00."),
    click.option("--mem", help="Memory of each task, e.g. 4G."),
    click.option("--account", help="SLURM account to charge."),
    click.option("--dry-run", is_flag=True, help="Print the job scripts; submit nothing."),
]
SUBMIT_OPTIONS = [
    *SLURM_OPTIONS,
    click.option(
        "--cpus-per-chain",
        type=int,
        default=1,
        show_default=True,
        help="Cores of each chain's task; its threads, unless --threads-per-chain.",
    ),
]


@click.command()
@with_options(MODEL_OPTIONS, SAMPLER_OPTIONS, REPORT_OPTIONS, SUBMIT_OPTIONS, [DEBUG_OPTION])
@errors_to_exit_codes
def submit(**options) -> None:
    """Submit a fit to SLURM: its chains as a job array, then a job combining them into OUTDIR.

    Submitting again runs only the chains that have no shard yet."""
    from mixfit.hpc import slurm
    from mixfit.hpc.submit import plan
    from mixfit.hpc.submit import submit as submit_plan

    spec = run_spec(options)
    if spec.output is not None:
        check_job_folder(spec.output)
    if spec.approximate:
        raise InputError(
            f"--algorithm {spec.algorithm} has no chains to submit as a job array: run mixfit fit"
        )
    cpus = options["cpus_per_chain"]
    if options["threads_per_chain"] is None and cpus > 1:
        spec = replace(spec, sampler=replace(spec.sampler, threads_per_chain=cpus))
    resources = slurm_resources(options, cpus)
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


def slurm_resources(options: dict, cpus: int):
    from mixfit.hpc.submit import Resources

    return Resources(
        partition=options["partition"],
        time=options["time_limit"],
        mem=options["mem"],
        cpus_per_chain=cpus,
        account=options["account"],
    )


KFOLD_OPTIONS = [
    click.option("--folds", type=int, default=10, show_default=True, help="Number of folds."),
    click.option("--group", help="Leave out whole levels of this column in each fold."),
    click.option("--slurm", "on_slurm", is_flag=True, help="Fit the folds as a SLURM job array."),
    click.option(
        "--cpus-per-fold",
        type=int,
        default=1,
        show_default=True,
        help="With --slurm: cores of each fold's task, shared by its chains.",
    ),
]


@click.command()
@with_options(MODEL_OPTIONS, SAMPLER_OPTIONS, KFOLD_OPTIONS, SLURM_OPTIONS, [DEBUG_OPTION])
@errors_to_exit_codes
def kfold(**options) -> None:
    """K-fold cross-validation (brms's kfold): elpd_kfold and its SE, into OUTDIR.

    Each fold's fit and held-out rows are kept in OUTDIR.jobs/folds. Running it again fits only
    the folds without a result."""
    import random

    from mixfit.console import Console
    from mixfit.hpc import kfold as cv
    from mixfit.hpc.submit import array_scripts, submit_scripts

    spec = run_spec(options)
    if spec.output is None:
        raise InputError("no output folder given: use -o OUTDIR (or 'output' in the spec)")
    check_job_folder(spec.output)
    if spec.sampler.seed is None:  # the folds of a rerun are the first run's
        earlier = cv.read_plan(spec.output)
        seed = earlier["seed"] if earlier else random.randrange(2**31)
        spec = replace(spec, sampler=replace(spec.sampler, seed=seed))
    dry_run = options["on_slurm"] and options["dry_run"]
    if options["on_slurm"]:  # the scripts' values are checked before any fold is planned
        from mixfit.hpc.script_values import check_path
        from mixfit.hpc.shards import jobs_dir

        slurm_resources(options, options["cpus_per_fold"])
        check_path(str(jobs_dir(spec.output)), "the job folder")
    plan = cv.plan_folds(spec, options["folds"], options["group"], write=not dry_run)
    outdir = Path(spec.output).resolve()
    todo = cv.pending(outdir, plan) if not dry_run else list(range(1, plan["folds"] + 1))
    if options["on_slurm"]:
        from mixfit.hpc import slurm
        from mixfit.hpc.shards import jobs_dir

        jobs = jobs_dir(outdir)
        scripts = array_scripts(
            jobs,
            f"{outdir.name}-kfold",
            slurm_resources(options, options["cpus_per_fold"]),
            "fold",
            todo,
            ["kfold-fold", str(outdir), "--fold", "array"],
            ["kfold-collect", str(outdir)],
        )
        if dry_run:
            click.echo("\n".join(s for s in scripts if s is not None))
            return
        problem = slurm.available()
        if problem:
            raise InputError(problem, 3)
        array_job, collect_job = submit_scripts(jobs, "fold", *scripts)
        if array_job:
            click.echo(
                f"Submitted folds {', '.join(map(str, todo))} as job array {array_job}; "
                f"job {collect_job} collects them into {outdir} when they end."
            )
        else:
            click.echo(f"Every fold has its result: submitted job {collect_job} to collect them.")
        return
    console = Console(quiet=options["quiet"])
    done = [k for k in range(1, plan["folds"] + 1) if k not in todo]
    if done and not options["quiet"]:
        console.err.print(cv.reused(outdir, done, plan["folds"]), markup=False, soft_wrap=True)
    for fold in todo:
        with console.progress() as progress:
            progress("backend", None, f"Fold {fold} of {plan['folds']}")
            cv.run_fold(outdir, fold, progress, sys.argv)
    table, pointwise, plan = cv.collect(outdir)
    click.echo(cv.write_kfold(outdir, table, pointwise, plan), nl=False)


@click.command("kfold-fold", hidden=True)
@click.argument("outdir", type=click.Path(path_type=Path))
@click.option("--fold", required=True, help="K, or 'array': $SLURM_ARRAY_TASK_ID.")
@click.option("--quiet", is_flag=True)
@DEBUG_OPTION
@errors_to_exit_codes
def kfold_fold(outdir: Path, fold: str, quiet: bool, debug: bool) -> None:
    """One fold of 'mixfit kfold': fit it and score its held-out rows (a SLURM array task)."""
    from mixfit.console import Console
    from mixfit.hpc.kfold import run_fold

    number = task_number(fold, "fold")
    with Console(quiet=quiet).progress() as progress:
        path = run_fold(outdir, number, progress, sys.argv)
    if not quiet:
        click.echo(f"Fold {number}: held-out elpd written to {path}", err=True)


@click.command("kfold-collect", hidden=True)
@click.argument("outdir", type=click.Path(path_type=Path))
@DEBUG_OPTION
@errors_to_exit_codes
def kfold_collect(outdir: Path, debug: bool) -> None:
    """The folds' held-out elpd summed into OUTDIR (the job after the folds' array)."""
    from mixfit.hpc.kfold import collect, write_kfold

    table, pointwise, plan = collect(outdir)
    click.echo(write_kfold(outdir, table, pointwise, plan), nl=False)


COMMANDS = [combine, submit, kfold, kfold_fold, kfold_collect]

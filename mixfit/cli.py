"""The command line: flags to a RunSpec, results to the screen, MixfitError to one line and a code.

Heavy libraries (Stan, ArviZ, pandas) are imported inside the commands so ``--help`` stays fast.
"""

from __future__ import annotations

import sys
import traceback
from functools import wraps
from pathlib import Path

import click

from mixfit import __version__, interrupt
from mixfit.errors import CHECKS_FAILED, INPUT, MixfitError


def _model_options(f):
    options = [
        click.argument("source", type=click.Path(path_type=Path)),
        click.option("-f", "--formula", help='lme4/brms formula, e.g. "y ~ x + (x | g)".'),
        click.option("--family", help='e.g. poisson, negbinomial, cumulative; "name(link=...)".'),
        click.option("--levels", help='Ordinal response: its categories, lowest first: "low,mid,high".'),
        click.option("--sample-prior", type=click.Choice(["no", "only"]),
                     help="only: sample from the priors alone (a prior predictive check)."),
        click.option("--factor", "factors", multiple=True, help="Treat a numeric column as categorical."),
        click.option("--prior", "priors", multiple=True, help='"normal(0, 5) : b[ : coef]" (repeatable).'),
        click.option("--debug", is_flag=True, help="Show tracebacks."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


_no_marginal = click.option(
    "--no-marginal",
    is_flag=True,
    help="Sample gaussian group-level effects jointly instead of integrating them out.",
)


def _sampler_options(f):
    options = [
        click.option("-o", "--output", type=click.Path(path_type=Path), help="Results folder."),
        click.option("--chains", type=int, help="Markov chains (4)."),
        click.option("--iter", "iter_", type=int, help="Iterations per chain, warmup included (2000)."),
        click.option("--warmup", type=int, help="Warmup iterations per chain (iter/2)."),
        click.option("--seed", type=int, help="Random seed (default: chosen and recorded)."),
        click.option("--adapt-delta", type=float, help="Target acceptance rate (0.8)."),
        click.option("--max-treedepth", type=int, help="NUTS maximum tree depth (10)."),
        click.option("--parallel-chains", type=int, help="Chains run at once (cores)."),
        click.option(
            "--backend", type=click.Choice(["auto", "cmdstan", "pystan"]), help="Stan backend."
        ),
        click.option("--quiet", is_flag=True, help="Print only the summary and errors."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _errors_to_exit_codes(command):
    """Turn a MixfitError into one line on stderr and its exit code; tracebacks only with --debug."""

    @wraps(command)
    def run(*args, **kwargs):
        debug = kwargs.get("debug", False)
        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt:
            _interrupted()
        except MixfitError as exc:
            if interrupt.received():  # a failure caused by the signal stopping Stan's processes
                _interrupted()
            if debug:
                traceback.print_exc()
            click.echo(f"mixfit: error: {_one_line(str(exc))}", err=True)
            sys.exit(exc.exit_code)
        except Exception as exc:  # a bug: still one line, with the way to see more
            if interrupt.received():
                _interrupted()
            if debug:
                traceback.print_exc()
            hint = "" if debug else " (run with --debug for the traceback)"
            click.echo(f"mixfit: internal error: {type(exc).__name__}: {exc}{hint}", err=True)
            sys.exit(1)

    return run


def _one_line(message: str) -> str:
    """Control characters (from a formula or a file name) shown escaped: the error stays one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


def _interrupted() -> None:
    interrupt.clean_up()
    click.echo(f"mixfit: {interrupt.describe()}", err=True)
    sys.exit(interrupt.exit_code())


def _spec(source: Path, flags: dict):
    from mixfit.spec import build_spec, load_spec_file

    file_values = {}
    if source.suffix.lower() in {".yaml", ".yml"}:
        file_values = load_spec_file(source)
    else:
        flags["data"] = source
    return build_spec(file_values, flags)


def _flags(
    formula, family, factors, priors, no_marginal=False, levels=None, sample_prior=None, **sampler
) -> dict:
    return {
        "marginal": False if no_marginal else None,
        "levels": tuple(v.strip() for v in levels.split(",")) if levels else (),
        "sample_prior": sample_prior,
        "formula": formula,
        "family": family,
        "factors": tuple(factors),
        "priors": tuple(priors),
        "sampler": sampler,
    }


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mixfit")
def cli() -> None:
    """Fit Bayesian mixed-effects models to CSV data with Stan."""


@cli.command()
@_model_options
@_sampler_options
@click.option("--prob", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.95,
              show_default=True, help="Probability of the reported intervals.")
@click.option("--strict", is_flag=True, help="Exit 4 when a convergence check fails.")
@click.option("--no-plots", is_flag=True, help="Skip the plots and report.html.")
@_no_marginal
@_errors_to_exit_codes
def fit(source, formula, family, levels, sample_prior, factors, priors, debug, no_marginal, output, chains, iter_, warmup, seed,
        adapt_delta, max_treedepth, parallel_chains, backend, quiet, prob, strict, no_plots):
    """Fit a model: SOURCE is a CSV file (with -f) or a YAML spec."""
    from mixfit.console import Console

    flags = _flags(
        formula, family, factors, priors, no_marginal, levels, sample_prior, chains=chains, iter=iter_, warmup=warmup, seed=seed,
        adapt_delta=adapt_delta, max_treedepth=max_treedepth, parallel_chains=parallel_chains,
    )
    flags.update(output=output, backend=backend)
    spec = _spec(source, flags)
    if spec.output is None:
        raise MixfitError("no output folder given: use -o OUTDIR (or 'output' in the spec)", INPUT)
    from mixfit.pipeline import fit as run_fit

    console = Console(quiet=quiet)
    with console.progress() as progress:
        result = run_fit(spec, progress)
        from mixfit.outputs import write_results  # imported while the chains ran

        written = write_results(result, spec.output, sys.argv, prob=prob, plots=not no_plots)
    console.summary(written.summary, spec.output)
    if strict and not written.diagnostics.ok:
        sys.exit(CHECKS_FAILED)


@cli.command()
@_model_options
@_no_marginal
@_errors_to_exit_codes
def stancode(source, formula, family, levels, sample_prior, factors, priors, debug, no_marginal):
    """Print the Stan program for a model (nothing is compiled)."""
    from mixfit.pipeline import prepare

    flags = _flags(formula, family, factors, priors, no_marginal, levels, sample_prior)
    click.echo(prepare(_spec(source, flags)).code, nl=False)


@cli.command()
@_model_options
@_no_marginal
@_errors_to_exit_codes
def standata(source, formula, family, levels, sample_prior, factors, priors, debug, no_marginal):
    """Print the Stan data for a model as JSON."""
    from mixfit.outputs import standata_json
    from mixfit.pipeline import prepare

    flags = _flags(formula, family, factors, priors, no_marginal, levels, sample_prior)
    prepared = prepare(_spec(source, flags))
    click.echo(standata_json(prepared.data))


@cli.command()
@_model_options
@_errors_to_exit_codes
def priors(source, formula, family, levels, sample_prior, factors, priors, debug):
    """Print the priors a fit would use, as brms's get_prior (nothing is compiled)."""
    from mixfit.model import prior_table
    from mixfit.pipeline import prepare

    flags = _flags(formula, family, factors, priors, False, levels, sample_prior)
    table = prior_table(prepare(_spec(source, flags)).model)
    click.echo(table.to_string(index=False))


@cli.command()
@click.option("--prebuild", is_flag=True,
              help="Also compile the common model structures (about 9 minutes) so first fits start at once.")
@click.option("--backend", type=click.Choice(["auto", "cmdstan", "pystan"]), default="auto")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@_errors_to_exit_codes
def setup(prebuild, backend, debug):
    """Report the usable Stan backends; install CmdStan where the network allows."""
    from mixfit.setup import prebuild as prebuild_models
    from mixfit.setup import run_setup

    run_setup(click.echo)
    if prebuild:
        prebuild_models(click.echo, backend)


@cli.command()
@click.argument("outdir", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object: fixef, varcorr, diagnostics.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@_errors_to_exit_codes
def summary(outdir, as_json, debug):
    """Re-print the summary of a results folder, without refitting."""
    import json

    from mixfit import results

    if as_json:
        click.echo(json.dumps(results.summary_json(outdir), indent=2))
    else:
        click.echo(results.summary_text(outdir), nl=False)


def main() -> None:
    interrupt.handle_signals()  # SIGINT and SIGTERM stop Stan's processes and unwind cleanly
    try:
        cli.main(prog_name="mixfit", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:  # bare "mixfit": the help, as click shows it
        exc.show()
        sys.exit(exc.exit_code)
    except click.UsageError as exc:  # a bad flag is an input error: one line, like the others
        where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
        click.echo(f"mixfit: error: {exc.format_message()}{where}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"mixfit: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        _interrupted()

"""What the commands share: option groups, the spec built from options, and the one place where a
MixfitError becomes one line on stderr and an exit code."""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import sys
import traceback
from functools import wraps
from pathlib import Path

import click

from mixfit import interrupt
from mixfit.errors import TOOLCHAIN, MixfitError
from mixfit.spec import BACKENDS, SAMPLER_KEYS, RunSpec

BACKEND_CHOICE = click.Choice(list(BACKENDS))

# Every option a model takes; each is one line here and one field of the spec (mixfit/spec.py).
MODEL_OPTIONS = [
    click.argument("source", type=click.Path(path_type=Path)),
    click.option(
        "-f",
        "--formula",
        "formulas",
        multiple=True,
        help='lme4/brms formula, e.g. "y ~ x + (x | g)"; again for a family parameter: '
        '-f "sigma ~ x" (or one "bf(y ~ x, sigma ~ x)").',
    ),
    click.option("--family", help='e.g. poisson, negbinomial, cumulative; "name(link=...)".'),
    click.option(
        "--levels",
        "levels",
        multiple=True,
        help='Ordinal response: its categories, lowest first: "low,mid,high"; categorical: '
        'the reference first. "dose=low,mid,high": the order of a text column of mo(dose) '
        "(repeatable).",
    ),
    click.option(
        "--sample-prior",
        type=click.Choice(["no", "only"]),
        help="only: sample from the priors alone (a prior predictive check).",
    ),
    click.option(
        "--factor", "factors", multiple=True, help="Treat a numeric column as categorical."
    ),
    click.option(
        "--prior", "priors", multiple=True, help='"normal(0, 5) : b[ : coef]" (repeatable).'
    ),
    click.option(
        "--no-marginal",
        is_flag=True,
        help="Sample gaussian group-level effects jointly instead of integrating them out.",
    ),
    click.option("--threads-per-chain", type=int, help="Threads within a chain (reduce_sum) (1)."),
]


def _output_folder(ctx, param, value: str | None) -> Path | None:
    """An empty -o (an unset $OUTDIR) would be the current folder: refused, not replaced."""
    if value is not None and not value.strip():
        raise click.BadParameter("an empty name (an unset variable?): give a folder")
    return None if value is None else Path(value)


SAMPLER_OPTIONS = [
    click.option(
        "-o", "--output", type=click.Path(), callback=_output_folder, help="Results folder."
    ),
    click.option(
        "--force",
        is_flag=True,
        help="Write into an existing folder that is not a results folder (its other "
        "files are kept).",
    ),
    click.option("--chains", type=int, help="Markov chains (4)."),
    click.option("--iter", type=int, help="Iterations per chain, warmup included (2000)."),
    click.option("--warmup", type=int, help="Warmup iterations per chain (iter/2)."),
    click.option("--seed", type=int, help="Random seed (default: chosen and recorded)."),
    click.option("--adapt-delta", type=float, help="Target acceptance rate (0.8)."),
    click.option("--max-treedepth", type=int, help="NUTS maximum tree depth (10)."),
    click.option(
        "--parallel-chains",
        "--cores",
        type=int,
        help="Chains run at once (cores), as brms's cores.",
    ),
    click.option("--thin", type=int, help="Keep every N-th draw after warmup (1)."),
    click.option(
        "--init",
        type=float,
        help="Initial values: 0 for all zero, R for uniform(-R, R) on the unconstrained scale (2).",
    ),
    click.option(
        "--refresh", type=int, help="Iterations between progress reports; 0 for none (about 200)."
    ),
    click.option("--backend", type=BACKEND_CHOICE, help="Stan engine (auto)."),
    click.option(
        "--algorithm",
        type=click.Choice(["sampling", "pathfinder", "laplace"]),
        help="sampling (NUTS), or an approximate posterior: pathfinder, laplace (stanli).",
    ),
    click.option("--quiet", is_flag=True, help="Print only the summary and errors."),
]


def _probability(ctx, param, value: float) -> float:
    if not 0 < value < 1:  # written so that nan fails too
        raise click.BadParameter(f"{value} is not a probability strictly between 0 and 1")
    return value


REPORT_OPTIONS = [
    click.option(
        "--prob",
        type=float,
        default=0.95,
        callback=_probability,
        show_default=True,
        help="Probability of the reported intervals.",
    ),
    click.option("--strict", is_flag=True, help="Exit 4 when a convergence check fails."),
    click.option("--no-plots", is_flag=True, help="Skip the plots and report.html."),
    click.option(
        "--classical",
        is_flag=True,
        help="Also fit by REML (gaussian) or Laplace ML, as lme4, and compare.",
    ),
    click.option("--ml", is_flag=True, help="The classical fit by ML (implies --classical)."),
]


DEBUG_OPTION = click.option("--debug", is_flag=True, help="Show tracebacks.")


def with_options(*groups: list):
    """Apply groups of click options to a command, in the order given."""

    def decorate(command):
        for option in reversed([o for group in groups for o in group]):
            command = option(command)
        return command

    return decorate


def run_spec(options: dict) -> RunSpec:
    """A checked RunSpec from a command's options: the YAML file's values, overridden by flags."""
    from mixfit.spec import build_spec, load_spec_file, parse_levels_flags

    source: Path = options["source"]
    flags = {
        "formula": tuple(options.get("formulas") or ()) or None,
        "family": options.get("family"),
        "factors": tuple(options.get("factors", ())),
        "priors": tuple(options.get("priors", ())),
        **parse_levels_flags(tuple(options.get("levels") or ())),
        "sample_prior": options.get("sample_prior"),
        "marginal": False if options.get("no_marginal") else None,
        "classical": "ML" if options.get("ml") else options.get("classical") or None,
        "output": options.get("output"),
        "force": options.get("force") or None,
        "backend": options.get("backend"),
        "algorithm": options.get("algorithm"),
        "sampler": {key: options.get(key) for key in SAMPLER_KEYS},
    }
    file_values = {}
    inputs = {}
    if source.suffix.lower() in {".yaml", ".yml"}:
        file_values = load_spec_file(source)
        inputs["spec"] = source
    else:
        flags["data"] = source
    spec = build_spec(file_values, flags)
    if spec.output is not None:
        from mixfit.results.outdir import check_outdir

        check_outdir(spec.output, spec.force, inputs={"data file": spec.data, **inputs})
    return spec


def errors_to_exit_codes(command):
    """Turn a MixfitError into one line on stderr and its exit code; tracebacks only with --debug."""

    @wraps(command)
    def run(*args, **kwargs):
        debug = kwargs.get("debug", False)
        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt:
            interrupted()
        except MixfitError as exc:
            if interrupt.received():  # a failure caused by the signal stopping Stan's processes
                interrupted()
            if debug:
                traceback.print_exc()
            click.echo(f"mixfit: error: {one_line(str(exc))}", err=True)
            sys.exit(exc.exit_code)
        except Exception as exc:  # noqa: BLE001 (a bug: still one line, with the way to see more)
            if interrupt.received():
                interrupted()
            if isinstance(exc, OSError) and exc.errno in {errno.EPIPE, *FULL}:
                _output_failed(exc, debug)
            if debug:
                traceback.print_exc()
            hint = "" if debug else " (run with --debug for the traceback)"
            click.echo(f"mixfit: internal error: {type(exc).__name__}: {exc}{hint}", err=True)
            sys.exit(1)

    return run


# A device or quota full, or a file-size limit: the system's state, not mixfit's bug.
FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def _output_failed(exc: OSError, debug: bool) -> None:
    """A closed pipe ends the run quietly; a full disk or stdout is one line and exit 3."""
    with contextlib.suppress(OSError):  # what stdout still holds can't be written: drop it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if exc.errno == errno.EPIPE:  # the reader went away (`| head`): nothing to say
        sys.exit(128 + 13)  # as a process that SIGPIPE stopped
    if debug:
        traceback.print_exc()
    where = f" {exc.filename!r}" if exc.filename else ""
    click.echo(f"mixfit: error: could not write{where}: {exc.strerror}", err=True)
    sys.exit(TOOLCHAIN)


def json_text(value) -> str:
    """``value`` as standard JSON: NaN and infinities (which Python writes as bare words that
    JSON parsers refuse) as null."""
    return json.dumps(_finite(value), indent=2, allow_nan=False)


def _finite(value):
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        return _finite(value.item())
    return value


def one_line(message: str) -> str:
    """Control characters (from a formula or a file name) shown escaped: the error stays one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


def interrupted() -> None:
    interrupt.clean_up()
    click.echo(f"mixfit: {interrupt.describe()}", err=True)
    sys.exit(interrupt.exit_code())

"""The classical fit alone: ``mixfit classical DATA -f FORMULA -o OUTDIR``, as lme4's lmer or glmer
would fit the model, with the same formula, factors, offsets and data checks as ``fit``."""

from __future__ import annotations

from pathlib import Path

import click

from mixfit.commands.common import DEBUG_OPTION, errors_to_exit_codes, run_spec, with_options
from mixfit.errors import INPUT, MixfitError

CLASSICAL_OPTIONS = [
    click.argument("source", type=click.Path(path_type=Path)),
    click.option(
        "-f",
        "--formula",
        "formulas",
        multiple=True,
        help='lme4/brms formula, e.g. "y ~ x + (x | g)"; again for a family parameter: '
        '-f "sigma ~ x" (or one "bf(y ~ x, sigma ~ x)").',
    ),
    click.option("--family", help="gaussian, bernoulli, binomial, poisson or negbinomial."),
    click.option(
        "--factor", "factors", multiple=True, help="Treat a numeric column as categorical."
    ),
    click.option("-o", "--output", type=click.Path(path_type=Path), help="Results folder."),
    click.option("--ml", is_flag=True, help="Fit a gaussian model by ML instead of REML."),
    click.option(
        "--prob",
        type=click.FloatRange(0, 1, min_open=True, max_open=True),
        default=0.95,
        show_default=True,
        help="Probability of the Wald intervals.",
    ),
    click.option("--quiet", is_flag=True, help="Print only the summary and errors."),
]


@click.command()
@with_options(CLASSICAL_OPTIONS, [DEBUG_OPTION])
@errors_to_exit_codes
def classical(**options) -> None:
    """Fit a model by REML/ML (gaussian) or Laplace ML, as lme4 does; no sampling."""
    from mixfit.classical.alone import fit_alone
    from mixfit.console import Console

    spec = run_spec({**options, "classical": True})
    if spec.output is None:
        raise MixfitError("no output folder given: use -o OUTDIR (or 'output' in the spec)", INPUT)
    report = fit_alone(spec, options["prob"])
    Console(quiet=options["quiet"]).summary(report.text, spec.output)


COMMANDS = [classical]

"""Commands about the Stan engines on this machine: setup, cache."""

from __future__ import annotations

import click

from mixfit.commands.common import BACKEND_CHOICE, DEBUG_OPTION, errors_to_exit_codes
from mixfit.engines.setup import PREBUILD_MINUTES


@click.command()
@click.option(
    "--prebuild",
    is_flag=True,
    help="PyStan or CmdStan only: build the 12 most common model structures ahead "
    f"(about {PREBUILD_MINUTES} minutes on 2 cores). stanli, the default, builds nothing.",
)
@click.option(
    "--install-cmdstan",
    is_flag=True,
    help="Download and build CmdStan with cmdstanpy (needs the network and a C++ compiler).",
)
@click.option(
    "--backend",
    type=BACKEND_CHOICE,
    default="auto",
    help="The engine --prebuild builds for (auto: CmdStan if usable, else PyStan).",
)
@DEBUG_OPTION
@errors_to_exit_codes
def setup(prebuild: bool, install_cmdstan: bool, backend: str, debug: bool) -> None:
    """Check which Stan engines run here (each samples a tiny model; the verdict is cached for fits)."""
    from mixfit.engines.setup import prebuild as prebuild_models
    from mixfit.engines.setup import run_setup

    run_setup(click.echo, install_cmdstan=install_cmdstan)
    if prebuild:
        prebuild_models(click.echo, backend)


@click.group(invoke_without_command=True)
@DEBUG_OPTION
@click.pass_context
@errors_to_exit_codes
def cache(context: click.Context, debug: bool) -> None:
    """List the compiled-model cache (size and last use of each entry), or clear it."""
    if context.invoked_subcommand is None:
        from mixfit.engines.cache_listing import describe_cache

        click.echo(describe_cache())


@cache.command(name="clear")
@click.option(
    "--older-than",
    "older_than",
    metavar="AGE",
    help="Only entries not used for this long: 30d, 12h, 90m, 2w.",
)
@DEBUG_OPTION
@errors_to_exit_codes
def clear_cache(older_than: str | None, debug: bool) -> None:
    """Remove compiled models from the cache (all, or those not used for AGE)."""
    from mixfit.engines.cache_listing import clear

    click.echo(clear(older_than))


COMMANDS = [setup, cache]

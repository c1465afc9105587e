"""Commands about the Stan engines on this machine: setup, cache."""

from __future__ import annotations

import click

from mixfit.cli import BACKEND_CHOICE, DEBUG_OPTION, errors_to_exit_codes


@click.command()
@click.option("--prebuild", is_flag=True,
              help="Also compile the common model structures (about 9 minutes) so first fits start at once.")
@click.option("--backend", type=BACKEND_CHOICE, default="auto")
@DEBUG_OPTION
@errors_to_exit_codes
def setup(prebuild: bool, backend: str, debug: bool) -> None:
    """Report the usable Stan backends; install CmdStan where the network allows."""
    from mixfit.engines.setup import prebuild as prebuild_models
    from mixfit.engines.setup import run_setup

    run_setup(click.echo)
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

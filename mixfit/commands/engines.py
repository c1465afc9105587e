"""Commands about the Stan engines on this machine: setup."""

from __future__ import annotations

import click

from mixfit.commands.common import BACKEND_CHOICE, DEBUG_OPTION, errors_to_exit_codes


@click.command()
@click.option(
    "--prebuild",
    is_flag=True,
    help="Also compile the common model structures (about 9 minutes) so first fits start at once.",
)
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


COMMANDS = [setup]

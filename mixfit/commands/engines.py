"""Commands about the Stan engines on this machine: setup."""

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


COMMANDS = [setup]

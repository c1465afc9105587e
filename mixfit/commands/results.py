"""Commands that read a results folder back: summary."""

from __future__ import annotations

from pathlib import Path

import click

from mixfit.commands.common import DEBUG_OPTION, errors_to_exit_codes, json_text


@click.command()
@click.argument("outdir", type=click.Path(path_type=Path))
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON object: fixef, varcorr, diagnostics."
)
@DEBUG_OPTION
@errors_to_exit_codes
def summary(outdir: Path, as_json: bool, debug: bool) -> None:
    """Re-print the summary of a results folder, without refitting."""
    from mixfit.results import folder

    if as_json:
        click.echo(json_text(folder.summary_json(outdir)))
    else:
        click.echo(folder.summary_text(outdir), nl=False)


COMMANDS = [summary]

"""The command line: the ``mixfit`` group, with the commands of each stage from ``mixfit/commands/``.

A command parses its flags into a spec, calls a library function, and shows what comes back; errors
become one line and an exit code in ``mixfit.commands.common``. Heavy libraries (Stan, ArviZ,
pandas) are imported inside the commands so ``--help`` stays fast.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import warnings
from pathlib import Path
from typing import NoReturn

import click

from mixfit import __version__, interrupt
from mixfit.commands import analysis, classical, engines, fitting, hpc, results
from mixfit.commands.common import interrupted, one_line
from mixfit.errors import MixfitWarning


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mixfit")
def cli() -> None:
    """Fit Bayesian mixed-effects models to CSV data with Stan."""
    warnings.showwarning = _show_warning


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Every warning as one line, like an error: mixfit's own as they are; a library's (one that
    got past the place mixfit calls it) with the library's name and the warning's kind, never
    Python's two lines of file, line number and source."""
    text = str(message)
    if not issubclass(category, MixfitWarning):
        text = f"{_library(filename)}: {text} ({category.__name__})"
    click.echo(f"mixfit: warning: {one_line(text)}", err=True)


def _library(filename: str) -> str:
    """The package a file belongs to: the folder below site-packages, else the file's name."""
    parts = Path(filename).parts
    for marker in ("site-packages", "dist-packages"):
        if marker in parts and parts.index(marker) + 1 < len(parts):
            return Path(parts[parts.index(marker) + 1]).stem
    return Path(filename).stem


for _stage in (fitting, classical, results, analysis, hpc, engines):
    for _command in _stage.COMMANDS:
        cli.add_command(_command)


def main() -> None:
    interrupt.handle_signals()  # SIGINT and SIGTERM stop Stan's processes and unwind cleanly
    try:
        run_command_line()
    except SystemExit as stop:
        _leave(stop.code)
    _leave(0)


def _leave(code: object) -> NoReturn:
    """End the process without the interpreter's teardown, which frees pandas', xarray's and
    matplotlib's objects module by module: 0.3-0.6 s of a two-second warm fit, after every file
    was written and closed. What the teardown does that matters is done first: the other
    threads finished, the exit handlers run (temporary folders removed, logs flushed), the
    output flushed."""
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # as Python does with a message for sys.exit
        print(code, file=sys.stderr)
        status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can reach it
            pass
    os._exit(status)


def run_command_line(args: list[str] | None = None) -> None:
    """What ``mixfit ARGS`` does, signal handling aside (tests run it in-process)."""
    try:
        cli.main(args=args, prog_name="mixfit", standalone_mode=False)
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
        interrupted()

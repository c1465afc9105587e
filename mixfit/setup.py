"""``mixfit setup``: which Stan backends work here, and CmdStan where it can be installed."""

from __future__ import annotations

from typing import Callable

from mixfit.backends import cmdstan, pystan


def run_setup(say: Callable[[str], None]) -> None:
    problem = pystan.unavailable()
    if problem:
        say(f"pystan: not usable ({problem})")
    else:
        compiler = pystan.compiler()
        note = f"C++ compiler {compiler}" if compiler else "no C++ compiler found: install g++"
        say(f"pystan: usable ({pystan.PyStanBackend.version(None)}; {note})")
    problem = cmdstan.unavailable()
    if problem is None:
        say(f"cmdstan: usable (CmdStan {cmdstan.installed_version()})")
        return
    say(f"cmdstan: not installed ({problem}); trying to install it with cmdstanpy")
    if _install_cmdstan():
        say(f"cmdstan: installed (CmdStan {cmdstan.installed_version()})")
    else:
        say("cmdstan: cannot be downloaded from here; the embedded pystan backend will serve")


def _install_cmdstan() -> bool:
    import contextlib
    import io
    import logging

    import cmdstanpy

    logging.getLogger("cmdstanpy").setLevel(logging.CRITICAL)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            return bool(cmdstanpy.install_cmdstan(progress=False)) and cmdstan.unavailable() is None
        except Exception:  # any failure to download or build means: not installable here
            return False

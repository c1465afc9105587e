"""The one exception type mixfit raises for problems a user can act on.

The CLI turns it into a single line and an exit code; nothing else in the package prints errors.
"""

INPUT = 2  # bad data, formula, spec or flags
TOOLCHAIN = 3  # no compiler, Stan failed to compile or run
CHECKS_FAILED = 4  # --strict and a convergence check failed
INTERRUPTED_SIGINT = 130
INTERRUPTED_SIGTERM = 143


class MixfitError(Exception):
    """A problem with a message meant for the user, and the exit code it maps to."""

    exit_code = INPUT

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class InputError(MixfitError):
    exit_code = INPUT


class ToolchainError(MixfitError):
    exit_code = TOOLCHAIN


class MixfitWarning(UserWarning):
    """Something a user should know before a run goes on (the CLI shows it as one line)."""

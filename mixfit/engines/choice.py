"""Which engine runs a fit: the one asked for, or for ``auto`` the first usable one."""

from __future__ import annotations

from mixfit.engines.protocol import Backend
from mixfit.errors import InputError, ToolchainError


def choose_backend(name: str) -> Backend:
    from mixfit.engines import cmdstan, pystan, stanli

    if name == "stanli":
        problem = stanli.unavailable()
        if problem:
            raise ToolchainError(f"backend stanli is not usable here: {problem}")
        return stanli.StanliBackend()
    if name == "cmdstan":
        problem = cmdstan.unavailable()
        if problem:
            raise ToolchainError(f"backend cmdstan is not usable here: {problem}")
        return cmdstan.CmdStanBackend()
    if name == "pystan":
        problem = pystan.unavailable()
        if problem:
            raise ToolchainError(f"backend pystan is not usable here: {problem}")
        return pystan.PyStanBackend()
    if name == "auto":
        if stanli.unavailable() is None:
            return stanli.StanliBackend()
        if cmdstan.unavailable() is None:
            return cmdstan.CmdStanBackend()
        return choose_backend("pystan")
    raise InputError(f"unknown backend {name!r} (choose: auto, stanli, cmdstan, pystan)")

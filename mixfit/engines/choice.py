"""Which engine runs a fit, and why: the one asked for, or for ``auto`` the first that can run the
program here.

``auto`` tries stanli first (no C++ build), then CmdStan where it is installed, then PyStan. An engine
is skipped when its check on a tiny program failed on this machine (mixfit/engines/usable.py), and
stanli also when it has no compiled path for part of this program, which it says when it loads the
program, before any sampling. The reason travels to run.json (``backend_reason``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mixfit.engines import usable
from mixfit.engines.protocol import Backend, Compiled, Progress
from mixfit.errors import InputError, ToolchainError

ORDER = ("stanli", "cmdstan", "pystan")
# engines run only when asked for by name
NAMED = (*ORDER, "nutpie")
# engines that run stanli's programs, building nothing (nutpie samples over stanli's gradients)
STANLI_PROGRAMS = ("stanli", "nutpie")


@dataclass
class Loaded:
    backend: Backend
    compiled: Compiled
    code: str  # the program the engine loaded
    reason: str  # why this engine


# an engine's name -> the program and data it should load (stanli leaves some generated
# quantities to Python: mixfit/results/family_predictions.py)
Program = Callable[[str], tuple[str, dict]]


def choose_backend(name: str, program: Program, seed: int, progress: Progress) -> Loaded:
    """The engine for ``name`` with the program loaded (compiled, or taken from the cache)."""
    if name == "auto":
        return _first_usable(program, seed, progress)
    if name not in NAMED:
        raise InputError(f"unknown backend {name!r} (choose: auto, {', '.join(NAMED)})")
    backend, problem = usable.make(name)
    if backend is None:
        raise ToolchainError(f"backend {name} is not usable here: {problem}")
    if name in STANLI_PROGRAMS:  # asked for by name: a part with no compiled path runs interpreted
        backend.allow_interpreter = True
    code, data = program(name)
    compiled = _compile(backend, code, data, seed, progress)
    note = "; ".join(getattr(backend, "notes", []))
    return Loaded(backend, compiled, code, f"asked for ({name})" + (f"; {note}" if note else ""))


def _first_usable(program: Program, seed: int, progress: Progress) -> Loaded:
    from mixfit.engines.stanli import NoCompiledPath

    passed_over: list[str] = []
    for name in ORDER:
        verdict = usable.check(name, progress)
        if not verdict.usable:
            passed_over.append(f"{name}: {verdict.reason}")
            continue
        backend, problem = usable.make(name)
        if backend is None:  # it went away since the check
            passed_over.append(f"{name}: {problem}")
            continue
        code, data = program(name)
        try:
            compiled = _compile(backend, code, data, seed, progress)
        except NoCompiledPath as exc:
            passed_over.append(f"{name}: {exc}")
            continue
        reason = _why(name, passed_over)
        return Loaded(backend, compiled, code, reason)
    raise ToolchainError("no Stan backend can run this model here: " + "; ".join(passed_over))


def _compile(backend: Backend, code: str, data: dict, seed: int, progress: Progress) -> Compiled:
    try:
        return backend.compile(code, data, seed, progress)
    except BaseException:
        backend.close()
        raise


def _why(name: str, passed_over: list[str]) -> str:
    chosen = {
        "stanli": "stanli runs this program with no C++ build",
        "cmdstan": "CmdStan is installed and works here",
        "pystan": "PyStan works here",
    }[name]
    if not passed_over:
        return f"auto: {chosen}"
    return f"auto: {chosen}; passed over {'; '.join(passed_over)}"

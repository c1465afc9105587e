"""Whether an engine can run here: it has loaded (or built) a tiny program and sampled it on this
machine. Being installed is not enough: httpstan 4.17 on Python 3.13 builds a model whose extension
then fails to import (``undefined symbol: _PyThreadState_UncheckedGet``).

The verdict is kept in mixfit's cache folder, one file per engine, keyed by the engine's version,
the Python running mixfit and the compiler it would use, so each check runs once per installation.
A failed check keeps its cause in one line and the chain of causes for ``--debug``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

from mixfit.engines.cache import cache_root
from mixfit.engines.protocol import Backend, Progress
from mixfit.errors import MixfitError
from mixfit.spec import SamplerSettings

# the smallest program that exercises what a fit needs: data, a parameter, a likelihood, and
# generated quantities with an _rng
TINY_CODE = """data { int<lower=1> N; vector[N] y; }
parameters { real mu; }
model { y ~ normal(mu, 1); }
generated quantities { real y_new = normal_rng(mu, 1); }
"""
TINY_DATA = {"N": 3, "y": [0.1, -0.4, 0.8]}
TINY_RUN = SamplerSettings(chains=1, iter=40, seed=1, parallel_chains=1)

# what a first check of each engine costs, for the message shown while it runs
CHECK_COST = {
    "stanli": "",
    "nutpie": "",
    "pystan": " (once: a tiny model is built, about a minute)",
    "cmdstan": " (once: a tiny model is built, about a minute)",
}


@dataclass
class Verdict:
    backend: str
    usable: bool
    reason: str = ""  # why not, in one line
    causes: str = ""  # the chain of causes, as a traceback
    key: str = ""
    checked: float = 0.0  # when, in seconds since the epoch


class CheckFailed(Exception):
    """Carries a cached check's chain of causes, so ``--debug`` can show it."""


def make(name: str) -> tuple[Backend | None, str | None]:
    """The engine, or why it can't even start here (not installed, no CmdStan, ...)."""
    from mixfit.engines import cmdstan, nutpie, pystan, stanli

    module = {"stanli": stanli, "cmdstan": cmdstan, "pystan": pystan, "nutpie": nutpie}[name]
    problem = module.unavailable()
    if problem:
        return None, problem
    classes = {
        "stanli": stanli.StanliBackend,
        "cmdstan": cmdstan.CmdStanBackend,
        "pystan": pystan.PyStanBackend,
        "nutpie": nutpie.NutpieBackend,
    }
    return classes[name](), None


def check(name: str, progress: Progress | None = None, fresh: bool = False) -> Verdict:
    """The engine's verdict: from the cache unless ``fresh``, else by running the tiny program."""
    backend, problem = make(name)
    if backend is None:
        return Verdict(name, False, problem)
    try:
        key = _key(backend)
        cached = _read(name, key)
        if cached is not None and not fresh:
            return cached
        if progress:
            progress("check", None, f"Checking that {name} works here{CHECK_COST[name]}")
        verdict = _run_tiny(backend, key)
    finally:
        backend.close()
    _write(verdict)
    return verdict


def failure(verdict: Verdict) -> CheckFailed:
    return CheckFailed(verdict.causes or verdict.reason)


def _run_tiny(backend: Backend, key: str) -> Verdict:
    quiet = lambda *_: None
    try:
        compiled = backend.compile(TINY_CODE, TINY_DATA, 1, quiet)
        draws = backend.sample(compiled, TINY_DATA, TINY_RUN, quiet)
        if draws.posterior["mu"].shape != (1, TINY_RUN.num_samples):
            raise RuntimeError(f"{backend.name} returned draws of the wrong shape")
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001  (any failure means: this engine can't run here)
        return Verdict(backend.name, False, one_line(exc), _chain(exc), key, time.time())
    return Verdict(backend.name, True, "", "", key, time.time())


def one_line(exc: BaseException) -> str:
    """The message a user can act on: a MixfitError's own, else the innermost cause's."""
    while not isinstance(exc, MixfitError) and (exc.__cause__ or exc.__context__):
        exc = exc.__cause__ or exc.__context__
    text = " ".join(str(exc).split())
    return text if isinstance(exc, MixfitError) else f"{type(exc).__name__}: {text}"


def _chain(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def _key(backend: Backend) -> str:
    parts = [backend.name, backend.version(), sys.version, sys.prefix, os.environ.get("CXX", "")]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def _path(name: str) -> Path:
    return cache_root() / "usable" / f"{name}.json"


def _read(name: str, key: str) -> Verdict | None:
    try:
        saved = json.loads(_path(name).read_text())
        verdict = Verdict(**saved)
    except (OSError, ValueError, TypeError):
        return None
    return verdict if verdict.key == key else None


def _write(verdict: Verdict) -> None:
    path = _path(verdict.backend)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, staging = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
        with os.fdopen(fd, "w") as fh:
            json.dump(asdict(verdict), fh, indent=2)
        os.replace(staging, path)
    except OSError:  # a read-only cache: the check runs again next time, nothing worse
        pass

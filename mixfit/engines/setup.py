"""``mixfit setup``: which Stan engines run here, checked afresh on a tiny program; CmdStan installed
only when asked; and for the engines that build C++, the common model structures built ahead.

stanli, the default, builds nothing: a first fit of any structure starts sampling within a second.
PyStan and CmdStan build each structure once (about a minute on 2 cores) into mixfit's cache;
``prebuild`` does that ahead for the structures a first fit most likely has.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mixfit.errors import ToolchainError

if TYPE_CHECKING:  # imported by the command line: only what --help needs is imported here
    from mixfit.engines.usable import Verdict

# The structures a first fit most likely has: for each core family, one varying intercept,
# a correlated intercept and slope, and two crossed intercepts, all with brms's default priors.
PREBUILT_FAMILIES = ("gaussian", "bernoulli", "binomial", "poisson")
PREBUILT_SHAPES = ("(1 | g)", "(1 + x | g)", "(1 | g) + (1 | h)")
SECONDS_PER_BUILD = 60  # PyStan or CmdStan on 2 cores, stanc --O1
BUILDS = len(PREBUILT_FAMILIES) * len(PREBUILT_SHAPES)
PREBUILD_MINUTES = round(BUILDS * SECONDS_PER_BUILD / 60)  # the one figure README and --help give


def run_setup(say: Callable[[str], None], install_cmdstan: bool = False) -> dict[str, bool]:
    """Check every engine on this machine and say what each can do; returns name -> usable."""
    from mixfit.engines import usable
    from mixfit.engines.choice import NAMED, ORDER

    if install_cmdstan:
        _install_cmdstan(say)
    verdicts = {}
    for name in NAMED:
        verdict = usable.check(name, lambda _stage, _fraction, message: say(message), fresh=True)
        verdicts[name] = verdict.usable
        say(f"{name}: {_describe(name, verdict)}")
    auto = next((name for name in ORDER if verdicts[name]), None)
    say(f"auto uses {auto} first" if auto else "no engine can run here")
    return verdicts


def _describe(name: str, verdict: Verdict) -> str:
    if not verdict.usable:
        hint = ""
        if name == "cmdstan" and "no CmdStan installation" in verdict.reason:
            hint = (
                " (to install one: mixfit setup --install-cmdstan, which downloads and builds it)"
            )
        return f"not usable: {verdict.reason.split(' (set CMDSTAN')[0]}{hint}"
    if name == "stanli":
        return "usable: runs programs with no C++ build"
    if name == "nutpie":
        return (
            "usable: nutpie's NUTS over stanli's programs (--backend nutpie; auto never picks it)"
        )
    if name == "pystan":
        from mixfit.engines.pystan import compiler

        return f"usable: builds each model structure once with {compiler()}"
    from mixfit.engines.cmdstan import installed_version

    return f"usable: CmdStan {installed_version()}"


def _install_cmdstan(say: Callable[[str], None]) -> None:
    import contextlib
    import io
    import logging

    import cmdstanpy

    from mixfit.engines.usable import one_line

    say("cmdstan: downloading and building CmdStan with cmdstanpy (several minutes)")
    logging.getLogger("cmdstanpy").setLevel(logging.CRITICAL)
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
        try:
            # cmdstanpy says a failed download or build by returning False, not by raising
            installed = cmdstanpy.install_cmdstan(progress=False)
            reason = "the download or the build failed (no network here?)"
        except Exception as exc:  # noqa: BLE001  (any failure: not installable from here)
            installed, reason = False, one_line(exc)
    if installed is False:
        raise ToolchainError(f"CmdStan could not be installed here: {reason}")
    say("cmdstan: installed")


def prebuild(say: Callable[[str], None], backend_name: str = "auto") -> None:
    """Build the common model structures into the cache, so a first fit of one builds nothing."""
    from mixfit.engines.choice import choose_backend
    from mixfit.pipeline import prepare
    from mixfit.spec import build_spec

    engine = _building_engine(backend_name)
    if engine is None:
        say("stanli builds nothing: every first fit starts at once; nothing to prebuild")
        return
    jobs = [(family, shape) for family in PREBUILT_FAMILIES for shape in PREBUILT_SHAPES]
    say(
        f"prebuilding {len(jobs)} model structures with {engine}: "
        f"about {PREBUILD_MINUTES} minutes on 2 cores"
    )
    with tempfile.TemporaryDirectory(prefix="mixfit-prebuild-") as scratch:
        data = _example_data(Path(scratch))
        for family, shape in jobs:
            response = "k | trials(n)" if family == "binomial" else f"y_{family}"
            spec = build_spec(
                {},
                {
                    "data": data,
                    "formula": f"{response} ~ x + {shape}",
                    "family": family,
                    "sampler": {"seed": 1},
                },
            )
            prepared = prepare(spec)
            start = time.perf_counter()
            loaded = choose_backend(
                engine, lambda _, p=prepared: (p.code, p.data), 1, lambda *_: None
            )
            loaded.backend.close()
            status = "cached already" if loaded.compiled.from_cache else "built"
            say(f"  {family:9} {shape:18} {status} ({time.perf_counter() - start:.0f} s)")


def _building_engine(name: str) -> str | None:
    """The engine --prebuild builds for: the one named, or the first usable engine that builds
    C++ (CmdStan, then PyStan); None for stanli (and nutpie, on its programs): nothing to build."""
    from mixfit.engines import usable
    from mixfit.engines.choice import STANLI_PROGRAMS

    if name in STANLI_PROGRAMS:
        return None
    if name != "auto":
        return name
    for engine in ("cmdstan", "pystan"):
        if usable.check(engine).usable:
            return engine
    raise ToolchainError("neither CmdStan nor PyStan can build models here")


def _example_data(folder: Path) -> Path:
    """A small data set every prebuilt structure can be prepared on."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(1)
    n = 40
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "g": [f"g{i % 5}" for i in range(n)],
            "h": [f"h{i % 4}" for i in range(n)],
            "y_gaussian": rng.normal(size=n),
            "y_bernoulli": rng.integers(0, 2, size=n),
            "y_poisson": rng.poisson(2, size=n),
            "k": rng.integers(0, 5, size=n),
            "n": np.full(n, 5),
        }
    )
    path = folder / "example.csv"
    frame.to_csv(path, index=False)
    return path

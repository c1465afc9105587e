"""``mixfit setup``: which Stan backends work here, and CmdStan where it can be installed."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

from mixfit.engines.protocol import cmdstan, pystan

# The structures a first fit most likely has: for each core family, one varying intercept,
# a correlated intercept and slope, and two crossed intercepts, all with brms's default priors.
PREBUILT_FAMILIES = ("gaussian", "bernoulli", "binomial", "poisson")
PREBUILT_SHAPES = ("(1 | g)", "(1 + x | g)", "(1 | g) + (1 | h)")
SECONDS_PER_BUILD = 60  # PyStan on 2 cores, stanc --O1


def run_setup(say: Callable[[str], None]) -> None:
    problem = pystan.unavailable()
    if problem:
        say(f"pystan: not usable ({problem})")
    else:
        compiler = pystan.compiler()
        note = f"C++ compiler {compiler}" if compiler else "no C++ compiler found: install g++"
        say(f"pystan: usable ({pystan.PyStanBackend.version()}; {note})")
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


def prebuild(say: Callable[[str], None], backend_name: str = "auto") -> None:
    """Compile the common model structures into the cache, so a first fit compiles nothing."""
    from mixfit.engines.choice import choose_backend
    from mixfit.pipeline import prepare
    from mixfit.spec import build_spec

    jobs = [(family, shape) for family in PREBUILT_FAMILIES for shape in PREBUILT_SHAPES]
    minutes = len(jobs) * SECONDS_PER_BUILD / 60
    say(f"prebuilding {len(jobs)} model structures: about {minutes:.0f} minutes on 2 cores")
    with tempfile.TemporaryDirectory(prefix="mixfit-prebuild-") as scratch:
        data = _example_data(Path(scratch))
        for family, shape in jobs:
            response = "k | trials(n)" if family == "binomial" else f"y_{family}"
            spec = build_spec({}, {"data": data, "formula": f"{response} ~ x + {shape}",
                                   "family": family, "sampler": {"seed": 1}})
            prepared = prepare(spec)
            backend = choose_backend(backend_name)
            start = time.perf_counter()
            try:
                compiled = backend.compile(prepared.code, prepared.data, 1, lambda *_: None)
            finally:
                backend.close()
            status = "cached already" if compiled.from_cache else "built"
            say(f"  {family:9} {shape:18} {status} ({time.perf_counter() - start:.0f} s)")


def _example_data(folder: Path) -> Path:
    """A small data set every prebuilt structure can be prepared on."""
    import pandas as pd

    rng = np.random.default_rng(1)
    n = 40
    frame = pd.DataFrame({
        "x": rng.normal(size=n),
        "g": [f"g{i % 5}" for i in range(n)],
        "h": [f"h{i % 4}" for i in range(n)],
        "y_gaussian": rng.normal(size=n),
        "y_bernoulli": rng.integers(0, 2, size=n),
        "y_poisson": rng.poisson(2, size=n),
        "k": rng.integers(0, 5, size=n),
        "n": np.full(n, 5),
    })
    path = folder / "example.csv"
    frame.to_csv(path, index=False)
    return path

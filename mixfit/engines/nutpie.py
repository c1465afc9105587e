"""The nutpie engine: stanli's program and gradients, nutpie's NUTS.

nutpie (Rust) adapts its mass matrix from the gradients as well as the draws, so it settles on
longer steps than Stan's windowed adaptation: on the 50,000-row poisson model of the benchmark,
15 leapfrog steps per draw where Stan's NUTS takes 31, for about the same effective sample size
per gradient. Where a gradient is dear (many rows), the fit takes half the time.

The program runs on stanli's runtime library through BridgeStan's C interface, which nutpie's Rust
side loads itself: stanli passes the program inside the data (under ``"__stanli"``), so nothing is
built or written. Loading goes through ``StanliBackend.compile`` first, so a program stanli cannot
run with compiled code is refused the same way. nutpie is optional (``pip install
"mixfit[nutpie]"``) and never chosen by ``auto``: its draws are its own, not Stan's random streams.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from mixfit import interrupt
from mixfit.engines.protocol import (
    Compiled,
    Draws,
    Meanwhile,
    Progress,
    start_thread,
    typed_stats,
)
from mixfit.engines.stanli import StanliBackend, _first_line
from mixfit.engines.stanli import unavailable as stanli_unavailable
from mixfit.errors import InputError, ToolchainError
from mixfit.spec import SamplerSettings
from mixfit.wording import counted

# nutpie's sampler statistics, and ArviZ's (mixfit's) names for them
SAMPLE_STATS = {
    "logp": "lp",
    "mean_tree_accept": "acceptance_rate",
    "step_size": "step_size",
    "depth": "tree_depth",
    "n_steps": "n_steps",
    "diverging": "diverging",
    "energy": "energy",
}
STAN_INIT_RADIUS = 2.0  # nutpie starts each chain uniform in (-2, 2), as Stan
# a trace of this many bytes or more (every draw, warmup too) is written to disk as it is drawn:
# a small one is written 4-5 times slower so (sleepstudy 2.4 -> 7-12 s, thousands of tiny chunks)
ON_DISK_FROM = 128 * 2**20


def unavailable() -> str | None:
    """Why this engine can't run here, or None."""
    problem = stanli_unavailable()
    if problem:
        return problem
    if sys.version_info < (3, 11):
        return "nutpie needs Python 3.11 or newer (its zarr 3.1 does)"
    try:
        version("nutpie")
    except PackageNotFoundError:
        return 'nutpie is not installed (pip install "mixfit[nutpie]")'
    try:
        import nutpie  # noqa: F401
    except (ImportError, OSError) as exc:
        return f"nutpie does not load here: {exc}"
    return None


class NutpieBackend(StanliBackend):
    name = "nutpie"

    @staticmethod
    def version() -> str:
        return f"nutpie {version('nutpie')} on stanli {version('stanli')}"

    def compile(self, code: str, data: dict, seed: int, progress: Progress) -> Compiled:
        checked = super().compile(code, data, seed, progress)
        start = time.perf_counter()
        try:
            model = _nutpie_model(code, data, seed)
        except (RuntimeError, ValueError) as exc:
            raise ToolchainError(f"nutpie could not load the program: {_first_line(exc)}") from exc
        return Compiled(
            model, from_cache=False, seconds=checked.seconds + time.perf_counter() - start
        )

    def sample(
        self,
        compiled: Compiled,
        data: dict,
        settings: SamplerSettings,
        progress: Progress,
        meanwhile: Meanwhile = None,
    ) -> Draws:
        if settings.init is not None and settings.init != STAN_INIT_RADIUS:
            raise InputError(f"--init {settings.init:g}: nutpie starts its chains in (-2, 2) only")
        progress("sample", None, f"Sampling {counted(settings.run_chains, 'chain')} (nutpie)")
        if _trace_bytes(compiled.handle, settings) < ON_DISK_FROM:
            return self._sample(compiled, settings, meanwhile, None)
        # a large trace goes to a zarr store on disk as it is drawn, warmup and all, and only the
        # draws after warmup are read back: held in memory, nutpie's store of it grew to half the
        # fit's peak (poisson, 50,000 rows: 0.5 of 1.15 GB)
        store = Path(tempfile.mkdtemp(prefix=f"mixfit-nutpie-{os.getpid()}-"))
        interrupt.register_temporary(store)
        try:
            return self._sample(compiled, settings, meanwhile, store)
        finally:
            shutil.rmtree(store, ignore_errors=True)
            interrupt.unregister_temporary(store)

    def _sample(
        self,
        compiled: Compiled,
        settings: SamplerSettings,
        meanwhile: Meanwhile,
        store: Path | None,
    ) -> Draws:
        import nutpie

        start_thread(meanwhile)
        start = time.perf_counter()
        with interrupt.sigterm_as_sigint():
            # not blocking: nutpie's own wait answers Ctrl-C with the draws so far, as if done
            sampler = nutpie.sample(
                compiled.handle,
                draws=settings.num_samples,
                tune=settings.num_warmup,
                chains=settings.run_chains,
                cores=settings.num_parallel,
                seed=settings.stream_seed or 0,
                target_accept=settings.adapt_delta,
                maxdepth=settings.max_treedepth,
                save_warmup=False,  # none are returned (in memory, nutpie holds them to the end)
                progress_bar=False,
                blocking=False,
                zarr_store=nutpie.zarr_store.LocalStore(str(store)) if store else None,
            )
            try:
                trace = sampler.wait()
            except KeyboardInterrupt:
                sampler.cancel()
                raise
            except (RuntimeError, ValueError) as exc:
                raise ToolchainError(f"nutpie sampling failed: {_first_line(exc)}") from exc
        seconds = time.perf_counter() - start
        return _draws(trace, settings.thin, seconds, self.notes)


def _nutpie_model(code: str, data: dict, seed: int):
    """nutpie's model of the program on stanli's runtime library, as ``stanli.bridgestan_model``
    builds BridgeStan's (the same private calls: stanli has no public one for a foreign loader)."""
    import stanli
    from nutpie import _lib
    from nutpie.compile_stan import CompiledStanModel

    mir, name = stanli._resolve_program(None, code, None, None, None)
    payload = json.loads(stanli._data_to_json(data))
    payload["__stanli"] = {"build_id": stanli.build_id(), "mir": mir, "name": name}
    library = _lib.StanLibrary(stanli._runtime_lib_path())
    model = _lib.StanModel(library, {}, {}, {}, seed, json.dumps(payload), None)
    return CompiledStanModel(
        _coords={}, code=code, data=None, library=library, dims={}, model=model
    )


def _trace_bytes(model, settings: SamplerSettings) -> int:
    """The size of nutpie's trace of every quantity, warmup draws and all, in float64."""
    values = sum(int(np.prod(shape)) for shape in model.shapes.values())
    iterations = settings.num_warmup + settings.num_samples
    return 8 * values * iterations * settings.run_chains


def _draws(trace, thin: int, seconds: float, messages: list[str]) -> Draws:
    """nutpie's trace (ArviZ 0.x's InferenceData or 1.x's DataTree: both name their groups) as
    Draws, thinned as Stan would: every thin-th draw from the first."""
    posterior = {
        name: np.asarray(values)[:, ::thin] for name, values in trace["posterior"].data_vars.items()
    }
    stats_group = trace["sample_stats"]
    stats = {
        ours: np.asarray(stats_group[theirs])[:, ::thin] for theirs, ours in SAMPLE_STATS.items()
    }
    return Draws(posterior, typed_stats(stats), seconds, list(messages))

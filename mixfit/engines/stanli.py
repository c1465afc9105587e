"""The stanli engine: Stan's own NUTS, interpreted over precompiled Stan Math; no C++ build.

stanli reads the program with its bundled stanc and runs it at once, so there is nothing to cache:
a "compile" is loading the program with its data (a few hundredths of a second). Chains run as
threads of this process; chain c uses CmdStan's random stream for (seed, chain id c + 1).
"""

from __future__ import annotations

import time
from importlib.metadata import PackageNotFoundError, version

import numpy as np

from mixfit.engines.protocol import (
    SAMPLE_STATS,
    Compiled,
    Draws,
    Meanwhile,
    Progress,
    start_thread,
)
from mixfit.errors import ToolchainError
from mixfit.spec import SamplerSettings


def unavailable() -> str | None:
    """Why this engine can't run here, or None."""
    try:
        version("stanli")
    except PackageNotFoundError:
        return "stanli is not installed (pip install stanli)"
    try:
        import stanli  # noqa: F401  (its native library loads on import)
    except (ImportError, OSError) as exc:
        return f"stanli does not load here: {exc}"
    return None


class StanliBackend:
    name = "stanli"

    @staticmethod
    def version() -> str:
        return f"stanli {version('stanli')}"

    def compile(self, code: str, data: dict, seed: int, progress: Progress) -> Compiled:
        import stanli

        progress("compile", None, "Loading the Stan program (stanli: nothing to compile)")
        start = time.perf_counter()
        try:
            model = stanli.Model(stan_code=code, data=data, seed=seed)
        except (RuntimeError, ValueError) as exc:
            raise ToolchainError(f"stanli could not load the program: {_first_line(exc)}") from None
        return Compiled(model, from_cache=False, seconds=time.perf_counter() - start)

    def sample(
        self,
        compiled: Compiled,
        data: dict,
        settings: SamplerSettings,
        progress: Progress,
        meanwhile: Meanwhile = None,
    ) -> Draws:
        progress("sample", None, f"Sampling {settings.run_chains} chains")
        start_thread(meanwhile)
        start = time.perf_counter()
        try:
            fit = compiled.handle.sample(
                chains=settings.run_chains,
                seed=settings.stream_seed,  # stanli's sample() cannot be given a chain id
                threads_per_chain=settings.threads_per_chain,
                warmup=settings.num_warmup,
                samples=settings.num_samples,
                delta=settings.adapt_delta,
                max_depth=settings.max_treedepth,
                parallel_chains=settings.num_parallel,
                refresh=0,
            )
        except (RuntimeError, ValueError) as exc:
            raise ToolchainError(f"stanli sampling failed: {_first_line(exc)}") from None
        seconds = time.perf_counter() - start
        return _draws(fit, settings.run_chains, settings.num_samples, seconds)

    def close(self) -> None:
        pass


def _draws(fit, chains: int, draws: int, seconds: float) -> Draws:
    posterior = {}
    for name, dims in fit.variables.items():
        if int(np.prod(dims)) == 0:  # an empty vector (b of an intercept-only model) has no column
            posterior[name] = np.empty((chains, draws, *dims))
        else:
            posterior[name] = np.asarray(fit.draws(name)).reshape(chains, draws, *dims)
    import stanli

    columns = list(stanli.SAMPLER_COLUMNS)
    stats = {
        ours: np.asarray(fit.sampler_stats[:, :, columns.index(stan)])
        for stan, ours in SAMPLE_STATS.items()
    }
    stats["diverging"] = stats["diverging"].astype(bool)
    stats["tree_depth"] = stats["tree_depth"].astype(np.int64)
    stats["n_steps"] = stats["n_steps"].astype(np.int64)
    return Draws(posterior, stats, seconds)


def _first_line(exc: Exception) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__

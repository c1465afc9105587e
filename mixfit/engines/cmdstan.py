"""The CmdStan backend, through cmdstanpy, for machines with a CmdStan installation.

cmdstanpy finds CmdStan through the ``CMDSTAN`` variable or its default install folder; mixfit
keeps the compiled executable in its own cache, keyed by the code and the CmdStan version.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from mixfit.engines.cache import CacheEntry, model_key
from mixfit.engines.protocol import (
    SAMPLE_STATS,
    STANC_OPTIONS,
    Compiled,
    Draws,
    Meanwhile,
    Progress,
    start_thread,
)
from mixfit.errors import ToolchainError
from mixfit.spec import SamplerSettings


def unavailable() -> str | None:
    """Why this backend can't run here, or None."""
    try:
        import cmdstanpy
    except ImportError:
        return "cmdstanpy is not installed"
    try:
        cmdstanpy.cmdstan_path()
    except (ValueError, RuntimeError):
        return "no CmdStan installation found (set CMDSTAN, or run 'mixfit setup')"
    return None


def installed_version() -> str:
    import cmdstanpy

    found = cmdstanpy.cmdstan_version()
    return ".".join(map(str, found)) if found else Path(cmdstanpy.cmdstan_path()).name


class CmdStanBackend:
    name = "cmdstan"

    def __init__(self) -> None:
        self._outputs = Path(tempfile.mkdtemp(prefix="mixfit-cmdstan-"))

    def version(self) -> str:
        return f"cmdstan {installed_version()}"

    def compile(self, code: str, data: dict, seed: int, progress: Progress) -> Compiled:
        import cmdstanpy

        entry = CacheEntry(model_key(code, self.name, f"{self.version()} {STANC_OPTIONS}"))
        start = time.perf_counter()
        with entry.locked():
            artefacts = entry.files()
            from_cache = artefacts is not None
            if not from_cache:
                progress("compile", None, "Compiling the Stan program with CmdStan")
                artefacts = entry.store(self._build(code), {"backend": self.version()})
        stan_file, exe_file = sorted(artefacts, key=lambda p: p.suffix != ".stan")
        model = cmdstanpy.CmdStanModel(stan_file=str(stan_file), exe_file=str(exe_file))
        return Compiled(model, from_cache, time.perf_counter() - start)

    def sample(
        self,
        compiled: Compiled,
        data: dict,
        settings: SamplerSettings,
        progress: Progress,
        meanwhile: Meanwhile = None,
    ) -> Draws:
        progress("sample", None, f"Sampling {settings.run_chains} chains")
        start = time.perf_counter()
        start_thread(meanwhile)
        try:
            fit = compiled.handle.sample(
                data=data,
                chains=settings.run_chains,
                chain_ids=settings.chain,  # a chain job: the one-process run's stream for its chain
                threads_per_chain=settings.threads_per_chain,
                parallel_chains=settings.num_parallel,
                seed=settings.seed,
                iter_warmup=settings.num_warmup,
                iter_sampling=settings.num_samples,
                adapt_delta=settings.adapt_delta,
                max_treedepth=settings.max_treedepth,
                output_dir=str(self._outputs),
                show_progress=False,
            )
        except RuntimeError as exc:
            raise ToolchainError(f"CmdStan sampling failed: {str(exc).splitlines()[0]}") from None
        seconds = time.perf_counter() - start
        chains = settings.run_chains
        posterior = {
            name: values.reshape(chains, -1, *values.shape[1:])
            for name, values in fit.stan_variables().items()
        }
        method = fit.method_variables()
        stats = {ours: np.asarray(method[stan]).T for stan, ours in SAMPLE_STATS.items()}
        stats["diverging"] = stats["diverging"].astype(bool)
        return Draws(posterior, stats, seconds)

    def close(self) -> None:
        shutil.rmtree(self._outputs, ignore_errors=True)

    def _build(self, code: str) -> list[Path]:
        import cmdstanpy

        stan_file = self._outputs / "model.stan"
        stan_file.write_text(code)
        try:
            options = {option.lstrip("-"): True for option in STANC_OPTIONS}
            model = cmdstanpy.CmdStanModel(
                stan_file=str(stan_file),
                stanc_options=options,
                cpp_options={"STAN_THREADS": True} if "reduce_sum(" in code else None,
            )
        except (ValueError, RuntimeError) as exc:
            lines = [ln for ln in str(exc).splitlines() if ln.strip()]
            detail = " ".join(lines[-6:]) if lines else type(exc).__name__
            raise ToolchainError(f"CmdStan could not compile the program: {detail}") from None
        return [stan_file, Path(model.exe_file)]

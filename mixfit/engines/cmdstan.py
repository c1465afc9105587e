"""The CmdStan backend, through cmdstanpy, for machines with a CmdStan installation.

cmdstanpy finds CmdStan through the ``CMDSTAN`` variable or its default install folder; mixfit
keeps the compiled executable in its own cache, keyed by the code and the CmdStan install (its
folder and version: a program links to its CmdStan's TBB library by path). cmdstanpy's log is
silenced: mixfit reports progress itself, and a failure as one line naming its cause.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from mixfit import interrupt
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
from mixfit.wording import counted


def unavailable() -> str | None:
    """Why this backend can't run here, or None. Cheap: looks at files, runs nothing."""
    try:
        import cmdstanpy
    except ImportError:
        return "cmdstanpy is not installed"
    try:
        home = Path(cmdstanpy.cmdstan_path())
    except (ValueError, RuntimeError):
        return "no CmdStan installation found (set CMDSTAN, or run 'mixfit setup')"
    # cmdstanpy accepts any folder with a makefile; compiling needs stanc and CmdStan's main
    # object file, which 'make build' leaves (src/cmdstan/main.o, or main_threads.o, ...)
    stanc = any((home / "bin" / name).is_file() for name in ("stanc", "stanc.exe"))
    main = any((home / "src" / "cmdstan").glob("main*.o"))
    if not (stanc and main):
        return f"CmdStan at {home} is not built (run 'make build' in that folder)"
    return None


def installed_version() -> str:
    """CmdStan's full version (cmdstanpy's ``cmdstan_version`` keeps only major and minor)."""
    import cmdstanpy

    home = Path(cmdstanpy.cmdstan_path())
    found = re.search(r"^CMDSTAN_VERSION := (\S+)", (home / "makefile").read_text(), re.MULTILINE)
    return found.group(1) if found else home.name


def cache_key(code: str) -> str:
    """The compiled-model cache key of ``code`` for the CmdStan found now."""
    import cmdstanpy

    build_env = f"cmdstan {installed_version()} {cmdstanpy.cmdstan_path()} {STANC_OPTIONS}"
    return model_key(code, CmdStanBackend.name, build_env)


class CmdStanBackend:
    name = "cmdstan"

    def __init__(self) -> None:
        self._outputs = Path(tempfile.mkdtemp(prefix=f"mixfit-cmdstan-{os.getpid()}-"))
        interrupt.register_temporary(self._outputs)
        self._log = logging.getLogger("cmdstanpy")
        self._log_was_disabled = self._log.disabled
        self._log.disabled = True

    def version(self) -> str:
        return f"cmdstan {installed_version()}"

    def compile(self, code: str, data: dict, seed: int, progress: Progress) -> Compiled:
        import cmdstanpy

        entry = CacheEntry(cache_key(code))
        start = time.perf_counter()
        with entry.locked():
            artefacts = entry.files()
            from_cache = artefacts is not None
            if not from_cache:
                progress("compile", None, "Compiling the Stan program with CmdStan")
                artefacts = entry.store(
                    self._build(code),
                    {"backend": self.version(), "cmdstan": cmdstanpy.cmdstan_path()},
                )
        stan_file, exe_file = sorted(artefacts, key=lambda p: p.suffix != ".stan")
        model = cmdstanpy.CmdStanModel(stan_file=str(stan_file), exe_file=str(exe_file))
        model._run_cmdstan = _unless_interrupted(model._run_cmdstan)
        return Compiled(model, from_cache, time.perf_counter() - start)

    def sample(
        self,
        compiled: Compiled,
        data: dict,
        settings: SamplerSettings,
        progress: Progress,
        meanwhile: Meanwhile = None,
    ) -> Draws:
        progress("sample", None, f"Sampling {counted(settings.run_chains, 'chain')}")
        start = time.perf_counter()
        start_thread(meanwhile)
        # without warmup there is nothing to adapt in, as in PyStan; cmdstanpy then refuses any
        # adaptation setting
        adaptation = (
            {"adapt_delta": settings.adapt_delta}
            if settings.num_warmup > 0
            else {"adapt_engaged": False}
        )
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
                thin=settings.thin,
                max_treedepth=settings.max_treedepth,
                **({} if settings.init is None else {"inits": settings.init}),
                **({} if settings.refresh is None else {"refresh": max(settings.refresh, 1)}),
                output_dir=str(self._outputs),
                show_progress=False,
                **adaptation,
            )
        except RuntimeError as exc:
            cause = _failure_cause(self._outputs) or str(exc).splitlines()[0]
            raise ToolchainError(f"CmdStan sampling failed: {cause}") from None
        seconds = time.perf_counter() - start
        chains = settings.run_chains
        posterior = {
            name: values.reshape(chains, -1, *values.shape[1:])
            for name, values in fit.stan_variables().items()
        }
        # CmdStan writes no column for a variable of size 0 (b of an intercept-only model)
        for name, dims in _declared(compiled.handle).items():
            posterior.setdefault(name, np.empty((chains, settings.draws_kept, *[0] * dims)))
        method = fit.method_variables()
        stats = {ours: np.asarray(method[stan]).T for stan, ours in SAMPLE_STATS.items()}
        stats["diverging"] = stats["diverging"].astype(bool)
        return Draws(posterior, stats, seconds)

    def close(self) -> None:
        shutil.rmtree(self._outputs, ignore_errors=True)
        interrupt.unregister_temporary(self._outputs)
        # after a signal, cmdstanpy's threads still report the chains it stopped: keep them quiet
        if not interrupt.received():
            self._log.disabled = self._log_was_disabled

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


def _unless_interrupted(run_chain):
    """cmdstanpy queues the chains beyond ``parallel_chains`` and starts each when a running one
    ends, stopped by a signal too: once the run is interrupted, a queued chain must not start."""

    def run(*args, **kwargs) -> None:
        if interrupt.received() is None:
            run_chain(*args, **kwargs)

    return run


def _declared(model) -> dict[str, int]:
    """Each sampled or generated variable of the program, with its number of dimensions."""
    info = model.src_info()
    blocks = ("parameters", "transformed parameters", "generated quantities")
    return {
        name: var["dimensions"] for block in blocks for name, var in info.get(block, {}).items()
    }


def _failure_cause(outputs: Path) -> str | None:
    """The line of CmdStan's console output that says why a chain failed, or None.

    cmdstanpy's error keeps only console lines starting "Error" or "Exception" (not the loader's
    "error while loading shared libraries"), and the console files vanish with the run's folder.
    A chain that failed has no timing summary; its last exception, else its last line reporting
    an error, is the cause (the lines before are often the sampler's rejections)."""
    for console in sorted(outputs.glob("*-stdout.txt")):
        text = console.read_text(errors="replace")
        if "Elapsed Time" in text:
            continue
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        for pattern in (r"\bexception\b", r"error|failed"):
            found = [line for line in lines if re.search(pattern, line, re.IGNORECASE)]
            if found:
                return found[-1]
    return None

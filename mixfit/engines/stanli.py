"""The stanli engine: Stan's own NUTS, interpreted over precompiled Stan Math; no C++ build.

stanli reads the program with its bundled stanc and runs it at once, so there is nothing to cache:
a "compile" is loading the program with its data (a few hundredths of a second). Loading also says
whether every part of the program has a compiled path; a part without one runs through stanli's
interpreter, far slower, or not at all. ``auto`` then passes stanli over (``NoCompiledPath``);
asked for by name, stanli runs such a program if its interpreter can.

Chains run as threads of this process; chain c uses CmdStan's random stream for (seed, chain id
c + 1), so a seed gives the same draws however many chains run at once. Progress comes as
CmdStan's lines on stdout, read in place (mixfit/engines/progress.py). Ctrl-C stops the chains
through stanli's own watch; SIGTERM is handed to it (mixfit/interrupt.py).
"""

from __future__ import annotations

import contextlib
import time
import warnings
from importlib.metadata import PackageNotFoundError, version

import numpy as np

from mixfit import interrupt
from mixfit.engines.progress import ChainLines, ChainProgress, refresh_every
from mixfit.engines.protocol import (
    SAMPLE_STATS,
    Compiled,
    Draws,
    Meanwhile,
    Progress,
    start_thread,
    typed_stats,
)
from mixfit.errors import ToolchainError
from mixfit.spec import SamplerSettings
from mixfit.wording import counted

GAP = "no compiled path"  # how stanli's warning about interpreted parts of a program begins
INTERPRETER_FAILED = "interpreter also failed"


class NoCompiledPath(ToolchainError):
    """Part of the program would run interpreted (or not at all): ``auto`` takes another engine."""


def unavailable() -> str | None:
    """Why this engine can't run here, or None."""
    try:
        version("stanli")
    except PackageNotFoundError:
        return (
            "stanli is not installed (it has wheels for Linux x86_64 and aarch64, macOS, Windows)"
        )
    try:
        import stanli  # noqa: F401  (its native library loads on import)
    except (ImportError, OSError) as exc:
        return f"stanli does not load here: {exc}"
    return None


class StanliBackend:
    name = "stanli"

    def __init__(self, allow_interpreter: bool = False) -> None:
        self.allow_interpreter = allow_interpreter
        self.notes: list[str] = []  # what the user should know about this run (interpreted parts)

    @staticmethod
    def version() -> str:
        return f"stanli {version('stanli')}"

    def compile(self, code: str, data: dict, seed: int, progress: Progress) -> Compiled:
        import stanli

        progress("compile", None, "Loading the Stan program (stanli: nothing to compile)")
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                model = stanli.Model(stan_code=code, data=data, seed=seed)
            except (RuntimeError, ValueError) as exc:
                raise ToolchainError(
                    f"stanli could not load the program: {_first_line(exc)}"
                ) from exc
        for warning in caught:
            message = " ".join(str(warning.message).split())
            if GAP not in message:
                self.notes.append(message)
                continue
            part = _interpreted_part(message)
            if INTERPRETER_FAILED in message:
                raise NoCompiledPath(f"stanli cannot run part of this program ({part})")
            if not self.allow_interpreter:
                raise NoCompiledPath(
                    f"stanli has no compiled path for part of this program ({part})"
                )
            self.notes.append(
                f"stanli runs part of this program through its slower interpreter ({part})"
            )
        return Compiled(model, from_cache=False, seconds=time.perf_counter() - start)

    def sample(
        self,
        compiled: Compiled,
        data: dict,
        settings: SamplerSettings,
        progress: Progress,
        meanwhile: Meanwhile = None,
    ) -> Draws:
        iterations = settings.num_warmup + settings.num_samples
        chains = ChainProgress(progress, settings.run_chains, iterations)
        lines = ChainLines(chains)
        progress("sample", 0.0, f"Sampling {counted(settings.run_chains, 'chain')}")
        start_thread(meanwhile)
        start = time.perf_counter()
        try:
            with contextlib.redirect_stdout(lines), interrupt.sigterm_as_sigint():
                fit = compiled.handle.sample(
                    chains=settings.run_chains,
                    seed=settings.stream_seed,  # stanli's sample() cannot be given a chain id
                    threads_per_chain=settings.threads_per_chain,
                    warmup=settings.num_warmup,
                    samples=settings.num_samples,
                    thin=settings.thin,
                    delta=settings.adapt_delta,
                    max_depth=settings.max_treedepth,
                    parallel_chains=settings.num_parallel,
                    refresh=refresh_every(iterations, settings.refresh),
                    **({} if settings.init is None else {"init_radius": settings.init}),
                )
        except (RuntimeError, ValueError) as exc:
            raise ToolchainError(f"stanli sampling failed: {_first_line(exc)}") from exc
        seconds = time.perf_counter() - start
        return _draws(
            fit, settings.run_chains, settings.draws_kept, seconds, self.notes + lines.messages()
        )

    def approximate(
        self,
        compiled: Compiled,
        code: str,
        data: dict,
        settings: SamplerSettings,
        algorithm: str,
        progress: Progress,
        meanwhile: Meanwhile = None,
    ) -> Draws:
        """Draws from Pathfinder's or Laplace's normal approximation (mixfit/engines/approximate.py),
        as one chain: the gradients are stanli's, through BridgeStan's interface to the same
        program, which also maps each draw back to the constrained scale with its generated
        quantities."""
        from mixfit.engines.approximate import laplace, pareto_k, pathfinder

        progress("sample", None, f"Approximating the posterior ({algorithm})")
        start_thread(meanwhile)
        start = time.perf_counter()
        seed = settings.stream_seed or 0
        rng = np.random.default_rng(seed)
        draws = settings.num_samples
        try:
            with interrupt.sigterm_as_sigint():
                model = _bridgestan(code, data)

                def log_density(q: np.ndarray) -> tuple[float, np.ndarray]:
                    return model.log_density_gradient(
                        np.ascontiguousarray(q), propto=True, jacobian=True
                    )

                extra: dict = {}
                if algorithm == "laplace":
                    with contextlib.redirect_stdout(ChainLines(ChainProgress(progress, 1, 1))):
                        mode = compiled.handle.optimize(seed=seed, jacobian=True)
                    found = laplace(log_density, np.asarray(mode.unconstrained), draws, rng)
                else:
                    found, elbos = pathfinder(log_density, model.param_unc_num(), draws, rng)
                    extra["elbo"] = elbos
                posterior = _constrained(model, found.draws, seed)
        except (RuntimeError, ValueError) as exc:
            raise ToolchainError(f"stanli {algorithm} failed: {_first_line(exc)}") from exc
        k = pareto_k(found.log_p - found.log_q)
        seconds = time.perf_counter() - start
        stats = {"lp": found.log_p[None], "lp_approx": found.log_q[None]}
        approximation = {
            "algorithm": algorithm,
            "draws": int(draws),
            "pareto_k": k,
            "log_density_evaluations": int(found.gradients),
            **extra,
        }
        return Draws(posterior, stats, seconds, self.notes, approximation=approximation)

    def close(self) -> None:
        pass


def _bridgestan(code: str, data: dict):
    import stanli

    try:
        return stanli.bridgestan_model(stan_code=code, data=data)
    except ImportError as exc:
        raise ToolchainError(f"--algorithm needs the bridgestan package: {exc}") from exc


def _constrained(model, unconstrained: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Each draw on the constrained scale with its transformed parameters and generated
    quantities, as (1, draws, *dims) arrays by Stan variable name."""
    rng = model.new_rng(seed)
    names = model.param_names(include_tp=True, include_gq=True)
    values = np.array(
        [
            model.param_constrain(
                np.ascontiguousarray(q), include_tp=True, include_gq=True, rng=rng
            )
            for q in unconstrained
        ]
    )
    posterior: dict[str, np.ndarray] = {}
    start = 0
    while start < len(names):
        base = names[start].split(".")[0]
        end = start
        while end < len(names) and names[end].split(".")[0] == base:
            end += 1
        indices = [tuple(int(i) for i in n.split(".")[1:]) for n in names[start:end]]
        dims = tuple(max(column) for column in zip(*indices)) if indices[0] else ()
        block = values[:, start:end]
        # Stan lists a container's entries first index fastest
        posterior[base] = (
            block.reshape((1, len(values), *dims), order="F") if dims else block[None, :, 0]
        )
        start = end
    return posterior


def _draws(fit, chains: int, draws: int, seconds: float, messages: list[str]) -> Draws:
    import stanli

    posterior = {}
    for name, dims in fit.variables.items():
        if int(np.prod(dims)) == 0:  # an empty vector (b of an intercept-only model) has no column
            posterior[name] = np.empty((chains, draws, *dims))
        else:
            posterior[name] = np.asarray(fit.draws(name)).reshape(chains, draws, *dims)
    columns = list(stanli.SAMPLER_COLUMNS)
    stats = {
        ours: np.asarray(fit.sampler_stats[:, :, columns.index(stan)])
        for stan, ours in SAMPLE_STATS.items()
    }
    return Draws(posterior, typed_stats(stats), seconds, messages)


def _interpreted_part(message: str) -> str:
    """'generated quantities (stanli compile: unsupported function foo_rng)' from stanli's warning,
    without its request to report the model."""
    detail = message.split(GAP, 1)[1]
    detail = detail.split("far slower:", 1)[-1].strip()
    return detail.split(". Please report", 1)[0].split(". The interpreter", 1)[0].strip(" .")


def _first_line(exc: Exception) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__

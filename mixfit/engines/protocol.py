"""What every engine offers: compile a program (through the cache), sample it with NUTS, return
``Draws``. Everything after the draws is engine-independent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from mixfit.spec import SamplerSettings

# progress(stage, fraction done or None, message)
Progress = Callable[[str, float | None, str], None]
# work for a thread while the chains run (the caller's imports); it must not fork
Meanwhile = Callable[[], None] | None


@dataclass
class Draws:
    """Posterior draws as (chains, draws, *dims) arrays, and NUTS's per-draw statistics."""

    posterior: dict[str, np.ndarray]
    sample_stats: dict[str, np.ndarray]  # lp, acceptance_rate, step_size, tree_depth, ...
    sampling_seconds: float
    messages: list[str] = field(default_factory=list)
    # a normal approximation's (--algorithm pathfinder or laplace) algorithm, Pareto k, ...
    approximation: dict | None = None


@dataclass
class Compiled:
    handle: object  # the backend's model object
    from_cache: bool
    seconds: float


class Backend(Protocol):
    name: str

    def version(self) -> str: ...

    def compile(self, code: str, data: dict, seed: int, progress: Progress) -> Compiled: ...

    def sample(
        self,
        compiled: Compiled,
        data: dict,
        settings: SamplerSettings,
        progress: Progress,
        meanwhile: Meanwhile = None,
    ) -> Draws: ...

    def close(self) -> None: ...


def start_thread(work: Meanwhile) -> None:
    if work is not None:
        threading.Thread(target=work, name="mixfit-meanwhile", daemon=True).start()


# stanc's level-1 optimisations (autodiff of whole vectors, "struct of arrays"): a gradient of a
# 50,000-row poisson model in 1.5 ms instead of 2.5 ms; part of each compiled model's cache key
STANC_OPTIONS = ("--O1",)

# Stan's sampler-diagnostic columns, and ArviZ's names for them.
SAMPLE_STATS = {
    "lp__": "lp",
    "accept_stat__": "acceptance_rate",
    "stepsize__": "step_size",
    "treedepth__": "tree_depth",
    "n_leapfrog__": "n_steps",
    "divergent__": "diverging",
    "energy__": "energy",
}


def typed_stats(stats: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Sampler statistics read as floats, with the flag and the counts as Stan's CSV types them."""
    return stats | {
        "diverging": stats["diverging"].astype(bool),
        "tree_depth": stats["tree_depth"].astype(np.int64),
        "n_steps": stats["n_steps"].astype(np.int64),
    }

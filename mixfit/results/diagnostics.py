"""Convergence diagnostics of a fit (computed by ArviZ), the checks applied, and a Stan user's advice."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mixfit.model.program import Model
from mixfit.results import arviz_api
from mixfit.results.summaries import labelled_draws, level_names
from mixfit.wording import counted, verb

THRESHOLDS = {"rhat": 1.01, "ess": 400, "ebfmi": 0.3, "divergences": 0}
# an approximation (--algorithm pathfinder or laplace) misses the posterior past this Pareto k
PARETO_K = 0.7

# ArviZ's split R-hat and ESS need at least this many draws per chain
MIN_DRAWS = 4
NAMES_SHOWN = 3  # parameters named in one warning; the rest are counted


@dataclass
class Diagnostics:
    parameters: pd.DataFrame  # parameter, Rhat, Bulk_ESS, Tail_ESS, MCSE_mean, MCSE_sd
    run: dict
    failed: list[dict]  # {"check", "message", "advice"}
    nonfinite: dict[str, int]  # parameter -> its draws that are not finite, where any are

    @property
    def ok(self) -> bool:
        return not self.failed

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "thresholds": THRESHOLDS,
            "failed_checks": self.failed,
            "run": {
                **self.run,
                **(
                    {"ebfmi": [_finite_or_none(v) for v in self.run["ebfmi"]]}
                    if "ebfmi" in self.run
                    else {"pareto_k": _finite_or_none(self.run["pareto_k"])}
                ),
            },
            "nonfinite_draws": self.nonfinite,
            "parameters": json_records(self.parameters),
        }

    def verdict(self) -> str:
        if self.ok and "algorithm" in self.run:
            lines = [
                (
                    f"Diagnostics: Pareto k {self.run['pareto_k']:.2f} <= {PARETO_K}: importance "
                    f"sampling the posterior against the {self.run['algorithm']} approximation "
                    "finds no sign that it misses it (an approximation all the same: NUTS is the "
                    "check)."
                )
            ]
        elif self.ok:
            lines = [
                "Diagnostics: all checks passed (R-hat, ESS, divergences, tree depth, E-BFMI)."
            ]
        else:
            lines = [f"Diagnostics: {counted(len(self.failed), 'check')} failed."]
            lines += [f"Warning: {f['message']} {f['advice']}" for f in self.failed]
        if self.nonfinite:
            total = self.run["chains"] * self.run["sampling_draws"]
            first = list(self.nonfinite.items())[:NAMES_SHOWN]
            shown = ", ".join(f"{name}: {n} of {total}" for name, n in first)
            more = len(self.nonfinite) - NAMES_SHOWN
            if more > 0:
                shown += f", and {counted(more, 'more parameter')}"
            lines.append(
                "Note: draws that are not finite (NaN or infinite) are left out of the estimates "
                f"({shown}; diagnostics.json lists them all)."
            )
        return "\n".join(lines)


def diagnose(
    model: Model, idata, max_treedepth: int, warmup: int, approximation: dict | None = None
) -> Diagnostics:
    """Every parameter's R-hat, ESS and MCSE under brms's names, and the checks of the run.

    The R-hat and ESS checks cover what the summary reports, as brms's do: population effects,
    group-level SDs and correlations, family parameters. Each level's effects (``r_...``) are in
    the table only. A check whose figure can't be computed fails.
    """
    posterior = idata.posterior
    named = labelled_draws(model, posterior)
    summarised = {name: draws for kind in named.values() for name, draws in kind.items()}
    parameters, nonfinite = _parameter_table(model, posterior, summarised)
    if approximation is not None:
        return _approximate(parameters, nonfinite, approximation)
    stats = idata.sample_stats
    diverging = np.asarray(stats["diverging"]).astype(bool)
    depth = np.asarray(stats["tree_depth"])
    chains, draws = diverging.shape
    run = {
        "chains": int(chains),
        "warmup_draws": int(warmup),
        "sampling_draws": int(draws),
        "divergent_transitions": int(diverging.sum()),
        "divergent_share": float(diverging.mean()),
        "max_treedepth": int(max_treedepth),
        "max_treedepth_hits": int((depth >= max_treedepth).sum()),
        "ebfmi": arviz_api.ebfmi(np.asarray(stats["energy"])),
        "step_size": [float(v) for v in np.asarray(stats["step_size"])[:, -1]],
    }
    checked = parameters[parameters["parameter"].isin(list(summarised))]
    failed = _run_checks(run) + _parameter_checks(checked, summarised)
    return Diagnostics(parameters, run, failed, nonfinite)


def _approximate(parameters: pd.DataFrame, nonfinite: dict, approximation: dict) -> Diagnostics:
    """An approximation's one check: the Pareto k of importance sampling the posterior against
    it. Its draws are independent (or resampled), so R-hat and ESS say nothing of convergence:
    they stay in the table, unchecked."""
    k = approximation["pareto_k"]
    run = {
        "chains": 1,
        "warmup_draws": 0,
        "sampling_draws": int(approximation["draws"]),
        **approximation,
        "pareto_k_threshold": PARETO_K,
    }
    failed = []
    if not math.isfinite(k) or k > PARETO_K:
        failed.append(
            {
                "check": "pareto_k",
                "message": f"Pareto k {k:.2f} > {PARETO_K}: the {approximation['algorithm']} "
                "approximation misses the posterior (importance sampling against it is "
                "unreliable), so its estimates and intervals may be far off.",
                "advice": "Run NUTS (leave out --algorithm) before trusting these results.",
            }
        )
    return Diagnostics(parameters, run, failed, nonfinite)


def _parameter_table(
    model: Model, posterior, summarised: dict[str, np.ndarray]
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Every parameter's figures, and the count of its non-finite draws where there are any.

    Each block's group-level effects go to ArviZ as the posterior holds them: stacked one by one,
    a model with thousands of levels would copy all its draws again."""
    arrays, names = {}, {}
    if summarised:
        arrays["summarised"] = np.stack(list(summarised.values()), axis=-1)
        names["summarised"] = list(summarised)
    for block in model.design.blocks:
        arrays[f"r_{block.id}"] = posterior[f"r_{block.id}"].values  # chain, draw, level, term
        names[f"r_{block.id}"] = level_names(block)
    figures = arviz_api.convergence(arrays)
    columns = {c: [] for c in ("parameter", *arviz_api.CONVERGENCE)}
    nonfinite = {}
    for key, values in arrays.items():
        if key not in figures:  # no levels, or no terms
            continue
        columns["parameter"] += names[key]
        for column in arviz_api.CONVERGENCE:
            columns[column] += list(figures[key][column])
        bad = (~np.isfinite(values)).sum(axis=(0, 1)).ravel()
        nonfinite |= {names[key][i]: int(bad[i]) for i in np.flatnonzero(bad)}
    return pd.DataFrame(columns), nonfinite


def _run_checks(run: dict) -> list[dict]:
    failed = []
    n = run["divergent_transitions"]
    if n > THRESHOLDS["divergences"]:
        failed.append(
            {
                "check": "divergences",
                "message": f"{n} divergent transitions after warmup ({run['divergent_share']:.1%}).",
                "advice": "Increase --adapt-delta (e.g. 0.95 or 0.99); if they persist, the model "
                "may need reparameterising or stronger priors.",
            }
        )
    hits = run["max_treedepth_hits"]
    if hits:
        failed.append(
            {
                "check": "treedepth",
                "message": f"{hits} transitions hit the maximum tree depth of {run['max_treedepth']}.",
                "advice": "Increase --max-treedepth (e.g. 12); this is an efficiency concern.",
            }
        )
    ebfmi = run["ebfmi"]
    unknown = [v for v in ebfmi if not math.isfinite(v)]
    if unknown:
        failed.append(
            {
                "check": "ebfmi",
                "message": f"E-BFMI can't be computed in {counted(len(unknown), 'chain')} "
                f"({counted(run['sampling_draws'], 'draw')} per chain).",
                "advice": "Run more iterations (--iter).",
            }
        )
    low = [v for v in ebfmi if v < THRESHOLDS["ebfmi"]]
    if low:
        failed.append(
            {
                "check": "ebfmi",
                "message": f"E-BFMI below {THRESHOLDS['ebfmi']} in {counted(len(low), 'chain')} "
                f"(lowest {min(low):.2f}).",
                "advice": "The sampler explored the energy distribution poorly; consider "
                "reparameterising or more informative priors.",
            }
        )
    return failed


def _parameter_checks(checked: pd.DataFrame, draws: dict[str, np.ndarray]) -> list[dict]:
    failed = []
    rhat = checked.set_index("parameter")["Rhat"]
    ess = checked.set_index("parameter")[["Bulk_ESS", "Tail_ESS"]].min(axis=1, skipna=False)
    for check, label, figures in (("rhat", "R-hat", rhat), ("ess", "ESS", ess)):
        unknown = list(figures.index[figures.isna()])
        if unknown:
            reason, advice = _why_unknown(draws[unknown[0]])
            failed.append(
                {
                    "check": check,
                    "message": f"{label} can't be computed for {_named(unknown)} ({reason}).",
                    "advice": advice,
                }
            )
    rhat, ess = rhat.dropna(), ess.dropna()
    if len(rhat) and rhat.max() > THRESHOLDS["rhat"]:
        failed.append(
            {
                "check": "rhat",
                "message": f"{_parameters(int((rhat > THRESHOLDS['rhat']).sum()))} R-hat above "
                f"{THRESHOLDS['rhat']} (worst {rhat.idxmax()}: {rhat.max():.3f}).",
                "advice": "The chains have not mixed: don't trust the results; run more iterations "
                "(--iter) or simplify the model.",
            }
        )
    if len(ess) and ess.min() < THRESHOLDS["ess"]:
        failed.append(
            {
                "check": "ess",
                "message": f"{_parameters(int((ess < THRESHOLDS['ess']).sum()))} bulk or tail ESS "
                f"below {THRESHOLDS['ess']} (worst {ess.idxmin()}: {ess.min():.0f}).",
                "advice": "Estimates and intervals may be unreliable; run more iterations (--iter).",
            }
        )
    return failed


def _why_unknown(draws: np.ndarray) -> tuple[str, str]:
    """Why ArviZ gave no R-hat or ESS for a (chain, draw) array, and what to do about it."""
    bad = int(np.size(draws) - np.isfinite(draws).sum())
    if bad:
        return (
            f"{bad} of {draws.size} draws are not finite",
            "A quantity overflowed in those draws: check the scale of the priors and the data.",
        )
    # split R-hat needs MIN_DRAWS in each half of the one chain there is
    needed = 2 * MIN_DRAWS if draws.shape[0] == 1 else MIN_DRAWS
    if draws.shape[1] < needed:
        return (
            f"{counted(draws.shape[1], 'draw')} per chain",
            f"Run more iterations (--iter): these need at least {needed} draws per chain.",
        )
    return "its draws are all equal", "Check the model: the parameter never moved."


def _parameters(n: int) -> str:
    return f"{counted(n, 'parameter')} {verb(n, 'has', 'have')}"


def _named(names: list[str]) -> str:
    shown = ", ".join(names[:NAMES_SHOWN])
    more = len(names) - NAMES_SHOWN
    return f"{shown} and {more} more" if more > 0 else shown


def json_records(frame: pd.DataFrame) -> list[dict]:
    """The rows of a table as JSON-ready dicts, with NaN and infinities as None."""
    return [{k: _finite_or_none(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _finite_or_none(value):
    """JSON has no NaN or infinity: a figure that can't be computed is null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value

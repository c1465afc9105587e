"""Convergence diagnostics of a fit (computed by ArviZ), the checks applied, and a Stan user's advice."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import arviz as az
import numpy as np
import pandas as pd

THRESHOLDS = {"rhat": 1.01, "ess": 400, "ebfmi": 0.3, "divergences": 0}

# Variables that are not checked: the standardised effects and Cholesky factors have constant
# or redundant elements; the generated predictions are not parameters.
UNCHECKED_PREFIXES = ("z_", "L_", "C_", "log_lik", "y_rep")


@dataclass
class Diagnostics:
    parameters: pd.DataFrame  # parameter, Rhat, Bulk_ESS, Tail_ESS, MCSE_mean, MCSE_sd
    run: dict
    failed: list[dict]  # {"check", "message", "advice"}

    @property
    def ok(self) -> bool:
        return not self.failed

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "thresholds": THRESHOLDS,
            "failed_checks": self.failed,
            "run": self.run,
            "parameters": json_records(self.parameters),
        }

    def verdict(self) -> str:
        if self.ok:
            return "Diagnostics: all checks passed (R-hat, ESS, divergences, tree depth, E-BFMI)."
        lines = [f"Diagnostics: {len(self.failed)} check(s) failed."]
        lines += [f"Warning: {f['message']} {f['advice']}" for f in self.failed]
        return "\n".join(lines)


def diagnose(idata: az.InferenceData, max_treedepth: int, warmup: int) -> Diagnostics:
    posterior = idata.posterior
    names = [v for v in posterior.data_vars if not str(v).startswith(UNCHECKED_PREFIXES)]
    with warnings.catch_warnings():  # constant elements (a correlation matrix's diagonal) give NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        summary = az.summary(idata, var_names=names, kind="diagnostics")
    parameters = pd.DataFrame(
        {
            "parameter": summary.index,
            "Rhat": summary["r_hat"].to_numpy(),
            "Bulk_ESS": summary["ess_bulk"].to_numpy(),
            "Tail_ESS": summary["ess_tail"].to_numpy(),
            "MCSE_mean": summary["mcse_mean"].to_numpy(),
            "MCSE_sd": summary["mcse_sd"].to_numpy(),
        }
    )
    stats = idata.sample_stats
    diverging = np.asarray(stats["diverging"]).astype(bool)
    depth = np.asarray(stats["tree_depth"])
    chains, draws = diverging.shape
    ebfmi = [float(v) for v in np.atleast_1d(az.bfmi(idata))]
    run = {
        "chains": int(chains),
        "warmup_draws": int(warmup),
        "sampling_draws": int(draws),
        "divergent_transitions": int(diverging.sum()),
        "divergent_share": float(diverging.mean()),
        "max_treedepth": int(max_treedepth),
        "max_treedepth_hits": int((depth >= max_treedepth).sum()),
        "ebfmi": ebfmi,
        "step_size": [float(v) for v in np.asarray(stats["step_size"])[:, -1]],
    }
    return Diagnostics(parameters, run, _failed_checks(parameters, run))


def _failed_checks(parameters: pd.DataFrame, run: dict) -> list[dict]:
    failed = []
    n = run["divergent_transitions"]
    if n > THRESHOLDS["divergences"]:
        failed.append({
            "check": "divergences",
            "message": f"{n} divergent transitions after warmup ({run['divergent_share']:.1%}).",
            "advice": "Increase --adapt-delta (e.g. 0.95 or 0.99); if they persist, the model "
            "may need reparameterising or stronger priors.",
        })
    hits = run["max_treedepth_hits"]
    if hits:
        failed.append({
            "check": "treedepth",
            "message": f"{hits} transitions hit the maximum tree depth of {run['max_treedepth']}.",
            "advice": "Increase --max-treedepth (e.g. 12); this is an efficiency concern.",
        })
    low = [v for v in run["ebfmi"] if v < THRESHOLDS["ebfmi"]]
    if low:
        failed.append({
            "check": "ebfmi",
            "message": f"E-BFMI below {THRESHOLDS['ebfmi']} in {len(low)} chain(s) "
            f"(lowest {min(low):.2f}).",
            "advice": "The sampler explored the energy distribution poorly; consider "
            "reparameterising or more informative priors.",
        })
    rhat = parameters["Rhat"].dropna()
    if len(rhat) and rhat.max() > THRESHOLDS["rhat"]:
        worst = parameters.loc[rhat.idxmax(), "parameter"]
        failed.append({
            "check": "rhat",
            "message": f"{int((rhat > THRESHOLDS['rhat']).sum())} parameters have R-hat above "
            f"{THRESHOLDS['rhat']} (worst {worst}: {rhat.max():.3f}).",
            "advice": "The chains have not mixed: don't trust the results; run more iterations "
            "(--iter) or simplify the model.",
        })
    ess = parameters[["Bulk_ESS", "Tail_ESS"]].min(axis=1).dropna()
    if len(ess) and ess.min() < THRESHOLDS["ess"]:
        worst = parameters.loc[ess.idxmin(), "parameter"]
        failed.append({
            "check": "ess",
            "message": f"{int((ess < THRESHOLDS['ess']).sum())} parameters have bulk or tail ESS "
            f"below {THRESHOLDS['ess']} (worst {worst}: {ess.min():.0f}).",
            "advice": "Estimates and intervals may be unreliable; run more iterations (--iter).",
        })
    return failed


def json_records(frame: pd.DataFrame) -> list[dict]:
    """The rows of a table as JSON-ready dicts, with NaN and infinities as None."""

    def clean(value):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value

    return [{k: clean(v) for k, v in row.items()} for row in frame.to_dict("records")]

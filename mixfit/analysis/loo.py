"""PSIS-LOO of saved fits and their comparison, as brms's loo and loo_compare.

ArviZ smooths the importance weights and gives each row's elpd_loo and Pareto k (``_psis``: the
one place that calls it, for ArviZ 0.x and 1.x alike). The table is the loo package's: elpd_loo,
p_loo and looic with standard errors sqrt(n var(pointwise)), R's var; p_loo = lpd - elpd_loo.
loo_compare's elpd_diff and se_diff are the same sums over the rows' differences from the best.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from scipy.special import logsumexp

from mixfit.errors import InputError
from mixfit.readback import draws as checked_draws
from mixfit.wording import counted

ESTIMATES = ["elpd_loo", "p_loo", "looic"]
COMPARE_COLUMNS = [
    "elpd_diff",
    "se_diff",
    "elpd_loo",
    "se_elpd_loo",
    "p_loo",
    "se_p_loo",
    "looic",
    "se_looic",
]


@dataclass(frozen=True)
class Loo:
    name: str
    elpd_i: np.ndarray  # per row
    p_i: np.ndarray  # per row: lpd_i - elpd_loo_i
    pareto_k: np.ndarray
    draws: int
    response: str
    observed: np.ndarray

    @property
    def k_threshold(self) -> float:
        """Pareto k above which the importance sampling is unreliable for this many draws."""
        return min(1 - 1 / math.log10(self.draws), 0.7)

    def estimates(self) -> pd.DataFrame:
        """brms's loo table: rows elpd_loo, p_loo, looic; columns Estimate, SE."""
        n = len(self.elpd_i)
        elpd, se = self.elpd_i.sum(), _se(self.elpd_i)
        return pd.DataFrame(
            {
                "Estimate": [elpd, self.p_i.sum(), -2 * elpd],
                "SE": [se, _se(self.p_i), 2 * se],
            },
            index=ESTIMATES,
        ).rename_axis(f"{n} rows")

    def pareto_table(self) -> pd.DataFrame:
        """Counts and shares of rows per Pareto k class (loo 2.6's thresholds)."""
        threshold = self.k_threshold
        k = self.pareto_k
        classes = [
            (f"(-Inf, {threshold:.2g}]", "good", k <= threshold),
            (f"({threshold:.2g}, 1]", "bad", (k > threshold) & (k <= 1)),
            ("(1, Inf)", "very bad", k > 1),
        ]
        return pd.DataFrame(
            {
                "range": [c[0] for c in classes],
                "class": [c[1] for c in classes],
                "Count": [int(c[2].sum()) for c in classes],
                "Pct.": [100 * float(c[2].mean()) for c in classes],
            }
        )

    def advice(self) -> str | None:
        high = int((self.pareto_k > self.k_threshold).sum())
        if not high:
            return None
        # brms points to moment_match and reloo, which mixfit has not: point to what it has
        return (
            f"Warning: Found {counted(high, 'observation')} with a pareto_k > "
            f"{self.k_threshold:.2g} in model {self.name!r}: PSIS-LOO is unreliable for "
            f"{'them' if high > 1 else 'it'}. Use K-fold cross-validation instead "
            "('mixfit kfold SPEC -o OUTDIR', '--group' to leave out whole groups); where k is "
            "only a little above the threshold, more draws (a larger --iter) may bring it down."
        )


def loo(outdir: Path, name: str) -> Loo:
    path = outdir / "draws.nc"
    if not outdir.is_dir():
        raise InputError(f"results folder {str(outdir)!r} does not exist")
    if not path.is_file():
        raise InputError(f"{str(outdir)!r} is not a mixfit results folder (no draws.nc)")
    draws = checked_draws.inference_data(path)  # an untrusted file: checked before ArviZ reads it
    try:
        log_lik = _only_variable(draws["log_likelihood"])
    except KeyError:
        raise InputError(
            f"{str(outdir)!r} has no pointwise log-likelihood (rows x draws was too large to "
            "store it): LOO needs it"
        ) from None
    observed = _only_variable(draws["observed_data"])
    checked_draws.check_pointwise(log_lik.values, observed.values, path)
    values = log_lik.values.reshape(-1, log_lik.shape[-1])
    elpd_i, pareto_k = _psis(draws)
    lpd_i = logsumexp(values, axis=0) - np.log(len(values))
    return Loo(
        name=name,
        elpd_i=elpd_i,
        p_i=lpd_i - elpd_i,
        pareto_k=pareto_k,
        draws=len(values),
        response=str(observed.name),
        observed=observed.values,
    )


def compare(results: list[Loo]) -> pd.DataFrame:
    """loo_compare: best first; elpd_diff and se_diff against the best (0 for the best)."""
    _check_same_data(results)
    best = max(results, key=lambda r: r.elpd_i.sum())
    rows = []
    for result in results:
        estimates = result.estimates()["Estimate"]
        ses = result.estimates()["SE"]
        diff = result.elpd_i - best.elpd_i
        rows.append(
            [
                diff.sum(),
                _se(diff) if result is not best else 0.0,
                estimates["elpd_loo"],
                ses["elpd_loo"],
                estimates["p_loo"],
                ses["p_loo"],
                estimates["looic"],
                ses["looic"],
            ]
        )
    table = pd.DataFrame(rows, columns=COMPARE_COLUMNS, index=[r.name for r in results])
    return table.sort_values("elpd_diff", ascending=False, kind="stable")


def _psis(draws) -> tuple[np.ndarray, np.ndarray]:
    """Each row's elpd_loo and Pareto k from ArviZ (0.x names them loo_i, 1.x elpd_i)."""
    import warnings

    import arviz as az

    with warnings.catch_warnings():  # high Pareto k is reported in the table and the advice
        warnings.simplefilter("ignore")
        result = az.loo(draws, pointwise=True)
    pointwise = getattr(result, "elpd_i", None)
    if pointwise is None:
        pointwise = result["loo_i"]
    return np.asarray(pointwise, dtype=float).ravel(), np.asarray(result.pareto_k).ravel()


def _only_variable(group) -> xr.DataArray:
    dataset = group.to_dataset() if hasattr(group, "to_dataset") else group
    return next(iter(dataset.data_vars.values()))


def _check_same_data(results: list[Loo]) -> None:
    first = results[0]
    for other in results[1:]:
        if other.response != first.response:
            raise InputError(
                f"fits of different data can't be compared: {first.name!r} models "
                f"{first.response!r}, {other.name!r} models {other.response!r}"
            )
        if len(other.observed) != len(first.observed):
            raise InputError(
                f"fits of different data can't be compared: {first.name!r} has "
                f"{len(first.observed)} rows, {other.name!r} has {len(other.observed)}"
            )
        if not np.array_equal(other.observed, first.observed):
            raise InputError(
                f"fits of different data can't be compared: {first.name!r} and {other.name!r} "
                f"differ in their response {first.response!r}"
            )


def _se(values: np.ndarray) -> float:
    """sqrt(n var(x)) with R's var (n - 1 in the denominator), as the loo package."""
    return float(np.sqrt(len(values) * np.var(values, ddof=1)))


def loo_text(result: Loo) -> str:
    """brms's print of a loo object: the estimates, then the Pareto k table and advice."""
    estimates = result.estimates()
    size = f"{result.draws} by {len(result.elpd_i)}"
    lines = [
        f"Computed from {size} log-likelihood matrix ({result.name}).",
        "",
        estimates.rename_axis(None).to_string(float_format=lambda v: f"{v:.1f}"),
        "------",
        "Pareto k diagnostic values:",
    ]
    table = result.pareto_table()
    shown = pd.DataFrame(
        {"Count": table["Count"], "Pct.": table["Pct."].map(lambda v: f"{v:.1f}%")},
    )
    shown.index = [f"{r} ({c})" for r, c in zip(table["range"], table["class"])]
    lines += shown.to_string().splitlines()
    advice = result.advice()
    if advice:
        lines += ["", advice]
    else:
        lines += ["", "All Pareto k estimates are good."]
    return "\n".join(lines) + "\n"


def compare_text(table: pd.DataFrame) -> str:
    return table.to_string(float_format=lambda v: f"{v:.1f}") + "\n"


def loo_json(result: Loo) -> dict:
    estimates = result.estimates()
    return {
        **{
            name: {"Estimate": float(row["Estimate"]), "SE": float(row["SE"])}
            for name, row in estimates.iterrows()
        },
        "draws": result.draws,
        "rows": len(result.elpd_i),
        "k_threshold": result.k_threshold,
        "pareto_k": result.pareto_table().to_dict(orient="records"),
        "warning": result.advice(),
    }

"""The classical fit's verdict, in the words lme4 users know: converged or not, a boundary
(singular) fit and which components sit on the boundary, the Hessian, dropped columns, or why
there is no fit at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from mixfit.classical.gradient import GradientCheck

# lme4's isSingular tolerance: a component counts as on the boundary within this of it
BOUNDARY_TOL = 1e-4

# lme4 says "see help('isSingular')"; this says what that help page does
SINGULAR = (
    "boundary (singular) fit: the estimated group-level covariance is singular (an SD at 0, or a "
    "correlation at -1 or +1): the data can't tell that component from the edge of its range, "
    "often a sign of a group-level structure too complex for the data"
)
# the library's diagnostics that mean the curvature at the optimum was unusable
HESSIAN_KINDS = {"se_unavailable", "hessian_se_fallback"}
NOT_CONVERGED_KINDS = {"search_limit", "glm_diverged"}


@dataclass
class Verdict:
    method: str  # "REML", "ML" or "Laplace ML"
    status: str  # "converged", "not converged" or "failed"
    library: str = ""
    seconds: float = 0.0
    singular: bool = False
    boundary: list[dict] = field(default_factory=list)  # {"group", "param", "at": "0", "+1", ...}
    hessian_ok: bool = True
    rank_deficient: list[str] = field(default_factory=list)  # population terms dropped
    messages: list[str] = field(default_factory=list)  # lme4's wording, then the library's
    reason: str | None = None  # why there is no fit
    max_grad: float | None = None  # lme4's max|grad| at the optimum, where it was computed
    gradient_check: str = "not computed"  # "passed", "failed", or why it was not computed

    @property
    def converged(self) -> bool:
        return self.status == "converged"

    @property
    def headline(self) -> str:
        if self.status == "failed":
            return f"failed: {self.reason}"
        state = "converged" if self.converged else "did not converge"
        if not self.singular:
            return f"{state}, not singular"
        where = ", ".join(describe(b) for b in self.boundary)
        return f"{state}, boundary (singular) fit" + (f": {where}" if where else "")

    def as_dict(self) -> dict:
        return {
            "headline": self.headline,
            "status": self.status,
            "converged": self.converged,
            "singular": self.singular,
            "boundary": self.boundary,
            "hessian_ok": self.hessian_ok,
            "rank_deficient": self.rank_deficient,
            "messages": self.messages,
            "reason": self.reason,
            "max_grad": self.max_grad,
            "gradient_check": self.gradient_check,
            "method": self.method,
            "library": self.library,
            "seconds": round(self.seconds, 4),
        }


def describe(boundary: dict) -> str:
    """``~Subject: sd(Days) = 0``, as the summary and the headline name a boundary component."""
    if boundary["at"] == "singular":
        return f"~{boundary['group']}: {boundary['param']} is a combination of the other terms"
    return f"~{boundary['group']}: {boundary['param']} = {boundary['at']}"


def failed(method: str, reason: str, library: str = "", seconds: float = 0.0) -> Verdict:
    return Verdict(method, "failed", library, seconds, reason=reason, messages=[reason])


def judge(
    method: str,
    *,
    converged: bool,
    singular: bool,
    pinned: list[tuple[str, str]],
    varcorr: pd.DataFrame,
    scale: float,
    aliased: list[str],
    notes: list[dict],
    library: str = "",
    seconds: float = 0.0,
    gradient: GradientCheck | None = None,
) -> Verdict:
    """The verdict of a fit that ran.

    ``pinned`` names the (group, term) whose Cholesky diagonal the optimiser held at 0; ``varcorr``
    holds the estimates (group, param, Estimate); ``scale`` is what SDs are relative to in lme4's
    singularity check (sigma for gaussian, 1 otherwise); ``notes`` are the library's own reports,
    each a {"kind", "message"}; ``gradient`` is lme4's own convergence check at the optimum.
    """
    verdict = Verdict(method, "converged" if converged else "not converged", library, seconds)
    for note in notes:
        if note["kind"] in NOT_CONVERGED_KINDS:
            verdict.messages.append(f"Model failed to converge: {note['message']}")
    if gradient is not None:
        verdict.max_grad = gradient.max_grad
        verdict.messages += gradient.messages
        if gradient.skipped:
            verdict.gradient_check = gradient.skipped
        else:
            verdict.gradient_check = "passed" if gradient.converged else "failed"
        if not gradient.converged:  # lme4's check is what an lme4 user reads as converged
            verdict.status = "not converged"
    if singular:
        verdict.singular = True
        verdict.boundary = _boundary(pinned, varcorr, scale)
        verdict.messages.append(SINGULAR)
    if aliased:
        verdict.rank_deficient = list(aliased)
        k = len(aliased)
        plural = "s" if k > 1 else ""
        verdict.messages.append(
            f"fixed-effect model matrix is rank deficient so dropping {k} column{plural} / "
            f"coefficient{plural} ({', '.join(aliased)})"
        )
    for note in notes:
        if note["kind"] in HESSIAN_KINDS:
            verdict.hessian_ok = False
            verdict.messages.append(f"Hessian is not positive definite: {note['message']}")
        elif note["kind"] not in NOT_CONVERGED_KINDS | {"singular"}:
            verdict.messages.append(note["message"])
    return verdict


def _boundary(pinned: list[tuple[str, str]], varcorr: pd.DataFrame, scale: float) -> list[dict]:
    """The components on the boundary: SDs at 0, correlations at -1 or +1; a term the optimiser
    pinned that is neither is a combination of its group's other terms."""
    rows = varcorr[varcorr["group"] != "Residual"]
    found: list[dict] = []
    for row in rows.itertuples(index=False):
        value = row.Estimate
        if row.param.startswith("sd(") and value <= BOUNDARY_TOL * scale:
            found.append({"group": row.group, "param": row.param, "at": "0"})
        elif row.param.startswith("cor(") and abs(value) >= 1 - BOUNDARY_TOL:
            found.append(
                {"group": row.group, "param": row.param, "at": "+1" if value > 0 else "-1"}
            )
    for group, term in pinned:
        explained = any(
            b["group"] == group and (b["param"] == f"sd({term})" or _involves(b["param"], term))
            for b in found
        )
        if not explained:
            found.append({"group": group, "param": f"sd({term})", "at": "singular"})
    return found


def _involves(param: str, term: str) -> bool:
    return param.startswith("cor(") and term in param[4:-1].split(",")

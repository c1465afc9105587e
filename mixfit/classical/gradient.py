"""lme4's convergence check (lme4 1.1-31's checkConv), at the library's optimum: the gradient and
Hessian of lme4's deviance by central differences (its deriv12, step 1e-4), the scaled gradient
solve(chol(H), g), and lme4's messages when the smaller of |scaled| and |plain| gradient passes
0.002 in some component ("Model failed to converge with max|grad| = ..."), or the Hessian has
negative, zero or very unequal eigenvalues. As in lme4, a singular fit is not checked further.

The library reports whether its own optimiser converged; this is the check an lme4 user reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import linalg

from mixfit.classical import deviance
from mixfit.model.design import Design

GRAD_TOL = 2e-3  # lme4's check.conv.grad tol
HESS_TOL = 1e-6  # lme4's check.conv.hess tol
SINGULAR_TOL = 1e-4  # lme4's check.conv.singular tol, on theta's diagonal
DELTA = 1e-4  # deriv12's step
# where the library's Laplace approximation is lme4's: with a canonical link the observed and the
# expected information agree; elsewhere glmm's uses the observed, lme4's the expected, so the
# two optimise slightly different objectives
CANONICAL = {("bernoulli", "logit"), ("binomial", "logit"), ("poisson", "log")}
LAPLACE_DIFFERS = (
    "the library's Laplace approximation (observed information) is not lme4's (expected "
    "information) for this link, so lme4's gradient at the library's optimum would not say "
    "whether it converged"
)
# past these the check would cost more than the fit: it is left out, and the verdict says so
MAX_EFFECTS = 1000
MAX_ROWS = 100_000
MAX_PARAMETERS = 40


@dataclass
class GradientCheck:
    max_grad: float | None = None  # lme4's max|grad|: max over components of min(|scaled|, |g|)
    component: int | None = None  # where it is largest, from 1, in lme4's parameter order
    messages: list[str] = field(default_factory=list)  # lme4's, for each check that failed
    skipped: str | None = None  # why it was not computed

    @property
    def converged(self) -> bool:
        """No gradient message: passed, or not computed."""
        return not any(m.startswith(("Model failed", "unable")) for m in self.messages)


def check(
    design: Design,
    method: str,
    fixef: pd.DataFrame,
    varcorr: pd.DataFrame,
    dropped: tuple[str, ...] = (),
) -> GradientCheck:
    """lme4's check at the estimates in ``fixef`` and ``varcorr`` (mixfit's classical tables);
    ``dropped``: the rank-deficient population-level terms, left out as lme4 leaves them."""
    layout = deviance.layout(design, dropped)
    if layout.effects.count > MAX_EFFECTS or design.n > MAX_ROWS:
        return GradientCheck(
            skipped=f"not computed for {layout.effects.count} group-level effects and "
            f"{design.n} rows (at most {MAX_EFFECTS} and {MAX_ROWS:,})"
        )
    gaussian = design.family.family.name == "gaussian"
    if not gaussian and (design.family.family.name, design.family.link) not in CANONICAL:
        return GradientCheck(skipped=f"not computed for {design.family}: {LAPLACE_DIFFERS}")
    if gaussian and design.response.weights is not None:  # lmm_deviance has no prior weights
        return GradientCheck(skipped="not computed for a weighted gaussian model")
    residual = varcorr.set_index(["group", "param"])["Estimate"]
    scale = residual[("Residual", "sigma")] ** 2 if gaussian else 1.0
    try:
        covariances = [_covariance(b, varcorr) for b in layout.blocks]
        theta = deviance.theta_of(layout, covariances, scale)
    except np.linalg.LinAlgError:  # a covariance with no Cholesky factor: singular
        theta = None
    if theta is None or np.any(_diagonal(layout, theta) < SINGULAR_TOL):
        return GradientCheck(skipped="not checked: a singular fit, as lme4 does")
    if gaussian:
        fun = deviance.lmm_deviance(layout, reml=method == "REML")
        x = theta
    else:
        shape = residual.get(("Residual", "shape"))
        family = deviance.family_of(design.family.family.name, design.family.link, shape)
        fun = deviance.laplace_deviance(layout, family)
        beta = fixef[~fixef["term"].isin(dropped)]["Estimate"].to_numpy(dtype=float)
        x = np.concatenate([theta, beta])
    if len(x) > MAX_PARAMETERS:
        return GradientCheck(skipped=f"not computed for {len(x)} parameters")
    with np.errstate(all="ignore"):
        gradient, hessian = deriv12(fun, x)
    return judge(gradient, hessian, layout.n_theta)


def deriv12(fun: Callable[[np.ndarray], float], x: np.ndarray, delta: float = DELTA):
    """The gradient and Hessian of ``fun`` at ``x`` by central differences, as lme4's deriv12."""
    n = len(x)
    fx = fun(x)
    gradient, hessian = np.empty(n), np.empty((n, n))

    def at(*moves: tuple[int, float]) -> float:
        moved = x.copy()
        for index, step in moves:
            moved[index] += step
        return fun(moved)

    for j in range(n):
        up, down = at((j, delta)), at((j, -delta))
        hessian[j, j] = (up - 2 * fx + down) / delta**2
        gradient[j] = (up - down) / (2 * delta)
        for i in range(j):
            hessian[i, j] = hessian[j, i] = (
                at((i, delta), (j, delta))
                - at((i, delta), (j, -delta))
                - at((i, -delta), (j, delta))
                + at((i, -delta), (j, -delta))
            ) / (2 * delta) ** 2
    return gradient, hessian


def judge(gradient: np.ndarray, hessian: np.ndarray, n_theta: int) -> GradientCheck:
    """lme4's verdict on a gradient and Hessian of its deviance (theta first, then beta)."""
    result = GradientCheck()
    if not np.all(np.isfinite(gradient)):
        result.messages.append("Gradient contains NAs")
        return result
    try:
        scaled = linalg.solve_triangular(linalg.cholesky(hessian), gradient)  # solve(chol(H), g)
    except (linalg.LinAlgError, ValueError):
        scaled = None
    if scaled is None or not np.all(np.isfinite(scaled)):
        result.messages.append("unable to evaluate scaled gradient")
    else:
        smallest = np.minimum(np.abs(scaled), np.abs(gradient))
        result.max_grad = float(smallest.max())
        result.component = int(smallest.argmax()) + 1
        if result.max_grad > GRAD_TOL:
            result.messages.append(
                f"Model failed to converge with max|grad| = {result.max_grad:g} "
                f"(tol = {GRAD_TOL:g}, component {result.component})"
            )
    if len(gradient) > n_theta:  # a GLMM: the fixed effects' block on its own first
        beta = hessian[n_theta:, n_theta:]
        result.messages += _hessian_messages(beta, "fixed-effect ")
    result.messages += _hessian_messages(hessian, "")
    return result


def _hessian_messages(hessian: np.ndarray, kind: str) -> list[str]:
    """lme4's checkHess: negative, zero or extreme eigenvalues of the deviance's Hessian."""
    values = np.linalg.eigvalsh(hessian)
    negative = int((values < -HESS_TOL).sum())
    if negative:
        message = f"Model failed to converge: degenerate {kind}Hessian with {negative} negative"
        return [f"{message} eigenvalues"]
    try:
        linalg.cholesky(hessian)
        positive = True
    except linalg.LinAlgError:
        positive = False
    if (np.abs(values) < HESS_TOL).any() or not positive:
        return [f"{kind}Hessian is numerically singular: parameters are not uniquely determined"]
    messages = []
    if values.max() * HESS_TOL > 1:
        messages.append(
            "Model is nearly unidentifiable: very large eigenvalue - Rescale variables?"
        )
    if values.min() / values.max() < HESS_TOL and not messages:
        messages.append(
            "Model is nearly unidentifiable: large eigenvalue ratio - Rescale variables?"
        )
    return messages


def _covariance(block, varcorr: pd.DataFrame) -> np.ndarray:
    """A block's covariance matrix from its SDs and correlations (0 where there are none)."""
    rows = varcorr[varcorr["group"] == block.group].set_index("param")["Estimate"]
    sd = np.array([rows[f"sd({t})"] for t in block.terms], dtype=float)
    cor = np.eye(len(sd))
    for a, first in enumerate(block.terms):
        for b, second in enumerate(block.terms[a + 1 :], start=a + 1):
            value = rows.get(f"cor({first},{second})", 0.0)
            cor[a, b] = cor[b, a] = 0.0 if pd.isna(value) else value
    return np.outer(sd, sd) * cor


def _diagonal(layout: deviance.Layout, theta: np.ndarray) -> np.ndarray:
    """The diagonal elements of each block's factor within theta (the bounded ones)."""
    out, start = [], 0
    for k in layout.sizes:
        offsets = np.cumsum([0] + [k - j for j in range(k - 1)])
        out += list(theta[start + offsets])
        start += k * (k + 1) // 2
    return np.asarray(out)

"""The classical fit of a model, as lme4 makes it: REML (or ML) for gaussian, Laplace maximum
likelihood for bernoulli, binomial, poisson and negbinomial.

The fit is the glmm library's, run on mixfit's own design: glmm gets numbered columns (``y``,
``b1``, ``g1``, ...) and a formula written from the design, so the user's formula is read once, by
mixfit, and both fits see the same rows, coding, factors and offset.
"""

from __future__ import annotations

import threading
import time
import warnings
from dataclasses import dataclass
from importlib.metadata import version

import numpy as np
import pandas as pd

from mixfit.classical import gradient, meta_analysis
from mixfit.classical.summary_figures import Figures, figures
from mixfit.classical.verdict import Verdict, failed, judge
from mixfit.errors import InputError
from mixfit.model.design import Design, GroupBlock

# mixfit's family -> glmm's; each with the links both have
FAMILIES = {
    "gaussian": "gaussian",
    "bernoulli": "binomial",
    "binomial": "binomial",
    "poisson": "poisson",
    "negbinomial": "negativebinomial",
}
# glmm's reports of a fit that left no estimates
FAILED_KINDS = {
    "fit_failed",
    "too_few_rows",
    "constant_response",
    "no_coefficients",
    "design_unsolvable",
}
# glmm raises each diagnostic as a warning attributed to its caller, here; the verdict reads them
# from the fit instead, so they are not printed on the terminal
warnings.filterwarnings("ignore", category=UserWarning, module=__name__)


@dataclass
class ClassicalFit:
    fixef: pd.DataFrame  # term, Estimate, Std.Error
    varcorr: pd.DataFrame  # group, param, Estimate, Std.Error (NaN where the library gives none)
    verdict: Verdict
    figures: Figures | None = None  # what lme4's summary prints besides; None for a failed fit

    @property
    def ok(self) -> bool:
        """There are estimates to show (the fit ran, whatever its verdict)."""
        return self.verdict.status != "failed"


class Unfittable(Exception):
    """A model the library cannot express; the message says why, for the verdict."""


def method_of(design: Design, ml: bool) -> str:
    if design.family.family.name == "gaussian":  # a meta-analysis's too, as metafor's rma
        return "ML" if ml else "REML"
    return "Laplace ML"


def check_supported(design: Design) -> None:
    """Asking for a classical fit of a family lme4's methods don't cover is bad input."""
    if design.autocor is not None:  # lme4 has no autocorrelated residuals (nlme's gls has)
        raise InputError(
            f"no classical fit for a model with {design.autocor.term.text}: lme4's models have "
            "independent residuals; leave out --classical"
        )
    smooths = [t for p in design.predictors.values() for t in p.smooths]
    if smooths:  # lme4 has none (mgcv's gamm4 fits them, and has no maintained Python port)
        raise InputError(
            f"no classical fit for a model with {smooths[0].text}: lme4's models have no smooth "
            "terms; leave out --classical"
        )
    gps = [t for p in design.predictors.values() for t in p.gps]
    if gps:  # lme4 has no Gaussian processes (mgcv's gamm4 has smooths, not GPs)
        raise InputError(
            f"no classical fit for a model with {gps[0].text}: lme4's models have no Gaussian "
            "process terms; leave out --classical"
        )
    monotonic = [t for p in design.predictors.values() for t in p.monotonic]
    if monotonic:  # lme4 has no monotonic effects (brms's own term kind)
        raise InputError(
            f"no classical fit for a model with {monotonic[0].text}: lme4's models have no "
            "monotonic effects; leave out --classical"
        )
    if meta_analysis.is_meta_analysis(design):
        meta_analysis.check_supported(design)
        return
    additions = design.formula.additions
    if additions.truncated or additions.rate is not None:  # lme4's likelihoods have neither
        term = "trunc()" if additions.truncated else "rate()"
        raise InputError(
            f"no classical fit for a model with {term}: lme4's likelihoods are not truncated "
            "and take no rate denominators; leave out --classical"
        )
    name = design.family.family.name
    if name not in FAMILIES:
        raise InputError(
            f"no classical fit for family {name!r}: it is available for {', '.join(FAMILIES)}"
        )
    if design.dpars:  # glmmTMB's dispformula/ziformula: no maintained Python library fits them
        formulas = ", ".join(f"{d} ~ ..." for d in design.dpars)
        raise InputError(
            f"no classical fit for a model with a formula for a family parameter ({formulas}): "
            "glmm fits lme4's models, whose family parameters are constants; leave out "
            "--classical, or fit the model without that formula"
        )


class Deferred:
    """The classical fit, run once by whichever thread asks first: the sampler's spare thread
    while the chains run, or the caller's when it needs the result."""

    def __init__(self, design: Design, estimator: str):
        check_supported(design)  # before anything is compiled or sampled
        self.design = design
        self.method = method_of(design, estimator == "ML")
        self._lock = threading.Lock()
        self._result: ClassicalFit | None = None

    def run(self) -> None:
        with self._lock:
            if self._result is None:
                self._result = fit_classical(self.design, self.method)

    def result(self) -> ClassicalFit:
        self.run()
        return self._result


def fit_classical(design: Design, method: str) -> ClassicalFit:
    """Fit by the library; a model it can't fit or a fit that fails gives a failed verdict."""
    if meta_analysis.is_meta_analysis(design):
        started = time.perf_counter()
        try:
            return ClassicalFit(*meta_analysis.fit_meta_analysis(design, method))
        except Exception as exc:  # noqa: BLE001 (as below: the Bayesian fit goes on)
            return _failed(method, f"PyMARE: {exc}", "PyMARE", started)
    library = f"glmm {version('glmm')}"
    started = time.perf_counter()
    try:
        import glmm

        call = glmm_call(design)
        # numpy's floating-point warnings from the library's arithmetic (0/0 for the correlation
        # of two SDs at 0) would print as Python warnings: the verdict says what they mean, and
        # numpy's error state is this thread's alone (the fit runs beside the sampler's)
        with np.errstate(all="ignore"):
            result = glmm.fit(
                call.data,
                call.formula,
                call.family,
                link=design.family.link,
                weights=design.response.weights,  # weights(w): lme4's prior weights
                offset=design.offset,
                reml=method == "REML",
            )
            return _collect(design, method, call, result, library, started)
    except Unfittable as exc:
        return _failed(method, str(exc), library, started)
    except Exception as exc:  # noqa: BLE001 (a failed fit must not take the Bayesian one with it)
        return _failed(method, f"{library}: {exc}", library, started)


@dataclass
class GlmmCall:
    data: dict
    formula: str
    family: str
    names: dict[str, str]  # glmm's coefficient name -> mixfit's term
    groups: dict[str, tuple[GroupBlock, dict[str, str]]]  # glmm group -> block, term names


def glmm_call(design: Design) -> GlmmCall:
    """Columns and a formula for glmm, written from the design."""
    data: dict = {}
    names = {"(Intercept)": "Intercept"} if design.has_intercept else {}
    columns = {}
    for j, coef in enumerate(design.coefs):
        key = f"b{j + 1}"
        data[key], names[key], columns[coef] = design.X[:, j], coef, key
    y = np.asarray(design.response.values, dtype=float)
    data["y"] = y
    response = "y"
    if design.response.trials is not None:
        data["failures"] = np.asarray(design.response.trials, dtype=float) - y
        response = "cbind(y, failures)"
    terms = ["1" if design.has_intercept else "0", *columns.values()]
    groups = {}
    for block in design.blocks:
        key = f"g{block.id}"
        codes = block.J - 1
        data[key] = pd.Categorical.from_codes(codes, categories=range(len(block.levels)))
        written = _group_terms(block, design, columns)
        terms.append(f"({' + '.join(written)} | {key})")
        glmm_names = ["(Intercept)" if w == "1" else w for w in written]
        groups[key] = (block, dict(zip(glmm_names, block.terms)))
    formula = f"{response} ~ {' + '.join(terms)}"
    return GlmmCall(data, formula, FAMILIES[design.family.family.name], names, groups)


def _group_terms(block: GroupBlock, design: Design, columns: dict[str, str]) -> list[str]:
    """A block's terms as glmm writes them: ``1`` and the population column of each slope."""
    text = term_text(block)
    if not block.correlated and len(block.terms) > 1:
        raise Unfittable(
            f"glmm fits the correlations of every group-level term; {text} has them fixed at 0"
        )
    written = []
    for k, term in enumerate(block.terms):
        if term == "Intercept" and np.all(block.Z[:, k] == 1):
            written.append("1")
            continue
        key = columns.get(term)
        if key is None or not np.array_equal(design.X[:, design.coefs.index(term)], block.Z[:, k]):
            raise Unfittable(
                f"glmm fits a group-level slope only for a population-level term: {term!r} "
                f"of {text} is not one"
            )
        written.append(key)
    if written[0] != "1":
        raise Unfittable(f"glmm fits a group-level slope only beside an intercept; {text} has none")
    return written


def term_text(block: GroupBlock) -> str:
    """A block as lme4 writes it: ``(1 + Days | Subject)``, ``(0 + x || g)``."""
    terms = ["1" if t == "Intercept" else t for t in block.terms]
    if "1" not in terms:
        terms.insert(0, "0")
    bar = "|" if block.correlated else "||"
    return f"({' + '.join(terms)} {bar} {block.group})"


def _collect(
    design: Design, method: str, call: GlmmCall, result, library: str, started: float
) -> ClassicalFit:
    gaussian = call.family == "gaussian"
    notes = [{"kind": w["kind"], "message": w["message"]} for w in result.warnings]
    if any(n["kind"] == "few_rows_for_random_effects" for n in notes):  # lme4 stops here
        return _failed(method, _too_many_effects(design), library, started)
    failure = next((n["message"] for n in notes if n["kind"] in FAILED_KINDS), None)
    estimable = ~np.asarray(result.aliased, dtype=bool)
    if failure is not None or not np.all(np.isfinite(result.beta[estimable])):
        return _failed(method, f"{library}: {failure or 'no estimates'}", library, started)
    fixef = pd.DataFrame(
        {
            "term": [call.names[n] for n in result.names],
            "Estimate": result.beta,
            "Std.Error": result.se,
        }
    )
    varcorr, pinned = _varcorr(design, call, result)
    aliased = [call.names[n] for n, a in zip(result.names, result.aliased) if a]
    sigma = float(np.sqrt(result.dispersion)) if call.family == "gaussian" else 1.0
    check = None
    if result.converged and not result.singular:  # lme4 checks no further either
        check = gradient.check(design, method, fixef, varcorr, tuple(aliased))
    verdict = judge(
        method,
        converged=bool(result.converged),
        singular=bool(result.singular),
        pinned=pinned,
        varcorr=varcorr,
        scale=sigma,
        aliased=aliased,
        notes=notes,
        library=library,
        seconds=time.perf_counter() - started,
        gradient=check,
    )
    return ClassicalFit(fixef, varcorr, verdict, figures(result, call.names, gaussian))


def _varcorr(design: Design, call: GlmmCall, result) -> tuple[pd.DataFrame, list]:
    """SDs and correlations per block in the design's order, then sigma or shape; and the
    (group, term) the optimiser pinned at the boundary."""
    order = [name for name, _ in result.re_groups]
    # stddev_se follows glmm's theta layout: each group's lower triangle, column by column
    offsets = np.cumsum([0] + [len(t) * (len(t) + 1) // 2 for _, t in result.re_groups])
    se = np.asarray(result.stddev_se, dtype=float)
    pinned_flags = result.diagnostics["pinned"] or [[] for _ in order]
    rows, pinned = [], []
    for key, (block, terms) in call.groups.items():
        i = order.index(key)
        glmm_terms = result.re_groups[i][1]
        sds, cor = result.stddev_corr(i)
        q = len(glmm_terms)
        mine = [terms[t] for t in glmm_terms]
        by_term = {}
        for m, term in enumerate(mine):
            slot = offsets[i] + m * q - (m * m - m) // 2
            by_term[term] = (sds[m], se[slot] if slot < len(se) else np.nan)
            if m < len(pinned_flags[i]) and pinned_flags[i][m]:
                pinned.append((block.group, term))
        for term in block.terms:
            estimate, error = by_term[term]
            rows.append((block.group, f"sd({term})", estimate, error))
        if block.has_cor:
            position = {term: m for m, term in enumerate(mine)}
            for a in range(len(block.terms)):
                for b in range(a + 1, len(block.terms)):
                    first, second = block.terms[a], block.terms[b]
                    value = cor[position[first], position[second]]
                    rows.append((block.group, f"cor({first},{second})", value, np.nan))
    if call.family == "gaussian":
        rows.append(("Residual", "sigma", float(np.sqrt(result.dispersion)), np.nan))
    elif call.family == "negativebinomial":
        rows.append(("Residual", "shape", float(result.dispersion), np.nan))
    frame = pd.DataFrame(rows, columns=["group", "param", "Estimate", "Std.Error"])
    return frame, pinned


def _too_many_effects(design: Design) -> str:
    """lme4's check.nobs.vs.nRE message, for the first term with too many random effects."""
    n = design.n
    gaussian = design.family.family.name == "gaussian"
    for block in design.blocks:
        effects = len(block.levels) * len(block.terms)
        if (effects >= n) if gaussian else (effects > n):
            term = term_text(block)[1:-1]
            if gaussian:
                return (
                    f"number of observations (={n}) <= number of random effects (={effects}) "
                    f"for term ({term}); the random-effects parameters and the residual variance "
                    "(or scale parameter) are probably unidentifiable"
                )
            return (
                f"number of observations (={n}) < number of random effects (={effects}) for "
                f"term ({term}); the random-effects parameters are probably unidentifiable"
            )
    return "more random effects than observations"


def _failed(method: str, reason: str, library: str, started: float) -> ClassicalFit:
    empty = pd.DataFrame(columns=["term", "Estimate", "Std.Error"])
    empty_vc = pd.DataFrame(columns=["group", "param", "Estimate", "Std.Error"])
    verdict = failed(method, reason, library, time.perf_counter() - started)
    return ClassicalFit(empty, empty_vc, verdict)


def with_intervals(table: pd.DataFrame, prob: float) -> pd.DataFrame:
    """Wald intervals (estimate +- z * SE) beside each row; SDs' bounded below at 0."""
    from statistics import NormalDist

    low, high = interval_columns(prob)
    z = NormalDist().inv_cdf((1 + prob) / 2)
    out = table.copy()
    estimate = out["Estimate"].astype(float)
    error = out["Std.Error"].astype(float)
    out[low] = estimate - z * error
    out[high] = estimate + z * error
    if "param" in out:
        sd = out["param"].str.startswith("sd(")
        out.loc[sd, low] = out.loc[sd, low].clip(lower=0)
    return out


def interval_columns(prob: float) -> tuple[str, str]:
    """The posterior tables' interval names (results.summaries), without importing ArviZ."""
    low, high = (1 - prob) / 2 * 100, (1 + prob) / 2 * 100
    return f"Q{low:g}", f"Q{high:g}"

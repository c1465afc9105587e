"""Autocorrelated residuals (brms 2.18's ``stan_ac``/``data_ac``): ``ar(time, gr, p)``,
``ma(time, gr, q)``, ``arma(time, gr, p, q)`` and ``cosy(time, gr)``, for gaussian and student.

ARMA terms take brms's default ``cov = FALSE``: the residual-based form, where row n's mean
adds ``ar`` times the residuals of the rows before it in its group (``Err``), which ``J_lag``
counts; so the rows are sorted by group and time first, as brms's ``order_data``. cosy() is a
correlation matrix of each group's residuals (brms's only form of it: normal_time_hom or
student_t_time_hom), its new rows' series built from the new data's own rows as brms's
prepare_predictions_ac (cosy_rows, cosy_draws, cosy_log_lik below). Only mu's formula takes
one; brms's ``cov = TRUE`` forms of ARMA are not built.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from mixfit.errors import InputError
from mixfit.model.priors import Slot
from mixfit.model.special_terms import SpecialTerm

TEMPLATE = "terms/autocor.stan"
FAMILIES = ("gaussian", "student")
# each call's arguments in R's order, with brms's defaults
ARGUMENTS = {
    "ar": ("time", "gr", "p", "cov"),
    "ma": ("time", "gr", "q", "cov"),
    "arma": ("time", "gr", "p", "q", "cov"),
    "cosy": ("time", "gr"),
}


@dataclass(frozen=True)
class AutocorTerm:
    """An autocorrelation term as written: its class (arma or cosy), orders and columns."""

    cls: str  # "arma" | "cosy"
    p: int  # AR order (0 without one)
    q: int  # MA order
    time: str | None  # None: the rows' order
    gr: str | None  # None: all rows one series
    text: str

    @property
    def columns(self) -> list[str]:
        return [c for c in (self.gr, self.time) if c]


@dataclass(frozen=True)
class Autocor:
    """A term with its data: each row's series (1-based, in brms's order) and, for ARMA, the
    number of residuals of earlier rows each next row takes (J_lag)."""

    term: AutocorTerm
    series: np.ndarray  # 1-based series of each (sorted) row
    J_lag: np.ndarray

    @property
    def cls(self) -> str:
        return self.term.cls

    @property
    def begin(self) -> np.ndarray:
        """The first row (1-based) of each series: they are contiguous once sorted."""
        return np.flatnonzero(np.r_[True, np.diff(self.series) != 0]) + 1

    @property
    def nobs(self) -> np.ndarray:
        return np.diff(np.r_[self.begin, len(self.series) + 1])


def term_of(formulas) -> AutocorTerm | None:
    """The model's autocorrelation term, read and checked, or None."""
    found = []
    for dpar, part in formulas.parts.items():
        for special in part.specials:
            if special.kind != "autocor":
                continue
            if dpar != "mu":
                raise InputError(
                    f"{special.text}: an autocorrelation term belongs in the formula of the mean "
                    f"(mu), not of {dpar}"
                )
            found.append(_read(special))
    if len(found) > 1:
        raise InputError(
            f"{found[1].text}: one autocorrelation term per model (write arma(time, gr, p, q) "
            "for AR and MA together)"
        )
    return found[0] if found else None


def _read(special: SpecialTerm) -> AutocorTerm:
    names = ARGUMENTS[special.call]
    special.check_keywords(set(names))
    if len(special.positional) > len(names):
        raise InputError(f"{special.text}: {special.call}() takes at most {len(names)} arguments")
    given = dict(zip(names, special.positional)) | dict(special.keywords)
    if "cov" in given and special.logical(given["cov"]):
        raise InputError(
            f"{special.text}: cov = TRUE (the covariance-matrix form of ARMA) is not supported "
            "yet; leave cov out for brms's default residual form"
        )
    time, gr = (_column_or_none(special, given.get(k)) for k in ("time", "gr"))
    if special.call == "cosy":
        return AutocorTerm("cosy", 0, 0, time, gr, special.text)
    p = special.whole(given["p"], 1) if "p" in given else 1
    q = special.whole(given["q"], 1) if "q" in given else 1
    if special.call == "ar":
        q = 0
    elif special.call == "ma":
        p = 0
    return AutocorTerm("arma", p, q, time, gr, special.text)


def _column_or_none(special: SpecialTerm, argument) -> str | None:
    if argument is None or argument.lexemes == ("NA",):
        return None
    return special.column(argument)


def check(term: AutocorTerm, family: str, additions, dpars: Iterable[str]) -> None:
    """What the model can't be built with: refused before anything is compiled."""
    if family not in FAMILIES:
        raise InputError(
            f"{term.text}: autocorrelation terms are supported with the gaussian and student "
            f"families only, not {family}"
        )
    if (
        additions.se is not None
        or additions.cens is not None
        or additions.weights is not None
        or additions.truncated
        or additions.rate is not None
    ):
        raise InputError(
            f"{term.text}: autocorrelation terms do not take se(), cens(), weights(), trunc() or "
            "rate()"
        )
    with_formula = list(dpars)  # the family parameters with a formula (a dict's keys)
    if term.cls == "cosy" and with_formula:
        raise InputError(
            f"{term.text}: cosy() takes no formula for {with_formula[0]} (one value per model, "
            "as brms's covariance of a series)"
        )


def order_rows(term: AutocorTerm, frame: pd.DataFrame) -> pd.DataFrame:
    """The rows sorted by group, then time, as brms's order_data: the residuals of a series'
    earlier rows come right before each of its rows."""
    for column in term.columns:
        if column not in frame.columns:
            raise InputError(f"{term.text}: column {column!r} is not in the data")
    if term.time and not pd.api.types.is_numeric_dtype(frame[term.time]):
        raise InputError(f"{term.text}: the time {term.time!r} must be numeric")
    keys = term.columns
    if term.time and frame.duplicated(keys).any():
        where = frame[frame.duplicated(keys, keep=False)].iloc[0]
        within = f" within {term.gr} = {where[term.gr]}" if term.gr else ""
        raise InputError(
            f"{term.text}: time {where[term.time]} appears twice{within}: time points within "
            "groups must be unique"
        )
    if not keys:
        return frame
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


def build(term: AutocorTerm, frame: pd.DataFrame) -> Autocor:
    """The term's data on rows already in order_rows' order."""
    n = len(frame)
    if term.gr:
        series = pd.factorize(frame[term.gr], sort=True)[0] + 1
    else:
        series = np.ones(n, dtype=np.int64)
    # order_rows sorted by the group's values: each series is one run of rows
    if term.gr and term.time and (np.diff(series) < 0).any():
        raise InputError(f"{term.text}: rows are not sorted by {term.gr}")
    max_lag = max(term.p, term.q)
    J_lag = np.zeros(n, dtype=np.int64)
    for k in range(n - 1):  # brms's data_ac: earlier rows of row k+1's series among its lags
        window = series[max(0, k + 1 - max_lag) : k + 1]
        J_lag[k] = int((window == series[k + 1]).sum())
    return Autocor(term, series.astype(np.int64), J_lag)


def context(autocor: Autocor) -> dict:
    """What the snippet needs: the class and which orders are there, never data."""
    return {"cls": autocor.cls, "ar": autocor.term.p > 0, "ma": autocor.term.q > 0}


def stan_data(autocor: Autocor) -> dict:
    if autocor.cls == "cosy":
        begin, nobs = autocor.begin, autocor.nobs
        return {
            "N_tg": len(begin),
            "begin_tg": begin,
            "end_tg": begin + nobs - 1,
            "nobs_tg": nobs,
        }
    return {"Kar": autocor.term.p, "Kma": autocor.term.q, "J_lag": autocor.J_lag}


def slots(autocor: Autocor) -> list[Slot]:
    """brms 2.18's priors: ar and ma flat and unbounded in the residual form (the residuals set
    their scale), cosy flat on (0, 1)."""
    term = autocor.term
    if term.cls == "cosy":
        return [Slot("cosy", "cosy", 0.0, 1.0, [("", "")], scalar=True)]
    out = []
    if term.p:
        out.append(Slot("ar", "ar", None, None, [(str(k), "") for k in range(1, term.p + 1)]))
    if term.q:
        out.append(Slot("ma", "ma", None, None, [(str(k), "") for k in range(1, term.q + 1)]))
    return out


def draw_names(term: AutocorTerm) -> dict[str, list[str]]:
    """The Stan variables and the names of their elements in the draws: ar[1], ma[1], cosy."""
    if term.cls == "cosy":
        return {"cosy": ["cosy"]}
    out = {}
    if term.p:
        out["ar"] = [f"ar[{k}]" for k in range(1, term.p + 1)]
    if term.q:
        out["ma"] = [f"ma[{k}]" for k in range(1, term.q + 1)]
    return out


def arma_mu(
    eta: np.ndarray,
    y: np.ndarray,
    J_lag: np.ndarray,
    ar: np.ndarray | None,
    ma: np.ndarray | None,
) -> np.ndarray:
    """brms's .predictor_arma: each draw's mean with the ARMA terms, from the linear predictor
    without them (draws x rows), the observed response and the AR and MA draws (draws x order)."""
    draws, n = eta.shape
    Kar = 0 if ar is None else ar.shape[1]
    Kma = 0 if ma is None else ma.shape[1]
    max_lag = max(Kar, Kma, 1)
    mu = eta.astype(float).copy()
    Err = np.zeros((draws, n + 1, max_lag))
    err = np.zeros((draws, n))
    for k in range(n):
        if Kma:
            mu[:, k] += (Err[:, k, :Kma] * ma).sum(axis=1)
        err[:, k] = y[k] - mu[:, k]
        for i in range(J_lag[k]):
            Err[:, k + 1, i] = err[:, k - i]
        if Kar:
            mu[:, k] += (Err[:, k, :Kar] * ar).sum(axis=1)
    return mu


def sorted_table(formulas, table):
    """The table with its rows in brms's order when the model has an autocorrelation term: every
    row-wise output of the fit (log_lik, fitted values) then follows that order."""
    term = term_of(formulas)
    if term is None:
        return table
    return replace(table, frame=order_rows(term, table.frame))


# --- cosy() at new rows (brms's prepare_predictions_ac on newdata, then its *_time methods) ---


def cosy_series(term: AutocorTerm, frame: pd.DataFrame) -> np.ndarray:
    """Each row's series (0-based), in ``frame``'s own order: the series brms builds from new
    data's own rows (sorted by order_rows, numbered by build), so a new series' correlation
    matrix is that of its rows in the new data."""
    numbered = frame.assign(__mixfit_row__=np.arange(len(frame)))
    ordered = order_rows(term, numbered)
    series = np.empty(len(frame), dtype=np.int64)
    series[ordered["__mixfit_row__"].to_numpy()] = build(term, ordered).series - 1
    return series


def _cosy_inverse(sigma: np.ndarray, cosy: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """C^-1 = (I - b 11') / a for a series of m rows, C = sigma^2 ((1 - cosy) I + cosy 11'):
    the a and b of each draw (the closed form of brms's solve(C))."""
    a = sigma**2 * (1 - cosy)
    b = cosy / (1 + (m - 1) * cosy)
    return a, b


def cosy_log_lik(
    y: np.ndarray,
    mu: np.ndarray,
    sigma: np.ndarray,
    cosy: np.ndarray,
    series: np.ndarray,
    nu: np.ndarray | None = None,
) -> np.ndarray:
    """Draws x rows: brms's log_lik_gaussian_time (``nu`` None) or log_lik_student_time, each
    row's density given the other rows of its series. y: rows; mu: draws x rows; sigma, cosy,
    nu: draws. The student-t's conditional (brms's student_t_cov_factor) has nu + m - 1 degrees
    of freedom and a scale grown by beta1 = e[-j]' C[-j, -j]^-1 e[-j], which is
    e' C^-1 e - g_j^2 / cbar_j."""
    from scipy import stats

    out = np.empty(mu.shape)
    for s in np.unique(series):
        rows = np.flatnonzero(series == s)
        m = len(rows)
        a, b = (v[:, None] for v in _cosy_inverse(sigma, cosy, m))
        e = y[rows] - mu[:, rows]
        g = (e - b * e.sum(axis=1, keepdims=True)) / a  # C^-1 e
        cbar = (1 - b) / a  # diag(C^-1)
        loo_mean = y[rows] - g / cbar
        if nu is None:
            out[:, rows] = stats.norm.logpdf(y[rows], loo_mean, np.sqrt(1 / cbar))
            continue
        df = nu[:, None] + m - 1
        beta1 = (e * g).sum(axis=1, keepdims=True) - g**2 / cbar
        scale = np.sqrt((nu[:, None] + beta1) / (df * cbar))
        out[:, rows] = stats.t.logpdf(y[rows], df, loo_mean, scale)
    return out


def cosy_draws(
    mu: np.ndarray,
    sigma: np.ndarray,
    cosy: np.ndarray,
    series: np.ndarray,
    rng: np.random.Generator,
    nu: np.ndarray | None = None,
) -> np.ndarray:
    """Draws x rows: brms's posterior_predict_gaussian_time / _student_time, each series drawn
    as a whole from the multivariate normal (or student-t) with covariance sigma^2 times the
    compound-symmetry correlation: a shared normal per series with variance cosy, plus each
    row's own with 1 - cosy; the student-t's scale mixed by one inverse gamma per series."""
    draws, n = mu.shape
    count = int(series.max()) + 1 if n else 0
    shared = rng.standard_normal((draws, count))[:, series]
    own = rng.standard_normal((draws, n))
    c = cosy[:, None]
    e = sigma[:, None] * (np.sqrt(c) * shared + np.sqrt(1 - c) * own)
    if nu is not None:
        w = nu[:, None] / rng.chisquare(nu[:, None], size=(draws, count))
        e *= np.sqrt(w)[:, series]
    return mu + e

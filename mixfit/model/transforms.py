"""R's bases for a numeric predictor: ``poly()`` (stats), ``ns()`` and ``bs()`` (splines).

Each is a formulae stateful transform: called on the fitted data it learns what the basis
depends on (poly's ``alpha`` and ``norm2``, a spline's interior and boundary knots), keeps it
in plain attributes (formulae_state.py saves them in design.json), and evaluates every later
call, on new rows too, with them, as R's ``predict()`` and ``makepredictcall()`` do. The
numbers are R's: poly's three-term recurrence from the QR of the centred powers, the splines'
quantile knots (R's type 7) and the natural spline's constraint projection (the QR of the
second derivatives at the boundary knots); R 4.2's values for the tests are in
tests/reference/r_bases.json.

The B-spline basis itself is scipy's (``BSpline``); beyond the boundary knots it is extended as
R extends it: by the Taylor polynomial of the boundary piece (bs), or linearly (ns). Of the
maintained Python libraries, formulaic builds poly and bs and patsy bs, each tied to its own
formula machinery; neither builds ns, so the three are built here on one B-spline library.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Iterator

import numpy as np

# formula.py renames R's calls to these before formulae reads the formula: formulae's own
# poly() and bs() (not R's) come first in its namespace, ahead of anything mixfit adds.
CALLEES = {"poly": "R_poly", "ns": "R_ns", "bs": "R_bs"}
# Each call's arguments after x, in R's order, as R names them.
ARGUMENTS = {
    "poly": ("degree", "raw"),
    "ns": ("df", "knots", "intercept", "Boundary.knots"),
    "bs": ("df", "knots", "degree", "intercept", "Boundary.knots"),
}

# A basis of more columns is a mistake (and would fill the memory before any check on columns).
MAX_COLUMNS = 1_000

# While formulae_state builds a matrix from new rows, the state comes from the fitted data
# (restored right after), so the transforms must not learn from, or refuse, those rows.
_provisional = contextvars.ContextVar("provisional", default=False)


@contextlib.contextmanager
def provisional() -> Iterator[None]:
    """Transforms called in this context keep placeholder state of the right shape."""
    token = _provisional.set(True)
    try:
        yield
    finally:
        _provisional.reset(token)


def c(*values) -> np.ndarray:
    """R's c() of numbers, for knots = c(3, 6)."""
    return np.array([float(v) for v in values], dtype=float)


class Poly:
    """``poly(x, degree = 1, raw = FALSE)``: orthogonal polynomials of x, or its raw powers."""

    __stateful_transform__ = True

    def __init__(self) -> None:
        self.params_set = False
        self.degree = 1
        self.raw = False
        self.alpha: list[float] = []
        self.norm2: list[float] = []

    def __call__(self, x, degree=1, raw=False) -> np.ndarray:
        x = _numbers(x, "poly")
        if not self.params_set:
            self.degree = _whole(degree, "poly", "degree", at_least=1)
            self.raw = _flag(raw, "poly", "raw")
            if _provisional.get():
                return np.zeros((len(x), self.degree))
            if not self.raw:
                self.alpha, self.norm2 = _poly_coefs(x, self.degree)
            self.params_set = True
        _check_saved("poly", [self.degree, len(self.alpha), len(self.norm2)])
        if self.raw:
            return np.column_stack([x**k for k in range(1, self.degree + 1)])
        return _poly_eval(x, self.alpha, self.norm2)


def _poly_coefs(x: np.ndarray, degree: int) -> tuple[list[float], list[float]]:
    """R's alpha and norm2 (stats::poly): the QR of the centred powers 1, x, ..., x^degree;
    column j of Q times R's j-th diagonal is the part of x^j orthogonal to the lower powers,
    whatever the signs the factorisation chose."""
    if degree >= len(np.unique(x)):
        raise ValueError(
            f"poly(): 'degree' must be less than number of unique points (degree {degree}, "
            f"{len(np.unique(x))} unique values)"
        )
    mean = float(np.mean(x))
    centred = x - mean
    powers = np.column_stack([centred**k for k in range(degree + 1)])
    q, r = np.linalg.qr(powers)
    z = q * np.diag(r)
    norm2 = np.sum(z**2, axis=0)
    if not np.all(np.isfinite(norm2)) or np.any(norm2 <= 0):
        raise ValueError(f"poly(): the powers of x up to {degree} can't be made orthogonal")
    alpha = (np.sum(centred[:, None] * z**2, axis=0) / norm2 + mean)[:degree]
    return [float(a) for a in alpha], [1.0] + [float(n) for n in norm2]


def _poly_eval(x: np.ndarray, alpha: list[float], norm2: list[float]) -> np.ndarray:
    """R's predict.poly: the three-term recurrence from alpha and norm2, normalised."""
    degree = len(alpha)
    z = np.ones((len(x), degree + 1))
    z[:, 1] = x - alpha[0]
    for i in range(1, degree):
        z[:, i + 1] = (x - alpha[i]) * z[:, i] - (norm2[i + 1] / norm2[i]) * z[:, i - 1]
    return z[:, 1:] / np.sqrt(np.asarray(norm2[2:]))


class _Spline:
    """What ns() and bs() share: knots from df at quantiles of x, boundary knots at its range."""

    __stateful_transform__ = True
    name = ""

    def __init__(self) -> None:
        self.params_set = False
        self.degree = 3
        self.intercept = False
        self.knots: list[float] = []
        self.boundary_knots: list[float] = []

    def _columns(self, x, df, knots, boundary, fixed: int) -> np.ndarray | None:
        """Learn the knots from x (``fixed``: the columns df counts beyond the interior
        knots); provisionally, only the basis's shape: zeros."""
        if knots is not None:
            interior = sorted(_vector(knots, self.name, "knots"))
            count = len(interior)
        elif df is not None:
            interior, count = [], _whole(df, self.name, "df", at_least=fixed) - fixed
        else:
            interior, count = [], 0
        if _provisional.get():
            return np.zeros((len(x), count + fixed))
        if boundary is None:
            boundary = [float(np.min(x)), float(np.max(x))]
        else:
            boundary = sorted(_vector(boundary, self.name, "Boundary.knots"))
            if len(boundary) != 2:
                raise ValueError(f"{self.name}(): 'Boundary.knots' takes two numbers")
        if knots is None and count:
            probs = np.linspace(0, 1, count + 2)[1:-1]
            interior = _quantile7(x[(x >= boundary[0]) & (x <= boundary[1])], probs)
        _check_knots(self.name, interior, boundary)
        self.knots, self.boundary_knots = interior, boundary
        self.params_set = True
        return None

    def _all_knots(self) -> np.ndarray:
        order = self.degree + 1
        return np.sort(np.concatenate([np.repeat(self.boundary_knots, order), self.knots]))

    def _basis(self, x, derivative: int = 0) -> np.ndarray:
        """The whole B-spline basis at x (a spline per column of the identity), or a derivative."""
        # imported here: scipy.interpolate takes a quarter of a second, for the models with splines
        from scipy.interpolate import BSpline as _ScipyBSpline

        knots = self._all_knots()
        count = len(knots) - self.degree - 1
        spline = _ScipyBSpline(knots, np.eye(count), self.degree, extrapolate=True)
        return spline(np.asarray(x, dtype=float), nu=derivative)


class NaturalSpline(_Spline):
    """``ns(x, df = NULL, knots = NULL, intercept = FALSE, Boundary.knots = range(x))``:
    cubic splines linear beyond the boundary knots; df = interior knots + 1 + intercept."""

    name = "ns"

    def __call__(self, x, df=None, knots=None, intercept=False, Boundary_knots=None):
        x = _numbers(x, "ns")
        if not self.params_set:
            self.intercept = _flag(intercept, "ns", "intercept")
            placeholder = self._columns(x, df, knots, Boundary_knots, 1 + self.intercept)
            if placeholder is not None:
                return placeholder
        _check_saved("ns", [self.degree, len(self.knots), len(self.boundary_knots)])
        basis = self._basis(x)
        for edge, beyond in (
            (self.boundary_knots[0], x < self.boundary_knots[0]),
            (self.boundary_knots[1], x > self.boundary_knots[1]),
        ):
            if beyond.any():
                basis[beyond] = self._basis(edge) + np.outer(x[beyond] - edge, self._basis(edge, 1))
        constraint = self._basis(self.boundary_knots, 2)
        if not self.intercept:
            basis, constraint = basis[:, 1:], constraint[:, 1:]
        # R: the basis projected on the complement of the second derivatives at the boundary
        # (qr.qty of their QR, first two rows dropped); Householder's Q is R's too
        q, _ = np.linalg.qr(constraint.T, mode="complete")
        return (basis @ q)[:, 2:]


class BSpline(_Spline):
    """``bs(x, df = NULL, knots = NULL, degree = 3, intercept = FALSE, Boundary.knots =
    range(x))``: B-splines of a degree; df = interior knots + degree + intercept."""

    name = "bs"

    def __call__(
        self, x, df=None, knots=None, degree=3, intercept=False, Boundary_knots=None
    ) -> np.ndarray:
        x = _numbers(x, "bs")
        if not self.params_set:
            self.degree = _whole(degree, "bs", "degree", at_least=1)
            self.intercept = _flag(intercept, "bs", "intercept")
            placeholder = self._columns(x, df, knots, Boundary_knots, self.degree + self.intercept)
            if placeholder is not None:
                return placeholder
        _check_saved("bs", [self.degree, len(self.knots), len(self.boundary_knots)])
        basis = self._basis(x)
        knots, order = self._all_knots(), self.degree + 1
        lower, upper = self.boundary_knots
        # R: beyond a boundary knot, the Taylor polynomial of the basis at a point a quarter
        # of the way into the boundary piece (a tied knot can make the piece at the knot empty)
        for beyond, pivot in (
            (x < lower, 0.75 * lower + 0.25 * knots[order]),
            (x > upper, 0.75 * upper + 0.25 * knots[-order - 1]),
        ):
            if beyond.any():
                powers = np.arange(order)
                taylor = (x[beyond, None] - pivot) ** powers / np.array(
                    [math.factorial(k) for k in powers]
                )
                basis[beyond] = taylor @ np.array([self._basis(pivot, k) for k in powers])
        return basis if self.intercept else basis[:, 1:]


def _check_knots(name: str, interior: list[float], boundary: list[float]) -> None:
    if not all(math.isfinite(v) for v in interior + boundary):
        raise ValueError(f"{name}(): the knots must be finite numbers")
    if boundary[0] == boundary[1]:
        raise ValueError(
            f"{name}(): its variable takes one value ({boundary[0]:g}): a spline needs a range "
            "(or two different Boundary.knots)"
        )
    outside = [k for k in interior if not boundary[0] <= k <= boundary[1]]
    if outside:
        raise ValueError(
            f"{name}(): the knot {outside[0]:g} is not inside the boundary knots "
            f"({boundary[0]:g}, {boundary[1]:g})"
        )


# What formulae may call for them (design.py's NAMESPACE).
NAMESPACE = {
    CALLEES["poly"]: Poly,
    CALLEES["ns"]: NaturalSpline,
    CALLEES["bs"]: BSpline,
    "c": c,
}


def _quantile7(x: np.ndarray, probs: np.ndarray) -> list[float]:
    """R's quantile(x, probs) (type 7), in R's arithmetic, so that knots match R's to the bit."""
    ordered = np.sort(x)
    n = len(ordered)
    if n == 0:
        raise ValueError("no values of x lie inside the boundary knots")
    out = []
    for p in probs:
        index = 1 + (n - 1) * p  # R's 1-based position, in R's order of operations
        lo, hi = math.floor(index), math.ceil(index)
        value = ordered[lo - 1]
        if index > lo and ordered[hi - 1] != value:
            h = index - lo
            value = (1 - h) * value + h * ordered[hi - 1]
        out.append(float(value))
    return out


def _numbers(x, name: str) -> np.ndarray:
    try:
        values = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name}() needs a numeric variable, not a categorical one") from None
    if values.ndim != 1:
        raise ValueError(f"{name}() takes one variable")
    return values


def _whole(value, name: str, argument: str, at_least: int) -> int:
    number = _scalar(value, name, argument)
    if not float(number).is_integer() or not at_least <= number <= MAX_COLUMNS:
        raise ValueError(
            f"{name}(): '{argument}' must be a whole number from {at_least} to {MAX_COLUMNS:,}, "
            f"not {number:g}"
        )
    return int(number)


def _check_saved(name: str, sizes: list[int]) -> None:
    """State restored from a results folder's design.json, which may have been edited."""
    if any(not isinstance(size, int) or not 0 <= size <= MAX_COLUMNS + 2 for size in sizes):
        raise ValueError(f"the saved state of {name}() is not one mixfit writes")


def _flag(value, name: str, argument: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}(): '{argument}' takes TRUE or FALSE")
    return bool(value)


def _scalar(value, name: str, argument: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{name}(): '{argument}' takes a number")
    return float(value)


def _vector(value, name: str, argument: str) -> list[float]:
    values = np.atleast_1d(np.asarray(value, dtype=object))
    if values.ndim != 1 or not all(
        isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_))
        for v in values
    ):
        raise ValueError(f"{name}(): '{argument}' takes numbers, as in c(3, 6)")
    return [float(v) for v in values]

"""Smooth terms' Stan data as brms builds it: mgcv's `smoothCon(absorb.cons = TRUE,
diagonal.penalty = TRUE)` and then `smooth2random(type = 2)` (brms's `data_sm`, R/data-predictor.R).

For one term, `s(x)`, `s(x, bs = "cr", k = 5)`, `s(x, by = f)` or `t2(x, z)`, `build_smooth` returns
one `SmoothPart` per smooth (one per level of a `by` factor): `Xs`, its unpenalised columns (they
join the population-level effects, named like brms's `sTime_1`), and its penalised blocks `Zs`
(brms's `Zs_<i>_<j>`, one SD `sds_<i>_<j>` each; iid standard normal coefficients times the SD),
with the JSON-able `state` that evaluates new covariate values on the same basis
(`evaluate_smooth`). `load_smooth_state` checks such a state read back from a file.

The steps, as mgcv takes them:
1. the basis (`smooth.construct`): model matrix X and penalty S (tprs_basis, cubic_basis, t2_basis);
2. the sum-to-zero constraint C = colMeans(X) (t2: on its null space only);
3. each penalty divided by ||S||_1 / ||X||_inf^2 (`scale.penalty`);
4. a `by` factor: X times each level's indicator, one smooth per level;
5. the constraint absorbed: X Z, Z an orthonormal basis of C's null space (QR);
6. a single penalty made diagonal (`nat.param` type 2): the penalised columns scaled to an identity
   penalty, the null space columns to the penalised columns' average norm;
7. `smooth2random`: penalised columns -> Zs (scaled by 1/sqrt of the penalty), the rest -> Xs.
Every step after the basis is a linear map of its columns, so the state keeps their product.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import scipy.linalg as sla

from mixfit.errors import InputError
from mixfit.model.terms import cubic_basis, t2_basis, tprs_basis

BASES = ("tp", "cr", "cs", "cc")
STATE_TYPE = "mgcv_smooth"
STATE_VERSION = 1
T2_DEFAULT_K = 5  # mgcv's t2: k = 5^d per margin
T2_DEFAULT_BS = "cr"
S_DEFAULT_BS = "tp"


@dataclass(frozen=True)
class SmoothSpec:
    """One smooth term as written: `s(Time)`, `s(x, z, bs = "tp", k = 20)`, `t2(x, z, k = 4)`.

    For `s`, `bs` and `k` have one entry (a multi-covariate `s` must be "tp"); for `t2`, one entry
    per covariate (a single entry is repeated). `bs = None` and `k = None` are mgcv's defaults:
    "tp" with k = M + 8 (27, 100 in 2, 3 dimensions) for `s`, "cr" with k = 5 per margin for `t2`."""

    covariates: tuple[str, ...]
    term: str = "s"  # "s" or "t2"
    bs: tuple[str, ...] | None = None
    k: tuple[int | None, ...] = (None,)
    by: str | None = None


@dataclass
class SmoothPart:
    """One smooth's Stan data: mgcv's label (`s(Time):DietD1`), brms's label (`sTimeDietD1`),
    the unpenalised columns and their brms names, and the penalised blocks."""

    label: str
    brms_label: str
    by_level: str | None
    Xs: np.ndarray
    xs_names: list[str]
    Zs: list[np.ndarray]


@dataclass
class SmoothBasis:
    parts: list[SmoothPart]
    state: dict = field(repr=False)


# --- the basis ---------------------------------------------------------------------------------


@dataclass
class _RawBasis:
    X: np.ndarray
    S: list[np.ndarray]
    rank: int  # of the single penalty (t2: unused)
    C: np.ndarray | int | None  # the identifiability constraint (mgcv's object$C)
    state: dict


def _column(data: Mapping[str, Any], name: str, label: str) -> np.ndarray:
    if name not in data:
        raise InputError(f"{label}: no column '{name}' in the data")
    values = np.asarray(data[name])
    if values.dtype.kind not in "iuf":
        raise InputError(f"{label}: '{name}' is not numeric (a smooth needs a numeric covariate)")
    values = values.astype(float)
    if not np.all(np.isfinite(values)):
        raise InputError(f"{label}: '{name}' has missing or infinite values")
    return values


def _covariate_matrix(data: Mapping[str, Any], names: Sequence[str], label: str) -> np.ndarray:
    return np.column_stack([_column(data, name, label) for name in names])


def _construct_marginal(bs: str, x: np.ndarray, k: int | None) -> tuple[Any, dict]:
    """One basis of the covariate matrix x (mgcv's `smooth.construct`), as a tprs or cubic basis."""
    if bs == "tp":
        basis = tprs_basis.construct_tprs(x, k)
    elif x.shape[1] != 1:
        raise InputError(f'bs = "{bs}" takes one covariate; a smooth of several needs bs = "tp"')
    elif bs in ("cr", "cs"):
        basis = cubic_basis.construct_cr(x[:, 0], k, shrink=bs == "cs")
    elif bs == "cc":
        basis = cubic_basis.construct_cc(x[:, 0], k)
    else:
        raise InputError(f'unknown smooth basis bs = "{bs}" (one of {", ".join(BASES)})')
    return basis, {"bs": bs, **basis.state}


def _predict_marginal(state: dict, x: np.ndarray) -> np.ndarray:
    if state["bs"] == "tp":
        return tprs_basis.predict_tprs(state, x)
    if state["bs"] == "cc":
        return cubic_basis.predict_cc(state, x[:, 0])
    return cubic_basis.predict_cr(state, x[:, 0])


def _construct_s(spec: SmoothSpec, data: Mapping[str, Any], label: str) -> _RawBasis:
    x = _covariate_matrix(data, spec.covariates, label)
    basis, state = _construct_marginal(spec.bs[0], x, spec.k[0])
    C = basis.X.mean(axis=0)[None, :]
    return _RawBasis(X=basis.X, S=[basis.S], rank=basis.rank, C=C, state=state)


def _t2_margin_specs(spec: SmoothSpec) -> list[tuple[str, int | None]]:
    n = len(spec.covariates)
    bs = spec.bs * n if len(spec.bs) == 1 else spec.bs
    k = spec.k * n if len(spec.k) == 1 else spec.k
    if len(bs) != n or len(k) != n:
        raise InputError("t2(): give one bs and k, or one per covariate")
    return [(b, T2_DEFAULT_K if kk is None else kk) for b, kk in zip(bs, k, strict=True)]


def _construct_t2(spec: SmoothSpec, data: Mapping[str, Any], label: str) -> _RawBasis:
    margins, states = [], []
    for name, (bs, k) in zip(spec.covariates, _t2_margin_specs(spec), strict=True):
        basis, state = _construct_marginal(bs, _covariate_matrix(data, [name], label), k)
        natural = t2_basis.nat_param(
            basis.X, basis.S, basis.rank, constant_last=True, unit_fnorm=True
        )
        margins.append(natural)
        states.append(
            {"covariates": [name], "basis": state, "P": natural.P.tolist(), "rank": basis.rank}
        )
    X, sub_cols = t2_basis.t2_model_matrix([m.X for m in margins], [m.rank for m in margins])
    state = {"bs": "t2", "margins": states}
    return _RawBasis(
        X=X,
        S=t2_basis.t2_penalties(sub_cols, X.shape[1]),
        rank=sum(sub_cols),
        C=t2_basis.t2_constraint(X, sub_cols),
        state=state,
    )


def raw_model_matrix(
    basis_state: dict, data: Mapping[str, Any], covariates: Sequence[str]
) -> np.ndarray:
    """The basis (before constraint and reparameterisation) at new data: mgcv's `Predict.matrix`."""
    if basis_state["bs"] != "t2":
        return _predict_marginal(basis_state, _covariate_matrix(data, covariates, "smooth"))
    margins, ranks = [], []
    for margin in basis_state["margins"]:
        x = _covariate_matrix(data, margin["covariates"], "smooth")
        margins.append(_predict_marginal(margin["basis"], x) @ np.asarray(margin["P"], float))
        ranks.append(int(margin["rank"]))
    return t2_basis.t2_model_matrix(margins, ranks)[0]


# --- smoothCon ---------------------------------------------------------------------------------


def _penalty_scales(X: np.ndarray, S: list[np.ndarray]) -> list[float]:
    """smoothCon's `scale.penalty`: S is divided by ||S||_1 / ||X||_inf^2 (maS, mgcv's S.scale)."""
    size_x = np.max(np.sum(np.abs(X), axis=1)) ** 2
    return [float(np.max(np.sum(np.abs(s), axis=0)) / size_x) for s in S]


def constraint_null_space(C: np.ndarray | int | None, p: int) -> np.ndarray:
    """The p x q map Z with X Z the constrained model matrix, as smoothCon absorbs C: none; an int,
    the (1-based) coefficient set to zero; or a matrix, whose null space Z spans (by QR, leaving the
    columns C doesn't involve as they are, as mgcv does)."""
    if C is None:
        return np.eye(p)
    if isinstance(C, int):
        return np.delete(np.eye(p), C - 1, axis=1)
    j = C.shape[0]
    involved = np.flatnonzero(C.sum(axis=0) != 0)
    if len(involved) == p:
        Q = np.linalg.qr(C.T, mode="complete")[0]
        return Q[:, j:]
    Q = np.linalg.qr(C[:, involved].T, mode="complete")[0]
    nz = len(involved) - j
    Z = np.eye(p)
    Z[:, involved[:nz]] = 0.0
    Z[np.ix_(involved, involved[:nz])] = Q[:, j:]
    return np.delete(Z, involved[nz:], axis=1)


def _by_indicators(
    data: Mapping[str, Any], by: str | None, levels: Sequence[str] | None, ordered: bool, label: str
) -> list[tuple[str | None, np.ndarray | None]]:
    """(level, 0/1 indicator) for each smooth of a `by` factor, as mgcv: all levels, or all but
    the first for an ordered factor; [(None, None)] without `by`."""
    if by is None:
        return [(None, None)]
    if by not in data:
        raise InputError(f"{label}: no column '{by}' (its by variable) in the data")
    values = np.asarray(data[by]).astype(str)
    if np.asarray(data[by]).dtype.kind in "iuf" and levels is None:
        raise InputError(f"{label}: by = {by} must be a factor (a text column, or --factor {by})")
    levels = sorted(set(values.tolist())) if levels is None else list(levels)
    if ordered and len(levels) > 1:
        levels = levels[1:]
    return [(level, (values == level).astype(float)) for level in levels]


def _diagonal_penalty(X: np.ndarray, S: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """smoothCon's `diagonal.penalty`: (P, the new penalty) with P of nat.param type 2 (unit.fnorm
    = FALSE) found from the first smooth's X, the penalty then diag(1, ..., 1, 0, ...); nothing
    changes when S is already S11 on `rank` diagonal entries and zero elsewhere."""
    p = S.shape[0]
    target = np.diag(np.r_[np.full(rank, S[0, 0]), np.zeros(p - rank)])
    if np.max(np.abs(S - target)) <= abs(S[0, 0]) * np.finfo(float).eps ** 0.8:
        return np.eye(p), S
    P = t2_basis.nat_param(X, S, rank, constant_last=False, unit_fnorm=False).P
    return P, np.diag(np.r_[np.ones(rank), np.zeros(p - rank)])


def _smooth2random(S: np.ndarray, rank: int) -> tuple[np.ndarray, list[list[int]], list[int]]:
    """smooth2random for a single penalty: U D (columns reordered by R's eigen of S, scaled by
    1/sqrt of its eigenvalues), the penalised block's columns, the fixed columns."""
    values, U = sla.eigh(S, driver="evr")
    values, U = values[::-1], U[:, ::-1]
    if U[0, 0] < 0:  # mgcv's own sign convention for this step
        U = -U
    p = S.shape[0]
    rank = min(rank, p)
    D = np.ones(p)
    D[:rank] = 1 / np.sqrt(values[:rank])
    return U * D, [list(range(rank))] if rank else [], list(range(rank, p))


def _smooth2random_t2(S: list[np.ndarray]) -> tuple[np.ndarray, list[list[int]], list[int]]:
    """smooth2random.t2.smooth: each penalty's columns scaled by 1/sqrt of its diagonal."""
    p = S[0].shape[0]
    scale = np.ones(p)
    blocks = []
    for s in S:
        cols = np.flatnonzero(np.diag(s) != 0)
        scale[cols] = 1 / np.sqrt(np.diag(s)[cols])
        blocks.append(cols.tolist())
    penalised = {c for b in blocks for c in b}
    return np.diag(scale), blocks, [c for c in range(p) if c not in penalised]


def _labels(spec: SmoothSpec, level: str | None) -> tuple[str, str]:
    """mgcv's label (`s(Time)`, `s(Time):DietD1`) and brms's (`sTime`, `sTimeDietD1`)."""
    label = f"{spec.term}({','.join(spec.covariates)})"
    names = list(spec.covariates) + ([spec.by] if spec.by else [])
    brms = spec.term + brms_rename("".join(names))
    if level is None:
        return label, brms
    return f"{label}:{spec.by}{level}", brms + brms_rename(level.replace(" ", ""))


def brms_rename(name: str) -> str:
    """brms's `rename()`: the characters brms drops or spells out in parameter names."""
    for pattern, replacement in (
        *((c, "") for c in " ()[],\"'?"),
        ("+", "P"),
        ("-", "M"),
        ("*", "MU"),
        ("/", "D"),
        ("^", "E"),
        ("=", "EQ"),
    ):
        name = name.replace(pattern, replacement)
    return name


def _check_spec(spec: SmoothSpec) -> SmoothSpec:
    """The spec with mgcv's default basis filled in, after checking what it names."""
    if spec.term not in ("s", "t2"):
        raise InputError(f"unknown smooth term {spec.term}()")
    if not spec.covariates or len(set(spec.covariates)) != len(spec.covariates):
        raise InputError(f"{spec.term}(): give distinct covariates")
    if spec.bs is None:
        default = S_DEFAULT_BS if spec.term == "s" else T2_DEFAULT_BS
        spec = replace(spec, bs=(default,))
    for bs in spec.bs:
        if bs not in BASES:
            raise InputError(f'unknown smooth basis bs = "{bs}" (one of {", ".join(BASES)})')
    if spec.term == "s" and (len(spec.bs) != 1 or len(spec.k) != 1):
        raise InputError("s(): give one bs and one k")
    for k in spec.k:
        if k is not None and (not isinstance(k, int) or k < 1):
            raise InputError(f"{spec.term}(): k must be a positive whole number, not {k}")
    return spec


def build_smooth(
    spec: SmoothSpec,
    data: Mapping[str, Any],
    by_levels: Sequence[str] | None = None,
    by_ordered: bool = False,
) -> SmoothBasis:
    """The Stan data of one smooth term from its data columns (brms's data_sm), and the state that
    rebuilds it for new data. `by_levels`: the by factor's levels in order (default: sorted)."""
    spec = _check_spec(spec)
    label = f"{spec.term}({', '.join(spec.covariates)})"
    try:
        raw = (
            _construct_t2(spec, data, label)
            if spec.term == "t2"
            else _construct_s(spec, data, label)
        )
    except (tprs_basis.TprsError, cubic_basis.CubicError) as err:
        raise InputError(f"{label}: {err}") from None
    scales = _penalty_scales(raw.X, raw.S)
    S = [s / scale for s, scale in zip(raw.S, scales, strict=True)]
    Z = constraint_null_space(raw.C, raw.X.shape[1])
    S = [Z.T @ s @ Z for s in S]
    levels = _by_indicators(data, spec.by, by_levels, by_ordered, label)
    if spec.term == "t2":
        transform, blocks, fixed = _t2_transform(Z, S)
    else:
        first = raw.X @ Z if levels[0][1] is None else levels[0][1][:, None] * (raw.X @ Z)
        transform, blocks, fixed = _s_transform(Z, S[0], raw.rank, first)
    state = {
        "type": STATE_TYPE,
        "version": STATE_VERSION,
        "term": spec.term,
        "covariates": list(spec.covariates),
        "by": None
        if spec.by is None
        else {"variable": spec.by, "levels": [lv for lv, _ in levels], "ordered": by_ordered},
        "basis": raw.state,
        "transform": transform.tolist(),
        "blocks": blocks,
        "fixed": fixed,
    }
    return SmoothBasis(parts=_parts(state, spec, raw.X, levels), state=state)


def _s_transform(
    Z: np.ndarray, S: np.ndarray, rank: int, first_X: np.ndarray
) -> tuple[np.ndarray, list[list[int]], list[int]]:
    rank = min(rank, Z.shape[1])
    P, S_diagonal = _diagonal_penalty(first_X, S, rank)
    UD, blocks, fixed = _smooth2random(S_diagonal, rank)
    return Z @ P @ UD, blocks, fixed


def _t2_transform(
    Z: np.ndarray, S: list[np.ndarray]
) -> tuple[np.ndarray, list[list[int]], list[int]]:
    scale, blocks, fixed = _smooth2random_t2(S)
    return Z @ scale, blocks, fixed


def _parts(
    state: dict, spec: SmoothSpec, X: np.ndarray, levels: list[tuple[str | None, np.ndarray | None]]
) -> list[SmoothPart]:
    base = X @ np.asarray(state["transform"], float)
    parts = []
    for level, indicator in levels:
        Xt = base if indicator is None else indicator[:, None] * base
        label, brms_label = _labels(spec, level)
        fixed = Xt[:, state["fixed"]]
        parts.append(
            SmoothPart(
                label=label,
                brms_label=brms_label,
                by_level=level,
                Xs=fixed,
                xs_names=[brms_rename(f"{label}_{i + 1}") for i in range(fixed.shape[1])],
                Zs=[Xt[:, cols] for cols in state["blocks"]],
            )
        )
    return parts


def evaluate_smooth(state: dict, data: Mapping[str, Any]) -> list[SmoothPart]:
    """The term's Stan data at new rows, on the fitted basis (mgcv's PredictMat then the fitted
    reparameterisation). `state` as `build_smooth` made it, or checked by `load_smooth_state`."""
    spec = SmoothSpec(
        covariates=tuple(state["covariates"]),
        term=state["term"],
        by=None if state["by"] is None else state["by"]["variable"],
    )
    X = raw_model_matrix(state["basis"], data, spec.covariates)
    if state["by"] is None:
        levels: list[tuple[str | None, np.ndarray | None]] = [(None, None)]
    else:
        variable = state["by"]["variable"]
        if variable not in data:
            raise InputError(f"no column '{variable}' (a smooth's by variable) in the new data")
        values = np.asarray(data[variable]).astype(str)
        levels = [(lv, (values == lv).astype(float)) for lv in state["by"]["levels"]]
    return _parts(state, spec, X, levels)


def stan_data(parts: Sequence[SmoothPart], first: int, prefix: str = "") -> dict[str, Any]:
    """brms's per-smooth Stan data for consecutive smooth numbers from `first`: `nb_<i>`,
    `knots_<i>` and `Zs_<i>_<j>` (prefix as brms's, e.g. "_sigma"). Xs columns are the caller's
    to join across terms (brms's `Xs`, `Ks`)."""
    out: dict[str, Any] = {}
    for offset, part in enumerate(parts):
        i = f"{prefix}_{first + offset}"
        out[f"nb{i}"] = len(part.Zs)
        out[f"knots{i}"] = [int(z.shape[1]) for z in part.Zs]
        for j, z in enumerate(part.Zs, start=1):
            out[f"Zs{i}_{j}"] = z
    return out


# --- the state read back from a file -----------------------------------------------------------


class _Checker:
    """Type and shape checks of an untrusted state, each failure one InputError line."""

    def __init__(self, where: str):
        self.where = where

    def fail(self, what: str) -> None:
        raise InputError(f"{self.where}: {what}")

    def mapping(self, obj: Any, keys: Sequence[str], name: str) -> dict:
        if not isinstance(obj, dict):
            self.fail(f"{name} is not an object")
        missing = [k for k in keys if k not in obj]
        if missing:
            self.fail(f"{name} lacks {', '.join(missing)}")
        return obj

    def integer(self, obj: Any, name: str, low: int = 0, high: int = 10**6) -> int:
        if isinstance(obj, bool) or not isinstance(obj, int) or not low <= obj <= high:
            self.fail(f"{name} is not a whole number in [{low}, {high}]")
        return obj

    def strings(self, obj: Any, name: str) -> list[str]:
        if not isinstance(obj, list) or not obj or not all(isinstance(s, str) for s in obj):
            self.fail(f"{name} is not a list of names")
        return obj

    def matrix(
        self, obj: Any, name: str, rows: int | None = None, cols: int | None = None
    ) -> np.ndarray:
        try:
            arr = np.asarray(obj, dtype=float)
        except (TypeError, ValueError):
            arr = None
        if arr is None or arr.ndim != 2 or not np.all(np.isfinite(arr)):
            self.fail(f"{name} is not a matrix of finite numbers")
        if (rows is not None and arr.shape[0] != rows) or (
            cols is not None and arr.shape[1] != cols
        ):
            self.fail(f"{name} has shape {arr.shape}, not ({rows}, {cols})")
        return arr

    def vector(self, obj: Any, name: str, length: int | None = None) -> np.ndarray:
        arr = self.matrix([obj] if isinstance(obj, list) else obj, name)[0]
        if length is not None and len(arr) != length:
            self.fail(f"{name} has {len(arr)} values, not {length}")
        return arr

    def increasing(self, arr: np.ndarray, name: str) -> None:
        if len(arr) < 2 or not np.all(np.diff(arr) > 0):
            self.fail(f"{name} is not an increasing sequence")


def _check_marginal(check: _Checker, basis: Any, d: int, name: str) -> int:
    """Check one marginal basis state; return its number of columns."""
    basis = check.mapping(basis, ["bs"], name)
    bs = basis["bs"]
    if bs == "tp":
        check.mapping(basis, ["m", "k", "shift", "Xu", "UZ"], name)
        k = check.integer(basis["k"], f"{name}.k", 1)
        check.integer(basis["m"], f"{name}.m", 0, 10)
        check.vector(basis["shift"], f"{name}.shift", d)
        xu = check.matrix(basis["Xu"], f"{name}.Xu", cols=d)
        M, _ = tprs_basis.null_space_dimension(d, basis["m"])
        check.matrix(basis["UZ"], f"{name}.UZ", len(xu) + M, k)
        return k
    if d != 1:
        check.fail(f"{name}: bs {bs} takes one covariate")
    if bs in ("cr", "cs"):
        check.mapping(basis, ["knots", "F"], name)
        knots = check.vector(basis["knots"], f"{name}.knots")
        check.increasing(knots, f"{name}.knots")
        check.matrix(basis["F"], f"{name}.F", len(knots), len(knots))
        return len(knots)
    if bs == "cc":
        check.mapping(basis, ["knots", "BD"], name)
        knots = check.vector(basis["knots"], f"{name}.knots")
        check.increasing(knots, f"{name}.knots")
        check.matrix(basis["BD"], f"{name}.BD", len(knots) - 1, len(knots) - 1)
        return len(knots) - 1
    check.fail(f"{name}.bs '{bs}' is not one of {', '.join(BASES)}")
    return 0


def _check_basis(check: _Checker, basis: Any, covariates: list[str]) -> int:
    """Check the basis state; return the raw model matrix's number of columns."""
    basis = check.mapping(basis, ["bs"], "basis")
    if basis["bs"] != "t2":
        return _check_marginal(check, basis, len(covariates), "basis")
    margins = check.mapping(basis, ["margins"], "basis")["margins"]
    if not isinstance(margins, list) or len(margins) != len(covariates):
        check.fail("basis.margins is not one entry per covariate")
    width = 1
    for i, margin in enumerate(margins):
        name = f"basis.margins[{i}]"
        margin = check.mapping(margin, ["covariates", "basis", "P", "rank"], name)
        if check.strings(margin["covariates"], f"{name}.covariates") != [covariates[i]]:
            check.fail(f"{name}.covariates does not match the term's")
        p = _check_marginal(check, margin["basis"], 1, f"{name}.basis")
        check.matrix(margin["P"], f"{name}.P", p, p)
        check.integer(margin["rank"], f"{name}.rank", 1, p)
        width *= p
    return width


def load_smooth_state(obj: Any, where: str = "design.json") -> dict:
    """Check a smooth term's state read from a results folder (untrusted: types, shapes, finite
    numbers, known bases; nothing in it is evaluated). Returns it, ready for `evaluate_smooth`."""
    check = _Checker(where)
    state = check.mapping(
        obj,
        ["type", "version", "term", "covariates", "by", "basis", "transform", "blocks", "fixed"],
        "smooth state",
    )
    if state["type"] != STATE_TYPE or state["version"] != STATE_VERSION:
        check.fail(f"smooth state is not a {STATE_TYPE} state of version {STATE_VERSION}")
    if state["term"] not in ("s", "t2"):
        check.fail(f"smooth term '{state['term']}' is not s or t2")
    covariates = check.strings(state["covariates"], "covariates")
    if state["by"] is not None:
        by = check.mapping(state["by"], ["variable", "levels", "ordered"], "by")
        check.strings([by["variable"]], "by.variable")
        check.strings(by["levels"], "by.levels")
        if not isinstance(by["ordered"], bool):
            check.fail("by.ordered is not true or false")
    p = _check_basis(check, state["basis"], covariates)
    transform = check.matrix(state["transform"], "transform", rows=p)
    q = transform.shape[1]
    columns = [state["fixed"], *state["blocks"]] if isinstance(state["blocks"], list) else None
    if columns is None or not all(isinstance(c, list) for c in columns):
        check.fail("blocks and fixed are not lists of column numbers")
    flat = [c for cols in columns for c in cols]
    if sorted(flat) != list(range(q)) or not all(isinstance(c, int) for c in flat):
        check.fail(f"blocks and fixed do not split the {q} columns of transform")
    return state


__all__ = [
    "SmoothBasis",
    "SmoothPart",
    "SmoothSpec",
    "build_smooth",
    "evaluate_smooth",
    "load_smooth_state",
    "stan_data",
]

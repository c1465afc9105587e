"""mgcv's type 2 tensor product smooth `t2(x, z)` (`smooth.construct.t2.smooth.spec`,
`t2.model.matrix`, `Predict.matrix.t2.smooth`), with full = FALSE and no `ord`.

Each margin's basis is reparameterised (mgcv's `nat.param`, type 3) so that its penalty is the
identity on its range space and zero on its null space; the tensor product's columns are then the
row-wise products of every margin's range space (r) or null space (n) parts, one block per
combination (rr, nr, rn, nn for two margins), each penalised by its own identity penalty except the
all-null block, which is unpenalised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla


@dataclass
class NaturalParam:
    X: np.ndarray  # the reparameterised model matrix, penalised columns first
    P: np.ndarray  # X = X_original @ P
    rank: int


def _descending_eigen(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R's eigen(symmetric = TRUE): LAPACK dsyevr, values descending."""
    values, vectors = sla.eigh(A, driver="evr")
    return values[::-1].copy(), vectors[:, ::-1].copy()


def nat_param(
    X: np.ndarray, S: np.ndarray, rank: int, constant_last: bool, unit_fnorm: bool
) -> NaturalParam:
    """mgcv's `nat.param` of type 2 (constant_last=False) or 3: the penalty becomes the identity on
    its first `rank` columns and zero on the rest, the null space columns scaled to the penalised
    columns' average norm; type 3 rotates the null space so that a constant is its last column.

    One departure from mgcv: with unit_fnorm its P has the scaled *columns* (mgcv 1.8-41 to 1.9-3
    scale P's rows), so that X @ P reproduces the returned X exactly, as prediction needs."""
    values, vectors = _descending_eigen(S)
    p = X.shape[1]
    E = np.ones(p)
    E[:rank] = np.sqrt(values[:rank])
    XV = X @ vectors
    col_norm = np.sum(XV**2, axis=0) / E**2
    if rank < p:
        E[rank:] = np.sqrt(col_norm[rank:] / np.mean(col_norm[:rank]))
    P = vectors / E
    Xn = XV / E
    if constant_last and rank < p - 1:
        null = Xn[:, rank:]
        centred = null - null.mean(axis=0)
        _, um = _descending_eigen(centred.T @ centred)
        Xn[:, rank:] = (null @ um)[:, ::-1]
        P[:, rank:] = (P[:, rank:] @ um)[:, ::-1]
    if unit_fnorm:
        for cols in (slice(0, rank), slice(rank, p)):
            if Xn[:, cols].size:
                scale = 1 / np.sqrt(np.mean(Xn[:, cols] ** 2))
                Xn[:, cols] *= scale
                P[:, cols] *= scale
    return NaturalParam(X=Xn, P=P, rank=rank)


def _row_products(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """cbind over the columns j of A of A[, j] * B (t2.model.matrix's products)."""
    return (A[:, :, None] * B[:, None, :]).reshape(A.shape[0], -1)


def t2_model_matrix(margins: list[np.ndarray], ranks: list[int]) -> tuple[np.ndarray, list[int]]:
    """mgcv's `t2.model.matrix(full = FALSE)`: the tensor product model matrix and the number of
    columns of each penalised block (the unpenalised block, if any, comes last)."""
    blocks = [margins[0][:, : ranks[0]]]
    has_null = ranks[0] < margins[0].shape[1]
    if has_null:
        blocks.append(margins[0][:, ranks[0] :])
    for Xm, r in zip(margins[1:], ranks[1:], strict=True):
        range_part, null_part = Xm[:, :r], Xm[:, r:]
        new = [_row_products(block, range_part) for block in blocks]
        if null_part.shape[1]:
            new += [_row_products(block, null_part) for block in blocks]
        else:
            has_null = False
        blocks = new
    sizes = [b.shape[1] for b in blocks]
    penalised = sizes[:-1] if has_null else sizes
    return np.hstack(blocks), penalised


def t2_penalties(sub_cols: list[int], p: int) -> list[np.ndarray]:
    """The t2 penalties: one partial identity per penalised block."""
    out, start = [], 0
    for size in sub_cols:
        d = np.zeros(p)
        d[start : start + size] = 1.0
        out.append(np.diag(d))
        start += size
    return out


def t2_constraint(X: np.ndarray, sub_cols: list[int]) -> np.ndarray | int | None:
    """t2's identifiability constraint, on the unpenalised columns only: None without a null space,
    the (1-based) column to set to zero when it is one column, else a 1 x p sum-to-zero row."""
    n_pen = sum(sub_cols)
    null_dim = X.shape[1] - n_pen
    if null_dim == 0:
        return None
    if null_dim == 1:
        return X.shape[1]
    C = np.zeros((1, X.shape[1]))
    C[0, n_pen:] = X[:, n_pen:].sum(axis=0)
    return C

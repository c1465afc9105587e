"""The data of the gaussian marginal program (stan_templates/gaussian_marginal.stan): the rows'
sufficient statistics, over all rows and per grouping level, instead of the rows.

The program's likelihood needs the rows only through these sums. Summed here they cost numpy a
fraction of a second at N = 500,000, where stanli's interpreter took about 25 s to sum them in
transformed data, and the rows' JSON (for stanli and for standata.json) another 15 s.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from mixfit.model.design import Design


def level_statistics(
    design: Design, X: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per level of the one group-level block: Z'Z (levels, terms, terms), Z'X (levels, terms,
    columns of X) and Z'y (levels, terms)."""
    block = design.blocks[0]
    n, levels = design.n, len(block.levels)
    # the rows-to-levels indicator: each statistic below is one sparse product over the rows
    indicator = sparse.csr_matrix((np.ones(n), (block.J - 1, np.arange(n))), shape=(levels, n))
    Z = block.stan_Z
    terms = Z.shape[1]

    def per_level(products: np.ndarray) -> np.ndarray:
        # sizes written out: with no population-level column (y ~ 0 + (1 | g)) -1 can't be inferred
        return indicator @ products.reshape(n, int(np.prod(products.shape[1:])))

    ZtZ = per_level(Z[:, :, None] * Z[:, None, :]).reshape(levels, terms, terms)
    ZtX = per_level(Z[:, :, None] * X[:, None, :]).reshape(levels, terms, X.shape[1])
    return ZtZ, ZtX, per_level(Z * y[:, None])


def response(design: Design) -> np.ndarray:
    """y less the offset, if any: what the statistics are taken of."""
    y = design.response.values.astype(float)
    return y if design.offset is None else y - design.offset


def stan_data(design: Design, intercept: bool) -> dict:
    """N, K, the block's sizes and the statistics the program declares. With an intercept, the
    statistics are of the predictors centred on their means (means_X, also data, for
    b_Intercept), with a column of ones in front: the design matrix XI the program samples on."""
    block = design.blocks[0]
    X = np.asarray(design.X, dtype=float).reshape(design.n, -1)
    y = response(design)
    data: dict = {"N": design.n, "K": X.shape[1]}
    if intercept:
        means = X.mean(axis=0)
        data["means_X"] = means
        X = np.column_stack([np.ones(design.n), X - means])
    ZtZ, ZtX, Zty = level_statistics(design, X, y)
    return data | {
        "P": X.shape[1],
        "N_1": len(block.levels),
        "M_1": len(block.terms),
        "XtX": X.T @ X,
        "Xty": X.T @ y,
        "yty": float(y @ y),
        "ZtZ": ZtZ,
        "ZtX": ZtX,
        "Zty": Zty,
    }

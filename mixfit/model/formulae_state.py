"""What formulae learns from the data when it builds a design matrix, as JSON, and back.

A design matrix depends on the data it was built from in two ways: the levels of each
categorical term (and so its dummy columns) and the values of stateful transforms (``scale(x)``
keeps x's mean and SD, ``center(x)`` its mean). formulae keeps both in its term objects and uses
them in ``evaluate_new_data``. ``capture`` lists them, one entry per term component in the
formula's order; ``restore`` puts them back into a matrix that formulae built from other data, so
that new rows are coded exactly as the fitted ones were.
"""

from __future__ import annotations

import warnings

import formulae
import numpy as np
import pandas as pd
from formulae.categorical import Treatment

from mixfit.errors import InputError
from mixfit.model import r_syntax, transforms
from mixfit.model.design import NAMESPACE
from mixfit.model.formula_env import empty_environment


def build(rhs: str, frame: pd.DataFrame):
    """formulae's CommonEffectsMatrix of a right-hand side on ``frame`` (None for "0" alone).

    Built from new rows, its levels and transform values are those rows' own until ``restore``
    replaces them; a single row's ``scale(x)`` divides by zero meanwhile, hence the silence.
    """
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return formulae.design_matrices(
            rhs, frame, na_action="error", env=empty_environment(), extra_namespace=NAMESPACE
        ).common


def response(expression: str, frame: pd.DataFrame) -> pd.Series:
    """A response given as an expression (``log(y)``), evaluated on ``frame``."""
    with np.errstate(all="ignore"):
        matrices = formulae.design_matrices(
            f"{expression} ~ 1",
            frame,
            na_action="error",
            env=empty_environment(),
            extra_namespace=NAMESPACE,
        )
    return pd.Series(np.asarray(matrices.response).ravel(), index=frame.index, name=expression)


def evaluate(
    rhs: str, frame: pd.DataFrame, state: list[dict], levels: dict[str, list]
) -> pd.DataFrame | None:
    """The columns of ``rhs`` for new rows, coded with a fitted matrix's ``state``.

    formulae shapes a matrix by the levels it sees, and a factor with one level in an
    interaction has no columns at all; so the matrix is built from the rows plus one row per
    fitted level of each categorical column (``levels``), then evaluated on the rows alone.
    """
    try:
        with transforms.provisional():  # poly(), ns(), bs() learn nothing from these rows
            matrix = build(rhs, _with_every_level(frame, levels))
        if matrix is None:
            return None
        restore(matrix, state)
        with np.errstate(all="ignore"):
            return matrix.evaluate_new_data(frame).as_dataframe()  # in the empty environment
    except Exception as exc:  # noqa: BLE001 - formulae raises many types; the state is a file's
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"design.json's terms {r_syntax.r_spelling(rhs)[:100]!r} can't be applied to the new "
            f"rows: {detail[:200]}"
        ) from None


def _with_every_level(frame: pd.DataFrame, levels: dict[str, list]) -> pd.DataFrame:
    levels = {name: values for name, values in levels.items() if name in frame}
    if not levels:
        return frame
    size = max(len(values) for values in levels.values())
    extra = frame.iloc[[0] * size].reset_index(drop=True)
    for name, values in levels.items():
        cycled = [values[k % len(values)] for k in range(size)]
        column = frame[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            cycled = pd.Categorical(cycled, categories=column.cat.categories)
        extra[name] = cycled
    return pd.concat([frame, extra], ignore_index=True)


def columns_read(matrix) -> list[str]:
    """The data columns a matrix's terms read, in formula order."""
    if matrix is None:
        return []
    names = [name for c in _components(matrix) for name in component_columns(c)]
    return list(dict.fromkeys(names))


def component_columns(component) -> list[str]:
    """The data columns one term component reads (formulae lists a literal as '')."""
    return sorted(name for name in component.var_names if name)


def capture(matrix) -> list[dict]:
    """Per component of each term of a formulae CommonEffectsMatrix: its levels (categorical
    components, else null) and the parameters of its stateful transforms, innermost first."""
    return [
        {
            "levels": plain(component.levels) if component.levels is not None else None,
            "transforms": [plain(vars(t)) for t in _transforms(component)],
        }
        for component in _components(matrix)
    ]


def restore(matrix, state: list[dict]) -> None:
    """Give a matrix built from new data the levels and transform values of the fitted one."""
    components = _components(matrix)
    if len(components) != len(state):
        raise ValueError("the saved design does not match the formula's terms")
    for component, saved in zip(components, state):
        if saved["levels"] is not None:
            component.levels = saved["levels"]
            coding = Treatment()
            component.contrast_matrix = (
                coding.code_with_intercept(saved["levels"])
                if component.spans_intercept
                else coding.code_without_intercept(saved["levels"])
            )
        for transform, values in zip(_transforms(component), saved["transforms"]):
            for key, value in values.items():
                if key.startswith("_") or not hasattr(transform, key):  # read from a file
                    raise ValueError(f"{key!r} is not a value of {type(transform).__name__}")
                setattr(transform, key, value)


def _components(matrix) -> list:
    return [c for term in matrix.terms.values() for c in getattr(term, "components", [])]


def _transforms(component) -> list:
    """The stateful transforms in a component's call tree, innermost first."""
    found: list = []

    def walk(node) -> None:
        for child in list(getattr(node, "args", ())) + list(getattr(node, "kwargs", {}).values()):
            walk(child)
        if getattr(node, "stateful_transform", None) is not None:
            found.append(node.stateful_transform)

    walk(getattr(component, "call", None))
    return found


def plain(value):
    """numpy scalars and containers as JSON's numbers, strings, lists and objects."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value

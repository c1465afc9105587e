"""Monotonic effects ``mo(x)`` of one predictor (brms's ``stan_sp``/``data_sp``).

A monotonic predictor takes the values 0..D (brms's get_mo_values: whole numbers less the fitted
data's minimum, which new data keep; an ordered factor's position among all its levels, counting
from 0, with no minimum taken off). A CSV has no ordered factor: ``--levels "dose=low,mid,high"``
gives a text column's order, and its values are coded by position. D is the largest value of the
fitted data (brms's Jmo), so a top level no row has adds no step. Its effect is
``bsp * mo(simo, x)``, where brms's Stan function ``mo(scale, i) = rows(scale) * sum(scale[1:i])``
(0 for i = 0): the simplex ``simo`` shares the effect of going from 0 to D among the D steps, and
``bsp`` (prior class b, coef ``mox``) is the mean step. The simplex has a Dirichlet prior whose
concentration ``con_simo`` is data (brms's default, dirichlet(1)). brms names the draws
``bsp_mox`` and ``simo_mox1``.

As a linear term in numpy: the effect at x is ``sum_k (bsp * D * simo[k]) * [x >= k]``, so new
rows get the indicator columns ``[x >= k]`` (``columns_at``) and the draws their coefficients
(``coefficient_draws``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mixfit.errors import InputError
from mixfit.model.priors import Slot
from mixfit.model.special_terms import SpecialTerm

TEMPLATE = "terms/monotonic.stan"


@dataclass(frozen=True)
class MonotonicTerm:
    """One ``mo(x)`` as written, with its values at the fitted rows."""

    text: str  # "mo(x)"
    column: str
    minimum: int  # the fitted data's minimum, taken from new data too (brms's attr "min")
    D: int  # the number of steps: max - min of the fitted data
    values: np.ndarray  # the fitted rows' x - minimum, 0..D
    levels: tuple[str, ...] = ()  # an ordered text column's levels, lowest first (minimum 0)

    @property
    def label(self) -> str:
        """brms's name of the term: ``mox`` (rename("mo(x)")), for bsp_mox and simo_mox1."""
        return "mo" + self.column


def columns_of(special: SpecialTerm) -> list[str]:
    """The column a monotonic term reads (before any data is looked at)."""
    special.check_keywords(set())
    if len(special.positional) != 1:
        raise InputError(f"{special.text}: mo() takes one column, e.g. mo(x)")
    return [special.column(special.positional[0])]


def build_terms(
    specials: Sequence[SpecialTerm],
    frame: pd.DataFrame,
    levels: Mapping[str, Sequence[str]] | None = None,
) -> tuple[MonotonicTerm, ...]:
    """Every ``mo()`` of one formula on the fitted rows; a column brms would refuse is one
    InputError. ``levels``: the order of text columns (``--levels "dose=low,mid,high"``)."""
    out = []
    for special in specials:
        (name,) = columns_of(special)
        if name not in frame:
            raise InputError(f"{special.text}: no column '{name}' in the data")
        column = frame[name]
        if levels and name in levels:
            out.append(_ordered_term(special, name, column, tuple(levels[name])))
            continue
        if isinstance(column.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(
            column
        ):
            found = ", ".join(label(v) for v in pd.unique(column)[:5])
            raise InputError(
                f"{special.text}: '{name}' is a text column (or --factor): give its levels' "
                f'order, lowest first, e.g. --levels "{name}=low,mid,high" (its values: '
                f"{found}{', ...' if column.nunique() > 5 else ''}), or code them as whole "
                "numbers 0, 1, 2, ... in the CSV"
            )
        x = column.to_numpy(dtype=float)
        if not np.all(np.isfinite(x)) or np.any(x != np.round(x)):
            raise InputError(
                f"{special.text}: '{name}' has values that are not whole numbers; a monotonic "
                "predictor takes whole numbers (its ordered categories)"
            )
        low, high = int(x.min()), int(x.max())
        if high == low:
            raise InputError(
                f"{special.text}: '{name}' takes one value only ({low}); a monotonic effect "
                "needs at least two"
            )
        out.append(MonotonicTerm(special.text, name, low, high - low, (x - low).astype(int)))
    labels = [t.label for t in out]
    for term in out:
        if labels.count(term.label) > 1:
            raise InputError(f"{term.text}: the formula has it twice")
    return tuple(out)


def _ordered_term(
    special: SpecialTerm, name: str, column: pd.Series, levels: tuple[str, ...]
) -> MonotonicTerm:
    """brms's ordered factor: each value's position among all the levels, from 0; D is the
    largest position the rows take (a top level no row has adds no step)."""
    codes = positions(column, levels, f"{special.text}: '{name}'")
    low, high = int(codes.min()), int(codes.max())
    if high == low:
        raise InputError(
            f"{special.text}: '{name}' takes one value only ({levels[low]!r}); a monotonic "
            "effect needs at least two"
        )
    return MonotonicTerm(special.text, name, 0, high, codes, levels)


def label(value) -> str:
    """A value as the text a level names it by: 2.0 and 2 both read "2"."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def positions(column: pd.Series, levels: Sequence[str], what: str) -> np.ndarray:
    """Each value's position among ``levels`` (0 for the first); a value not among them is one
    InputError naming it."""
    labels = pd.Series(column).astype(object).map(label)
    position = {level: k for k, level in enumerate(levels)}
    unknown = list(dict.fromkeys(v for v in labels if v not in position))
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:5])
        raise InputError(
            f"{what}: {shown} {'are' if len(unknown) > 1 else 'is'} not among its levels "
            f"{', '.join(levels)[:300]} (as --levels gave them)"
        )
    return labels.map(position).to_numpy(dtype=int)


def present(design, predictor) -> bool:
    return bool(getattr(predictor, "monotonic", ()))


def context(design, predictor) -> dict:
    """What the snippet needs: the suffix and each term's number, never data."""
    s = predictor.suffix
    return {
        "s": s,
        "eta": predictor.dpar,
        "of": "" if predictor.dpar == "mu" else f" of {predictor.dpar}",
        "terms": [
            {"i": i, "j": f"{s}_{i}", "text": t.text, "groups": _group_columns(design, t)}
            for i, t in enumerate(predictor.monotonic, start=1)
        ],
    }


def _group_columns(design, term: MonotonicTerm) -> list[dict]:
    """The group-level columns that vary a term's mean step, (mo(x) | g)'s: per block its id and
    the column (from 1), as brms's stan_eta_rsp adds r_1_2[J_1[n]] to bsp[1]."""
    return [
        {"id": block.id, "k": block.terms.index(term.label) + 1}
        for block in getattr(design, "blocks", [])
        if term.label in block.monotonic
    ]


def stan_data(predictor) -> dict:
    """Ksp, Imo, Jmo and each term's Xmo and con_simo, as brms's make_standata."""
    s = predictor.suffix
    terms = predictor.monotonic
    out: dict = {
        f"Ksp{s}": len(terms),
        f"Imo{s}": len(terms),
        f"Jmo{s}": np.array([t.D for t in terms], dtype=int),
    }
    for i, t in enumerate(terms, start=1):
        out[f"Xmo{s}_{i}"] = t.values.astype(int)
        out[f"con_simo{s}_{i}"] = np.ones(t.D)  # brms's default prior, dirichlet(1)
    return out


def shared(p: dict) -> list[tuple[str, str]]:
    """What a reduce_sum slice needs: (Stan type, name) per argument."""
    args = [("vector", f"bsp{p['s']}")]
    for t in p["terms"]:
        args += [("data array[] int", f"Xmo{t['j']}"), ("vector", f"simo{t['j']}")]
    return args


def slots(predictor) -> list[Slot]:
    """Prior slot of bsp: class b, coef ``mox`` as brms's (flat by default). The simplexes'
    Dirichlet priors are data (con_simo), not slots."""
    labels = [(t.label, "") for t in predictor.monotonic]
    return [Slot(f"bsp{predictor.suffix}", "b", None, None, labels, dpar=predictor.dpar)]


def prior_rows(predictor) -> list[dict]:
    """brms's get_prior rows of the simplexes: class simo, coef ``mox1``, dirichlet(1)."""
    dpar = "" if predictor.dpar == "mu" else predictor.dpar
    return [
        {"class": "simo", "coef": f"{t.label}1", "group": "", "dpar": dpar}
        | {"prior": "dirichlet(1)", "source": "default"}
        for t in predictor.monotonic
    ]


# --- brms's names of the draws, and the effects at new rows -------------------------------------


def draw_names(predictor) -> dict[str, list[str]]:
    """Stan's variable -> brms's names: ``bsp`` -> [bsp_mox, ...], ``simo_1`` -> [simo_mox1]."""
    s, prefix = predictor.suffix, predictor.prefix
    out = {f"bsp{s}": [f"bsp_{prefix}{t.label}" for t in predictor.monotonic]}
    for i, t in enumerate(predictor.monotonic, start=1):
        out[f"simo{s}_{i}"] = [f"simo_{prefix}{t.label}1"]
    return out


def describe(predictor) -> list[dict]:
    """design.json's entry per term: its column, the fitted minimum and number of steps, and an
    ordered text column's levels (all of them, lowest first: new rows are coded by them)."""
    return [
        {"text": t.text, "column": t.column, "label": t.label, "min": t.minimum, "steps": t.D}
        | ({"levels": list(t.levels)} if t.levels else {})
        for t in predictor.monotonic
    ]


def check_entries(entries: Sequence[Mapping], where: str) -> None:
    """design.json's monotonic entries (untrusted): labels are brms's of their columns, and an
    ordered column's steps are among its levels, counted from 0."""
    for entry in entries:
        if entry["label"] != "mo" + entry["column"]:
            raise InputError(f"{where}: the monotonic term {entry['text'][:100]!r} is mislabelled")
        levels = entry.get("levels")
        if levels is not None and (entry["min"] != 0 or entry["steps"] >= len(levels)):
            raise InputError(
                f"{where}: the monotonic term {entry['text'][:100]!r} has more steps than levels"
            )


def fitted_levels(entry: Mapping) -> list[str]:
    """An ordered column's levels up to the fitted data's highest: the values it is known at."""
    return list(entry["levels"][: entry["steps"] + 1])


def values_at(entry: Mapping, x, source: str) -> np.ndarray:
    """New rows' x less the fitted minimum: whole numbers within 0..steps, else one InputError;
    an ordered column's values (text) coded by its levels."""
    name = entry["column"]
    if entry.get("levels") is not None:
        codes = positions(x, entry["levels"], f"{source}: '{name}' of {entry['text']}")
        if codes.max(initial=0) > entry["steps"]:
            bad = entry["levels"][int(codes.max())]
            raise InputError(
                f"{source}: '{name}' = {bad!r} is above {entry['levels'][entry['steps']]!r}, the "
                f"highest level of the fitted data of {entry['text']} (a monotonic effect is "
                "known only up to it)"
            )
        return codes
    if not np.all(np.isfinite(x)) or np.any(x != np.round(x)):
        raise InputError(f"{source}: {entry['text']} needs whole numbers in '{name}'")
    low, high = entry["min"], entry["min"] + entry["steps"]
    if x.min() < low or x.max() > high:
        bad = x[(x < low) | (x > high)][0]
        raise InputError(
            f"{source}: '{name}' = {bad:g} is outside the fitted range {low}..{high} of "
            f"{entry['text']} (a monotonic effect is known only there)"
        )
    return (x - low).astype(int)


def columns_at(entries: Sequence[Mapping], data: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    """New rows' indicator columns ``[x >= k]``, k = 1..steps per term, in coefficient_draws'
    order; ``data`` holds each column's values less the fitted minimum."""
    blocks = [
        (data[e["column"]][:, None] >= np.arange(1, e["steps"] + 1)[None, :]).astype(float)
        for e in entries
    ]
    return np.column_stack(blocks) if blocks else np.zeros((n, 0))


def fitted_columns(predictor) -> np.ndarray:
    """The fitted rows' indicator columns, in ``columns_at``'s order."""
    entries = describe(predictor)
    data = {t.column: t.values for t in predictor.monotonic}
    return columns_at(entries, data, len(predictor.X))


def coefficient_draws(entries: Sequence[Mapping], prefix: str, flat) -> list[np.ndarray]:
    """The draws multiplying ``columns_at``'s columns: ``bsp * D * simo[k]`` per step k.
    ``flat(name)`` gives a brms-named variable's draws, (draws,) or (draws, size)."""
    out = []
    for e in entries:
        bsp = flat(f"bsp_{prefix}{e['label']}")
        simo = flat(f"simo_{prefix}{e['label']}1").reshape(len(bsp), -1)
        out += [bsp * e["steps"] * simo[:, k] for k in range(e["steps"])]
    return out


def expected_draws(entries: Sequence[Mapping], prefix: str) -> dict[str, tuple[int, ...]]:
    """Each brms-named variable of the terms with its dimensions past chain and draw."""
    out: dict[str, tuple[int, ...]] = {}
    for e in entries:
        out[f"bsp_{prefix}{e['label']}"] = ()
        out[f"simo_{prefix}{e['label']}1"] = (e["steps"],)
    return out


def mo_at(simo: np.ndarray, x: np.ndarray) -> np.ndarray:
    """brms's mo(simo, x) at rows x (0..D) per draw, rows x draws: D * sum(simo[1:x]), the
    predictor of a group-level mo() column ((mo(x) | g)'s r[level, k] multiplies it)."""
    steps = simo.shape[1] * np.cumsum(simo, axis=1)  # draws x D: mo(simo, 1..D)
    at = np.concatenate([np.zeros((len(simo), 1)), steps], axis=1)  # mo(simo, 0) = 0
    return at[:, x].T

"""Smooth terms of one predictor, ``s(x)`` and ``t2(x, z)`` (brms's ``stan_sm``/``data_sm``).

Each term is one smooth, or one per level of its ``by`` factor, built by smooth_basis (mgcv's
smoothCon and smooth2random). A smooth's unpenalised columns join the predictor's ``Xs`` with
their own coefficients ``bs`` (prior class b, named like brms's ``sTime_1``); each penalised block
``Zs_<i>_<j>`` has standardised coefficients ``zs_<i>_<j>`` ~ std_normal and one SD
``sds_<i>_<j>`` (prior class sds), so that ``s_<i>_<j> = sds_<i>_<j> * zs_<i>_<j>`` and the
predictor gets ``Xs * bs + Zs_<i>_<j> * s_<i>_<j>``. brms numbers the smooths per predictor
(``Zs_sigma_1_1`` is sigma's first).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mixfit.errors import InputError
from mixfit.model.priors import Slot
from mixfit.model.special_terms import SpecialTerm
from mixfit.model.terms.covariates import covariate_columns
from mixfit.model.terms.smooth_basis import (
    SmoothBasis,
    SmoothPart,
    SmoothSpec,
    build_smooth,
    evaluate_smooth,
)
from mixfit.model.terms.smooth_basis import stan_data as basis_data

TEMPLATE = "terms/smooth.stan"
KEYWORDS = {"s": {"k", "bs", "by"}, "t2": {"k", "bs", "by"}}


@dataclass(frozen=True)
class SmoothTerm:
    """One ``s()`` or ``t2()`` as written, with its basis at the fitted rows."""

    text: str  # "s(Time)", for messages and tables
    spec: SmoothSpec
    basis: SmoothBasis

    @property
    def columns(self) -> list[str]:
        """The data columns it reads: its covariates, then its by factor."""
        return list(self.spec.covariates) + ([self.spec.by] if self.spec.by else [])


def spec_of(special: SpecialTerm) -> SmoothSpec:
    """``s(x, k = 5, bs = "cr", by = f)`` or ``t2(x, z, k = c(4, 5))`` as a SmoothSpec."""
    special.check_keywords(KEYWORDS[special.call])
    covariates = tuple(special.column(a) for a in special.positional)
    if not covariates:
        raise InputError(f"{special.text}: name the covariate, e.g. {special.call}(x)")
    k_arg, bs_arg, by_arg = (special.keyword(n) for n in ("k", "bs", "by"))
    k: tuple[int | None, ...] = (None,)
    if k_arg is not None:
        k = tuple(special.whole(a, low=1) for a in special.vector(k_arg))
    bs = None if bs_arg is None else tuple(special.string(a) for a in special.vector(bs_arg))
    by = None if by_arg is None else special.column(by_arg)
    return SmoothSpec(covariates=covariates, term=special.call, bs=bs, k=k, by=by)


def columns_of(special: SpecialTerm) -> list[str]:
    """The data columns a smooth term reads (before any data is looked at)."""
    spec = spec_of(special)
    return list(spec.covariates) + ([spec.by] if spec.by else [])


def build_terms(specials: Sequence[SpecialTerm], frame: pd.DataFrame) -> tuple[SmoothTerm, ...]:
    """Every smooth term of one formula, built on the fitted rows; a bad term is one InputError."""
    out = []
    for special in specials:
        spec = spec_of(special)
        data = _columns(frame, spec, special.text)
        levels = None
        if spec.by is not None and isinstance(frame[spec.by].dtype, pd.CategoricalDtype):
            observed = set(frame[spec.by].astype(str))
            levels = [str(c) for c in frame[spec.by].cat.categories if str(c) in observed]
        try:
            basis = build_smooth(spec, data, by_levels=levels)
        except InputError as err:
            raise InputError(f"{special.text}: {_plain(str(err), spec)}") from None
        out.append(SmoothTerm(special.text, spec, basis))
    labels = [part.brms_label for term in out for part in term.basis.parts]
    for term in out:
        for part in term.basis.parts:
            if labels.count(part.brms_label) > 1:  # brms's names of their draws would clash
                raise InputError(
                    f"{term.text}: another smooth of the formula has the same covariates (both "
                    f"named {part.brms_label}): join them in one term, or give one a by factor"
                )
    return tuple(out)


def _plain(message: str, spec: SmoothSpec) -> str:
    """The basis module's message without the label it puts first (the term is named already)."""
    label = f"{spec.term}({', '.join(spec.covariates)}): "
    return message.removeprefix(label)


def _columns(frame: pd.DataFrame, spec: SmoothSpec, text: str) -> dict[str, Any]:
    return covariate_columns(
        frame, spec.covariates, spec.by, text,
        needs="a smooth needs a numeric covariate (a factor's effect is written as the factor alone)",
        numeric_by="a numeric by (a varying coefficient)",
    )  # fmt: skip


def parts(predictor) -> Iterator[tuple[SmoothTerm, SmoothPart]]:
    """Every smooth of the predictor (one per by level), in brms's numbering order."""
    for term in predictor.smooths:
        for part in term.basis.parts:
            yield term, part


def present(design, predictor) -> bool:
    return bool(predictor.smooths)


def xs_names(predictor) -> list[str]:
    """The unpenalised columns' names (brms's ``sTime_1``), without the predictor's prefix."""
    return [name for _, part in parts(predictor) for name in part.xs_names]


def context(design, predictor) -> dict:
    """What the snippet needs: the suffix, each smooth's number and its blocks, never data."""
    s = predictor.suffix
    return {
        "s": s,
        "eta": predictor.dpar,
        "of": "" if predictor.dpar == "mu" else f" of {predictor.dpar}",
        "smooths": [
            {"i": f"{s}_{i}", "label": part.label, "blocks": list(range(1, len(part.Zs) + 1))}
            for i, (_, part) in enumerate(parts(predictor), start=1)
        ],
    }


def stan_data(predictor) -> dict:
    """Ks, Xs and each smooth's nb, knots and Zs, as brms's make_standata."""
    s = predictor.suffix
    every = [part for _, part in parts(predictor)]
    n = len(predictor.X)
    Xs = np.column_stack([p.Xs for p in every]) if every else np.zeros((n, 0))
    return {f"Ks{s}": Xs.shape[1], f"Xs{s}": Xs} | basis_data(every, 1, s)


def shared(p: dict) -> list[tuple[str, str]]:
    """What a reduce_sum slice needs: (Stan type, name) per argument."""
    args = [("data matrix", f"Xs{p['s']}"), ("vector", f"bs{p['s']}")]
    for sm in p["smooths"]:
        for j in sm["blocks"]:
            args += [("data matrix", f"Zs{sm['i']}_{j}"), ("vector", f"s{sm['i']}_{j}")]
    return args


def slots(predictor) -> list[Slot]:
    """Prior slots: bs (class b, brms's coefficients ``sTime_1``) and one sds per block (class
    sds, coef the term as written, ``s(Time)``, as brms's)."""
    s, dpar = predictor.suffix, predictor.dpar
    out = [Slot(f"bs{s}", "b", None, None, [(c, "") for c in xs_names(predictor)], dpar=dpar)]
    for i, (term, part) in enumerate(parts(predictor), start=1):
        for j in range(1, len(part.Zs) + 1):
            out.append(
                Slot(f"sds{s}_{i}_{j}", "sds", 0.0, None, [(term.text, "")], scalar=True, dpar=dpar)
            )
    return out


# --- brms's names of the draws, and the smooths at new rows -------------------------------------


def draw_names(predictor) -> dict[str, list[str]]:
    """Stan's variable -> brms's names: ``bs`` -> [bs_sTime_1], ``sds_1_1`` -> [sds_sTime_1],
    ``s_1_1`` -> [s_sTime_1] (a vector)."""
    s, prefix = predictor.suffix, predictor.prefix
    names = xs_names(predictor)  # none for a cyclic smooth: an engine keeps no empty bs
    out = {f"bs{s}": [f"bs_{prefix}{c}" for c in names]} if names else {}
    for i, (_, part) in enumerate(parts(predictor), start=1):
        for j in range(1, len(part.Zs) + 1):
            out[f"sds{s}_{i}_{j}"] = [f"sds_{prefix}{part.brms_label}_{j}"]
            out[f"s{s}_{i}_{j}"] = [f"s_{prefix}{part.brms_label}_{j}"]
    return out


def describe(predictor) -> list[dict]:
    """design.json's entry per term: what rebuilds the basis for new rows, and the names and
    sizes of its draws."""
    return [
        {
            "text": term.text,
            "columns": term.columns,
            "state": term.basis.state,
            "smooths": [
                {
                    "label": part.brms_label,
                    "xs": part.xs_names,
                    "blocks": [int(z.shape[1]) for z in part.Zs],
                }
                for part in term.basis.parts
            ],
        }
        for term in predictor.smooths
    ]


def columns_at(entries: Sequence[Mapping], data: Mapping[str, Any]) -> np.ndarray:
    """New rows' smooth columns of one predictor, in the order of its draws: every smooth's Xs
    columns, then every smooth's Zs blocks (the order ``coefficient_names`` gives)."""
    xs, zs = [], []
    for entry in entries:
        for part in evaluate_smooth(entry["state"], data):
            xs.append(part.Xs)
            zs += part.Zs
    n = len(next(iter(data.values()))) if data else 0
    blocks = xs + zs
    return np.column_stack(blocks) if blocks else np.zeros((n, 0))


def fitted_columns(predictor) -> np.ndarray:
    """The fitted rows' smooth columns of a predictor, in ``columns_at``'s order."""
    every = [part for _, part in parts(predictor)]
    blocks = [p.Xs for p in every] + [z for p in every for z in p.Zs]
    return np.column_stack(blocks) if blocks else np.zeros((len(predictor.X), 0))


def coefficient_names(entries: Sequence[Mapping], prefix: str) -> list[tuple[str, int | None]]:
    """The brms-named draws that multiply ``columns_at``'s columns: (variable, element or None)."""
    xs = [(f"bs_{prefix}{name}", None) for e in entries for sm in e["smooths"] for name in sm["xs"]]
    zs = [
        (f"s_{prefix}{sm['label']}_{j}", k)
        for e in entries
        for sm in e["smooths"]
        for j, size in enumerate(sm["blocks"], start=1)
        for k in range(size)
    ]
    return xs + zs


def expected_draws(entries: Sequence[Mapping], prefix: str) -> dict[str, tuple[int, ...]]:
    """Each brms-named variable of the smooths with its dimensions past chain and draw."""
    out: dict[str, tuple[int, ...]] = {}
    for entry in entries:
        for sm in entry["smooths"]:
            for name in sm["xs"]:
                out[f"bs_{prefix}{name}"] = ()
            for j, size in enumerate(sm["blocks"], start=1):
                out[f"sds_{prefix}{sm['label']}_{j}"] = ()
                out[f"s_{prefix}{sm['label']}_{j}"] = (size,)
    return out

"""A model: its design, its priors, and from them the Stan program and the Stan data."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd

from mixfit.errors import InputError
from mixfit.model.centring import (
    can_nest,
    centred_blocks,
    nest_levels,
    nesting,
    population_map,
)
from mixfit.model.design import Design
from mixfit.model.families import FAMILIES, INVERSE_LINKS
from mixfit.model.priors import (
    DISTRIBUTIONS,
    Prior,
    PriorSpec,
    Slot,
    default_scales,
    parse_prior,
    prior_rows,
    resolve,
    truncation,
)


@dataclass
class Model:
    design: Design
    slots: list[Slot]
    predictions: bool = True  # log_lik and y_rep in generated quantities
    marginal: bool = False  # group-level effects integrated out (gaussian, one grouping factor)
    prior_only: bool = False  # sample from the priors alone: the likelihood is left out
    specs: tuple[PriorSpec, ...] = ()  # the user's priors, as given
    centred: tuple[bool, ...] = ()  # per group-level block: sampled centred (mixfit/centring.py)
    nests: tuple[int, ...] = ()  # per block: the block its centred intercepts nest in, or 0
    threads: int = 1  # within-chain threads: above 1, the likelihood goes through reduce_sum
    # log_lik and y_rep computed from the draws in Python, not in Stan (stanli lacks some _rng)
    python_predictions: bool = False

    @property
    def family(self):
        return self.design.family.family

    @property
    def intercept(self) -> bool:
        """One Intercept parameter; ordinal families have thresholds in its place."""
        return self.design.has_intercept and not self.family.ordinal

    @property
    def thresholds(self) -> list[str]:
        """Ordinal families: the threshold labels 1..K-1, which take the intercept's place."""
        if not self.family.ordinal:
            return []
        return [str(k) for k in range(1, len(self.design.response.categories))]

    def slot(self, name: str) -> Slot:
        return next(s for s in self.slots if s.name == name)


def build_model(
    design: Design,
    priors: list[PriorSpec],
    predictions: bool = True,
    marginal: bool = True,
    prior_only: bool = False,
    threads: int = 1,
) -> Model:
    slots = _slots(design)
    resolve(slots, priors, default_priors(design))
    marginal = marginal and not prior_only and can_marginalise(design)
    # the marginal program's likelihood runs over levels, not rows: nothing for threads to share
    threads = 1 if marginal else threads
    if threads > 1 and not design.family.family.threads:
        threaded = ", ".join(name for name, f in FAMILIES.items() if f.threads)
        raise InputError(
            f"within-chain threads need a likelihood in reduce_sum form, which the "
            f"{design.family.family.name} family does not have (families with one: {threaded})"
        )
    # with the priors alone there are no data to pin the levels down: brms's non-centred form;
    # integrated out, the group-level effects are not sampled at all
    if prior_only or marginal:
        centred = [False] * len(design.blocks)
    else:
        centred = centred_blocks(design)
    model = Model(
        design,
        slots,
        predictions,
        marginal=marginal,
        prior_only=prior_only,
        specs=tuple(priors),
        centred=tuple(centred),
        nests=tuple(nesting(design, centred)),
        threads=threads,
    )
    if prior_only:
        _check_proper(model)
    return model


def _check_proper(model: Model) -> None:
    """A flat prior is improper: there is no prior to sample from (brms refuses too)."""
    for slot in model.slots:
        flat = [
            c or slot.cls for (c, _), p in zip(slot.labels, slot.priors) if p.distribution == "flat"
        ]
        if flat:
            raise InputError(
                f"sampling from the prior only needs a proper prior on every parameter, but "
                f"{slot.cls} ({', '.join(flat)}) has a flat prior: set one, e.g. "
                f'--prior "normal(0, 5) : {slot.cls}"'
            )


def prior_table(model: Model) -> pd.DataFrame:
    """The priors a fit uses, as brms's get_prior: a row per class, per group and per element."""
    rows = prior_rows(model.slots, list(model.specs), default_priors(model.design))
    return pd.DataFrame(rows, columns=["class", "coef", "group", "prior", "source"])


def can_marginalise(design: Design) -> bool:
    """A gaussian model with one group-level block has an exact, cheaper marginal likelihood."""
    family = design.family
    return (
        family.family.name == "gaussian" and family.link == "identity" and len(design.blocks) == 1
    )


def default_priors(design: Design) -> dict[str, Prior]:
    """brms 2.18's defaults: flat b; student_t(3, m, s) intercept; half student_t(3, 0, s) scales."""
    family = design.family.family
    link = family.scale_link or design.family.link
    location, scale = default_scales(design.response.values, link)
    defaults = {
        "Intercept": Prior("student_t", (3.0, location, scale)),
        "sd": Prior("student_t", (3.0, 0.0, scale)),
        "cor": Prior("lkj", (1.0,)),
    }
    for param in design.family.family.params:
        if param.default_prior == "scale":
            defaults[param.name] = Prior("student_t", (3.0, 0.0, scale))
        else:
            defaults[param.name] = parse_prior(param.default_prior)
    return defaults


def _slots(design: Design) -> list[Slot]:
    slots = [Slot("b", "b", None, None, [(c, "") for c in design.coefs])]
    if design.family.family.ordinal:
        thresholds = [(str(k), "") for k in range(1, len(design.response.categories))]
        slots.append(Slot("Intercept", "Intercept", None, None, thresholds))
    elif design.has_intercept:
        slots.append(Slot("Intercept", "Intercept", None, None, [("", "")], scalar=True))
    for param in design.family.family.params:
        slots.append(
            Slot(param.name, param.name, param.lower, param.upper, [("", "")], scalar=True)
        )
    for block in design.blocks:
        labels = [(term, block.group) for term in block.terms]
        slots.append(Slot(f"sd_{block.id}", "sd", 0.0, None, labels))
        if block.has_cor:
            slots.append(Slot(f"L_{block.id}", "cor", None, None, [("", block.group)], scalar=True))
    return slots


def stan_code(model: Model) -> str:
    """The Stan program: it depends on the model's structure, never on data or prior values."""
    design = model.design
    thresholds = model.family.ordinal
    intercept = model.intercept
    context = {
        "family": model.family,
        "link": design.family.link,
        "inverse_link": INVERSE_LINKS[design.family.link],
        "intercept": intercept,
        "thresholds": thresholds,
        "centred": intercept or thresholds,
        "offset": design.offset is not None,
        "blocks": [
            {"id": b.id, "cor": b.has_cor, "intercept": b.terms[0] == "Intercept"}
            for b in design.blocks
        ],
        "nesting": can_nest(design),
        "slots": [
            {
                "name": s.name,
                "scalar": s.scalar,
                "lower": None if s.lower is None else f"{s.lower:g}",
                "distributions": [_distribution(d, s) for d in s.families()],
            }
            for s in model.slots
        ],
        "predictions": model.predictions and not model.python_predictions,
        "threads": model.threads > 1,
        "cor": bool(design.blocks) and design.blocks[0].has_cor,
        "terms": len(design.blocks[0].terms) if design.blocks else 0,
    }
    template = "gaussian_marginal.stan" if model.marginal else "model.stan"
    return _templates().get_template(template).render(context)


def _distribution(name: str, slot: Slot) -> dict:
    """A prior family as the template needs it: name, arity, and the bounds to normalise at."""
    dist = DISTRIBUTIONS[name]
    lower, upper = truncation(dist, slot.lower, slot.upper)
    return {
        "name": name,
        "params": dist.params,
        "support": dist.support,
        "lower": None if lower is None else f"{lower:g}",
        "upper": None if upper is None else f"{upper:g}",
    }


def stan_data(model: Model) -> dict:
    design = model.design
    data: dict = {"N": design.n, "Y": design.response.values, "K": design.X.shape[1], "X": design.X}
    data["prior_only"] = int(model.prior_only)
    if model.threads > 1 and not model.marginal:  # brms's default grainsize
        data["grainsize"] = max(100, design.n // (2 * model.threads))
    if model.family.ordinal:
        data["nthres"] = len(model.thresholds)
    if design.response.trials is not None:
        data["trials"] = design.response.trials
    if design.offset is not None:
        data["offsets"] = design.offset
    for block in design.blocks:
        data[f"N_{block.id}"] = len(block.levels)
        data[f"M_{block.id}"] = len(block.terms)
        data[f"J_{block.id}"] = block.J
        data[f"Z_{block.id}"] = block.Z
    if not model.marginal:
        data["P"] = design.X.shape[1] + model.intercept
        centres = population_map(design, list(model.centred), model.intercept)
        for block, centred, F in zip(design.blocks, model.centred, centres):
            data[f"centred_{block.id}"] = int(centred)
            data[f"F_{block.id}"] = F
        if can_nest(design):
            for block, nest in zip(design.blocks, model.nests):
                if block.terms[0] == "Intercept":
                    data[f"nest_{block.id}"] = nest
                    data[f"nest_level_{block.id}"] = nest_levels(design, block, nest)
    for slot in model.slots:
        for name in slot.families():
            hp = f"prior_{slot.name}_{name}"
            elements = slot.elements(name)
            rows = np.array([slot.priors[i].args for i in elements], dtype=float)
            if slot.scalar:
                data[hp] = rows[0]
            else:
                data[f"NP_{slot.name}_{name}"] = len(elements)
                data[f"{hp}_idx"] = np.array(elements, dtype=np.int64) + 1
                data[hp] = rows.reshape(len(elements), len(DISTRIBUTIONS[name].params))
    return data


def _template_dir() -> Path:
    try:
        return Path(str(files("mixfit.stan_templates")))
    except (
        ModuleNotFoundError
    ):  # mixfit imported from a source checkout: the templates sit beside it
        return Path(__file__).resolve().parents[2] / "stan_templates"


def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_template_dir())),
        extensions=["jinja2.ext.do"],
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )

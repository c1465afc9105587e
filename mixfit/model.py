"""A model: its design, its priors, and from them the Stan program and the Stan data."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files

import jinja2
import numpy as np

from mixfit.design import Design
from mixfit.priors import (
    DISTRIBUTIONS,
    Prior,
    PriorSpec,
    Slot,
    default_scales,
    parse_prior,
    resolve,
)


@dataclass
class Model:
    design: Design
    slots: list[Slot]
    predictions: bool = True  # log_lik and y_rep in generated quantities

    @property
    def family(self):
        return self.design.family.family

    def slot(self, name: str) -> Slot:
        return next(s for s in self.slots if s.name == name)


def build_model(design: Design, priors: list[PriorSpec], predictions: bool = True) -> Model:
    slots = _slots(design)
    resolve(slots, priors, default_priors(design))
    return Model(design, slots, predictions)


def default_priors(design: Design) -> dict[str, Prior]:
    """brms 2.18's defaults: flat b; student_t(3, m, s) intercept; half student_t(3, 0, s) scales."""
    location, scale = default_scales(design.response.values, design.family.link)
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
    if design.has_intercept:
        slots.append(Slot("Intercept", "Intercept", None, None, [("", "")], scalar=True))
    for param in design.family.family.params:
        slots.append(Slot(param.name, param.name, param.lower, param.upper, [("", "")], scalar=True))
    for block in design.blocks:
        labels = [(term, block.group) for term in block.terms]
        slots.append(Slot(f"sd_{block.id}", "sd", 0.0, None, labels))
        if block.has_cor:
            slots.append(Slot(f"L_{block.id}", "cor", None, None, [("", block.group)], scalar=True))
    return slots


def stan_code(model: Model) -> str:
    """The Stan program: it depends on the model's structure, never on data or prior values."""
    design = model.design
    context = {
        "family": model.family,
        "link": design.family.link,
        "intercept": design.has_intercept,
        "offset": design.offset is not None,
        "blocks": [{"id": b.id, "cor": b.has_cor} for b in design.blocks],
        "slots": [
            {
                "name": s.name,
                "scalar": s.scalar,
                "lower": None if s.lower is None else f"{s.lower:g}",
                "distributions": [DISTRIBUTIONS[d] for d in s.families()],
            }
            for s in model.slots
        ],
        "predictions": model.predictions,
    }
    return _templates().get_template("model.stan").render(context)


def stan_data(model: Model) -> dict:
    design = model.design
    data: dict = {"N": design.n, "Y": design.response.values, "K": design.X.shape[1], "X": design.X}
    if design.response.trials is not None:
        data["trials"] = design.response.trials
    if design.offset is not None:
        data["offsets"] = design.offset
    for block in design.blocks:
        data[f"N_{block.id}"] = len(block.levels)
        data[f"M_{block.id}"] = len(block.terms)
        data[f"J_{block.id}"] = block.J
        data[f"Z_{block.id}"] = block.Z
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


def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(files("mixfit.stan_templates"))),
        extensions=["jinja2.ext.do"],
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )

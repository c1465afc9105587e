"""A model: its design, its priors, and from them the Stan program (mixfit/model/stancode.py) and
the Stan data."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mixfit.errors import InputError
from mixfit.model import marginal_data
from mixfit.model.centring import centred_blocks, nesting
from mixfit.model.design import Design
from mixfit.model.families import FAMILIES, FamilyParam
from mixfit.model.priors import (
    DISTRIBUTIONS,
    Defaults,
    Prior,
    PriorSpec,
    Slot,
    default_scales,
    normalise,
    parse_prior,
    prior_rows,
    resolve,
)
from mixfit.model.terms import (
    autocor,
    category_specific,
    gp,
    group,
    monotonic,
    offset,
    population,
    smooth,
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

    @property
    def scalar_params(self) -> tuple[FamilyParam, ...]:
        """The family's parameters without a formula: one value per draw (sigma, shape, ...)."""
        return tuple(p for p in self.design.params if p.name not in self.design.predictors)

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
    priors = normalise(priors, slots, tuple(p.name for p in design.params))
    resolve(slots, priors, default_priors(design))
    marginal = marginal and not prior_only and can_marginalise(design)
    # the marginal program's likelihood runs over levels, not rows: nothing for threads to share
    threads = 1 if marginal else threads
    additions = design.formula.additions
    if threads > 1 and (additions.weights or additions.se or additions.cens):
        raise InputError(
            "within-chain threads do not take weights(), se() or cens() yet: run with "
            "--threads-per-chain 1"
        )
    if threads > 1 and design.autocor is not None:  # as brms: its loop runs over every row
        raise InputError(
            "within-chain threads do not take autocorrelation terms: run with --threads-per-chain 1"
        )
    if threads > 1 and (additions.truncated or additions.rate):
        raise InputError(
            "within-chain threads do not take trunc() or rate() yet: run with --threads-per-chain 1"
        )
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
        cls = slot.cls + ("" if slot.dpar == "mu" else f"_{slot.dpar}")
        flat = [c or cls for (c, _), p in zip(slot.labels, slot.priors) if p.distribution == "flat"]
        if flat:
            raise InputError(
                f"sampling from the prior only needs a proper prior on every parameter, but "
                f"{cls} ({', '.join(flat)}) has a flat prior: set one, e.g. "
                f'--prior "normal(0, 5) : {cls}"'
            )


def prior_table(model: Model) -> pd.DataFrame:
    """The priors a fit uses, as brms's get_prior: a row per class, per group and per element."""
    rows = prior_rows(model.slots, list(model.specs), default_priors(model.design))
    for predictor in model.design.predictors.values():  # brms's simo rows: data, not a slot
        rows += monotonic.prior_rows(predictor)
    return pd.DataFrame(rows, columns=["class", "coef", "group", "dpar", "prior", "source"])


def can_marginalise(design: Design) -> bool:
    """A gaussian model with one group-level block has an exact, cheaper marginal likelihood."""
    family = design.family
    return (
        family.family.name == "gaussian"
        and family.link == "identity"
        and len(design.blocks) == 1
        and not design.dpars
        and design.response.weights is None
        and design.response.se is None
        and design.response.cens is None
        and design.autocor is None
        and design.response.lb is None
        and design.response.ub is None
        and not any(smooth.present(design, p) for p in design.predictors.values())
        and not any(gp.present(design, p) for p in design.predictors.values())
        and not any(monotonic.present(design, p) for p in design.predictors.values())
    )


def default_priors(design: Design) -> Defaults:
    """brms 2.18's defaults by (class, dpar): flat b; student_t(3, m, s) on mu's intercept and
    half student_t(3, 0, s) on its scales (s from the response); a parameter with a formula of
    its own has student_t(3, 0, 2.5) on its intercept (logistic(0, 1) with a logit link) and
    its SDs, as brms."""
    family = design.family.family
    link = family.scale_link or design.family.link
    location, scale = default_scales(design.response.values, link)
    defaults = {
        ("Intercept", "mu"): Prior("student_t", (3.0, location, scale)),
        ("sd", "mu"): Prior("student_t", (3.0, 0.0, scale)),
        ("sds", "mu"): Prior("student_t", (3.0, 0.0, scale)),  # brms: the smooths' SDs as sd's
        ("cor", "mu"): Prior("lkj", (1.0,)),
    }
    if family.categorical:  # mu<cat>: brms's defaults of a predictor other than mu's
        for dpar in design.dpars:
            defaults[("Intercept", dpar)] = Prior("student_t", (3.0, 0.0, 2.5))
            defaults[("sd", dpar)] = Prior("student_t", (3.0, 0.0, 2.5))
            defaults[("cor", dpar)] = Prior("lkj", (1.0,))
    for param in design.params:
        if param.name in design.predictors:
            defaults[("Intercept", param.name)] = parse_prior(param.intercept_prior)
            defaults[("sd", param.name)] = Prior("student_t", (3.0, 0.0, 2.5))
            defaults[("sds", param.name)] = Prior("student_t", (3.0, 0.0, 2.5))
            defaults[("cor", param.name)] = Prior("lkj", (1.0,))
        elif param.default_prior == "scale":
            defaults[(param.name, "mu")] = Prior("student_t", (3.0, 0.0, scale))
        elif param.upper == "min_Y":  # brms's uniform(0, min_Y) on shifted_lognormal's ndt
            lowest = float(np.min(design.response.values))
            defaults[(param.name, "mu")] = Prior("uniform", (0.0, lowest))
        else:
            defaults[(param.name, "mu")] = parse_prior(param.default_prior)
    defaults |= _gp_defaults(design, scale)
    return defaults


def _gp_defaults(design: Design, scale: float) -> Defaults:
    """brms's GP defaults: sdgp as the predictor's SDs, and each GP's data-derived lscale prior
    (keyed by class, dpar and coef: brms sets it per GP)."""
    out: Defaults = {}
    for predictor in design.predictors.values():
        if gp.present(design, predictor):
            dpar = predictor.dpar
            out[("sdgp", dpar)] = Prior("student_t", (3.0, 0.0, scale if dpar == "mu" else 2.5))
            out |= gp.default_lscale(predictor)
    return out


def _slots(design: Design) -> list[Slot]:
    """Every prior-carrying parameter: each predictor's effects, the family's parameters that have
    no formula, each block's SDs and correlations."""
    slots = []
    for predictor in design.predictors.values():
        slots += population.slots(design, predictor)
        if smooth.present(design, predictor):
            slots += smooth.slots(predictor)
        if gp.present(design, predictor):
            slots += gp.slots(predictor)
        if monotonic.present(design, predictor):
            slots += monotonic.slots(predictor)
        if predictor.dpar == "mu":
            slots += category_specific.slots(design)
    for param in design.params:
        if param.name not in design.predictors:
            slots.append(
                Slot(param.name, param.name, param.lower, param.upper, [("", "")], scalar=True)
            )
    for block in design.blocks:
        slots += group.slots(block)
    if design.autocor is not None:
        slots += autocor.slots(design.autocor)
    return slots


def _truncation_data(design: Design) -> dict:
    """trunc()'s bounds (whole numbers for a count) and rate()'s denominators; a bound the
    program does not declare (none given, or an infinite one) is left out."""
    response, data = design.response, {}
    integer = design.family.family.response == "count"
    for name in ("lb", "ub"):
        bound = getattr(response, name)
        if bound is not None and np.isfinite(bound).all():
            data[name] = bound.astype(np.int64) if integer else bound
    if response.denom is not None:
        data["denom"] = response.denom
    return data


def stan_data(model: Model) -> dict:
    """The data of the program: the response, each part's data and the priors' hyperparameters."""
    design = model.design
    if model.marginal:  # the rows' sufficient statistics in place of the rows
        return marginal_data.stan_data(design, model.intercept) | _prior_data(model)
    data: dict = {"N": design.n, "Y": design.response.values}
    data["prior_only"] = int(model.prior_only)
    if model.threads > 1:  # brms's default grainsize
        data["grainsize"] = max(100, design.n // (2 * model.threads))
    if model.family.ordinal:
        data["nthres"] = len(model.thresholds)
    if model.family.categorical:
        data["ncat"] = len(design.response.categories)
    if design.response.trials is not None:
        data["trials"] = design.response.trials
    if design.response.weights is not None:
        data["weights"] = design.response.weights
    if design.response.se is not None:
        data["se"] = design.response.se
    if design.response.cens is not None:
        data["cens"] = design.response.cens
    if design.response.y2 is not None:
        data["rcens"] = design.response.y2
    data |= _truncation_data(design)
    for predictor in design.predictors.values():
        data |= population.stan_data(predictor)
        if offset.present(design, predictor):
            data |= offset.stan_data(predictor)
        if smooth.present(design, predictor):
            data |= smooth.stan_data(predictor)
        if gp.present(design, predictor):
            data |= gp.stan_data(predictor)
        if monotonic.present(design, predictor):
            data |= monotonic.stan_data(predictor)
    if design.category_specific is not None:
        data |= category_specific.stan_data(design.category_specific)
    for block in design.blocks:
        data |= group.stan_data(design, block)
    if design.autocor is not None:
        data |= autocor.stan_data(design.autocor)
    if any(block.mu_only for block in design.blocks):
        data["P"] = design.X.shape[1] + model.intercept
    data |= group.centring_data(design, model.centred, model.nests, model.intercept)
    return data | _prior_data(model)


def _prior_data(model: Model) -> dict:
    """Each prior-carrying slot's hyperparameters, a row per element and distribution."""
    data: dict = {}
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

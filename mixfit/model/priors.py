"""Priors: the distributions mixfit knows, brms's defaults, and the user's priors matched to parameters.

Every prior ends up in a *slot*: one Stan parameter (``b``, ``Intercept``, ``sd_1``, ``sigma``,
``L_1``) whose elements each carry a distribution and its hyperparameters. The Stan program only
depends on which distributions a slot uses; the hyperparameters travel as data.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace

import numpy as np

from mixfit.errors import InputError
from mixfit.model.brms_priors import is_brms_prior, parse_brms_prior


@dataclass(frozen=True)
class Distribution:
    name: str
    params: tuple[str, ...]
    support: str  # real | positive | unit | interval | corr
    positive_params: tuple[str, ...] = ()


DISTRIBUTIONS: dict[str, Distribution] = {
    d.name: d
    for d in [
        Distribution("normal", ("mu", "sigma"), "real", ("sigma",)),
        Distribution("student_t", ("nu", "mu", "sigma"), "real", ("nu", "sigma")),
        Distribution("cauchy", ("mu", "sigma"), "real", ("sigma",)),
        Distribution("exponential", ("lambda",), "positive", ("lambda",)),
        Distribution("gamma", ("alpha", "beta"), "positive", ("alpha", "beta")),
        Distribution("inv_gamma", ("alpha", "beta"), "positive", ("alpha", "beta")),
        Distribution("lognormal", ("mu", "sigma"), "positive", ("sigma",)),
        Distribution("beta", ("a", "b"), "unit", ("a", "b")),
        Distribution("logistic", ("mu", "sigma"), "real", ("sigma",)),
        Distribution("uniform", ("lower", "upper"), "interval"),
        Distribution("lkj", ("eta",), "corr", ("eta",)),
    ]
}
SUPPORT_BOUNDS = {"real": (None, None), "positive": (0.0, None), "unit": (0.0, 1.0)}


@dataclass(frozen=True)
class Prior:
    """A distribution with its hyperparameters; ``flat`` (no distribution) is improper uniform."""

    distribution: str  # a key of DISTRIBUTIONS, or "flat"
    args: tuple[float, ...] = ()

    def __str__(self) -> str:
        if self.distribution == "flat":
            return "(flat)"
        return f"{self.distribution}({', '.join(_fmt(a) for a in self.args)})"


FLAT = Prior("flat")


def parse_prior(text: str) -> Prior:
    text = text.strip()
    if text in {"", "flat"}:
        return FLAT
    match = re.fullmatch(r"(\w+)\s*\((.*)\)", text)
    if not match:
        raise InputError(f"prior {text!r} is not of the form 'name(arg, ...)', e.g. 'normal(0, 5)'")
    name, inner = match.group(1), match.group(2)
    dist = DISTRIBUTIONS.get(name)
    if dist is None:
        known = ", ".join(sorted(DISTRIBUTIONS))
        raise InputError(f"unknown prior distribution {name!r} (known: {known})")
    try:
        args = tuple(float(a) for a in inner.split(",")) if inner.strip() else ()
    except ValueError:
        raise InputError(f"prior {text!r}: arguments must be numbers") from None
    if len(args) != len(dist.params):
        raise InputError(
            f"prior {text!r}: {name} takes {len(dist.params)} arguments ({', '.join(dist.params)})"
        )
    values = dict(zip(dist.params, args))
    for param in dist.positive_params:
        if not values[param] > 0:
            raise InputError(f"prior {text!r}: {param} must be positive")
    if not all(math.isfinite(a) for a in args):
        raise InputError(f"prior {text!r}: arguments must be finite")
    if name == "uniform" and not args[0] < args[1]:
        raise InputError(f"prior {text!r}: the lower bound must be below the upper bound")
    return Prior(name, args)


@dataclass(frozen=True)
class PriorSpec:
    """A prior the user set, for a class and optionally one coefficient and/or group."""

    prior: Prior
    cls: str
    coef: str = ""
    group: str = ""
    dpar: str = ""  # a distributional parameter's predictor (sigma, zi, ...); "" is mu's

    def describe(self) -> str:
        target = " : ".join(x for x in (self.cls, self.coef, self.group) if x)
        if self.dpar:
            target += f" (dpar {self.dpar})"
        return f"{self.prior} : {target}"


def parse_prior_spec(spec: str | dict) -> PriorSpec:
    """Read ``"normal(0, 1) : b : Days"`` or ``{prior: ..., class: ..., coef: ..., group: ...}``.

    In the flag form the third field is the coefficient for ``b`` and the group for ``sd`` and
    ``cor``; a fourth field is the term within that group (``exponential(1) : sd : g : Days``).
    A prior in brms's own syntax, ``prior(normal(0, 10), class = b)``, is read by brms_priors.
    """
    if isinstance(spec, str) and is_brms_prior(spec):
        brms = parse_brms_prior(spec)
        return PriorSpec(
            parse_prior(brms["prior"]), brms["class"], brms["coef"], brms["group"], brms["dpar"]
        )
    if isinstance(spec, dict):
        unknown = set(spec) - {"prior", "class", "coef", "group"}
        if unknown or "prior" not in spec or "class" not in spec:
            raise InputError(
                f"a prior in YAML takes 'prior' and 'class', optionally 'coef' and 'group' "
                f"(got {', '.join(sorted(map(str, spec)))})"
            )
        return PriorSpec(
            parse_prior(str(spec["prior"])),
            str(spec["class"]),
            str(spec.get("coef") or ""),
            str(spec.get("group") or ""),
        )
    # fields are split at colons with a space beside them, when there are such, so an interaction
    # (x:fv) or a group a:b stays one field; "normal(0,1):b:x" splits at every colon
    spaced = re.search(r"\s:|:\s", str(spec))
    fields = re.split(r"\s+:\s*|:\s+", str(spec)) if spaced else str(spec).split(":")
    parts = [p.strip() for p in fields]
    if len(parts) < 2 or not parts[1]:
        raise InputError(f"prior {spec!r} needs a class: 'normal(0, 5) : b'")
    prior, cls, rest = parse_prior(parts[0]), parts[1], parts[2:]
    if len(rest) > 2:
        raise InputError(f"prior {spec!r} has too many ':' fields")
    if cls in {"sd", "cor"}:
        group, coef = (rest + ["", ""])[:2]
    else:
        coef, group = (rest + ["", ""])[:2]
    return PriorSpec(prior, cls, coef, group)


@dataclass
class Slot:
    """One Stan parameter and the prior of each of its elements."""

    name: str  # the Stan variable
    cls: str
    lower: float | None
    upper: float | str | None  # a str: a bound the data set (shifted_lognormal's ndt: min_Y)
    labels: list[tuple[str, str]]  # (coef, group) per element
    priors: list[Prior] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    scalar: bool = False
    dpar: str = "mu"  # the predictor its elements belong to (b_sigma: "sigma")
    element_dpars: list[str] | None = None  # per element, where they differ (a block fed by IDs)

    def dpar_of(self, element: int) -> str:
        return self.element_dpars[element] if self.element_dpars else self.dpar

    def families(self) -> list[str]:
        return sorted({p.distribution for p in self.priors} - {"flat"})

    def elements(self, distribution: str) -> list[int]:
        return [i for i, p in enumerate(self.priors) if p.distribution == distribution]


def default_scales(y: np.ndarray, link: str) -> tuple[float, float]:
    """brms's data-derived (location, scale) of the default student_t(3, ., .) priors."""
    location, scale = 0.0, 2.5
    if link in {"identity", "log"}:
        y = np.asarray(y, dtype=float)
        y_link = np.log(np.where(y == 0, 0.1, y)) if link == "log" else y
        mad = round(float(1.4826 * np.median(np.abs(y_link - np.median(y_link)))), 1)
        if math.isfinite(mad):
            scale = max(scale, mad)
        location = round(float(np.median(y_link)), 1)
    return location, scale


# brms's defaults by (class, dpar): a class's prior for one predictor's elements
Defaults = dict[tuple[str, ...], Prior]  # (class, dpar), or (class, dpar, coef) for one element


def normalise(
    specs: list[PriorSpec], slots: list[Slot], params: tuple[str, ...] = ()
) -> list[PriorSpec]:
    """The user's priors with their dpar made explicit: the flag forms ``b_sigma`` and
    ``Intercept_sigma`` (brms's Stan names) are class b and Intercept of dpar sigma, and a group
    term named with its prefix (``sd : Subject : sigma_Intercept``) is sigma's. ``params``: the
    family's parameters, which a prior may name as a dpar though it has no formula (refused
    then, saying so)."""
    dpars = {s.dpar_of(i) for s in slots for i in range(len(s.labels))} - {"mu"}
    out = []
    for spec in specs:
        cls, _, dpar = spec.cls.partition("_")
        if not spec.dpar and cls in {"b", "Intercept", "sd", "cor"} and dpar in dpars | set(params):
            spec = replace(spec, cls=cls, dpar=dpar)
        prefix = spec.coef.split("_", 1)[0]
        if not spec.dpar and spec.cls == "sd" and prefix in dpars:
            spec = replace(spec, dpar=prefix, coef=spec.coef[len(prefix) + 1 :])
        out.append(spec)
    return out


def resolve(slots: list[Slot], specs: list[PriorSpec], defaults: Defaults) -> None:
    """Fill each slot's priors: the most specific user prior wins, else the class default.
    ``specs`` are normalise()'s."""
    _check_targets(slots, specs)
    for slot in slots:
        slot.priors, slot.sources = [], []
        for i, (coef, group) in enumerate(slot.labels):
            dpar = slot.dpar_of(i)
            chosen = _choose(specs, slot.cls, coef, group, dpar)
            if chosen is None:
                slot.priors.append(_default(defaults, slot.cls, dpar, coef))
                slot.sources.append("default")
            else:
                _check_support(chosen, slot)
                slot.priors.append(chosen.prior)
                slot.sources.append("user")


def _default(defaults: Defaults, cls: str, dpar: str, coef: str) -> Prior:
    """The default of one element: its own (a GP's lscale, from its data), else its class's."""
    return defaults.get((cls, dpar, coef), defaults.get((cls, dpar), FLAT))


def spec_dpar(spec: PriorSpec) -> str:
    """The predictor a user's prior is for: its dpar, mu's when none is given."""
    return spec.dpar or "mu"


def _choose(
    specs: list[PriorSpec], cls: str, coef: str, group: str, dpar: str = "mu"
) -> PriorSpec | None:
    """The most specific user prior for a target; of equally specific ones, the last given. An
    element of another predictor than mu is named with its prefix (sigma_Intercept) where a group
    holds it, and matched by a prior for it with or without that prefix (brms's dpar = sigma)."""
    chosen = None
    for spec in specs:
        if spec.cls != cls or spec_dpar(spec) != dpar or spec.group not in ("", group):
            continue
        if spec.coef not in ("", coef, _unprefixed(coef, dpar)):
            continue
        rank = (spec.coef != "") + (spec.group != "")
        if chosen is None or rank >= chosen[0]:
            chosen = (rank, spec)
    return None if chosen is None else chosen[1]


def _unprefixed(coef: str, dpar: str) -> str:
    prefix = f"{dpar}_"
    return coef[len(prefix) :] if dpar != "mu" and coef.startswith(prefix) else coef


def prior_rows(slots: list[Slot], specs: list[PriorSpec], defaults: Defaults) -> list[dict]:
    """brms's get_prior table: per class and predictor (dpar) a class-wide row, then one per
    group (sd, cor) and per element; each with the prior that applies there and whether it is the
    default or the user's. Elements are named as the predictor names them (brms's coef and dpar
    columns: ``Intercept`` of dpar ``sigma``)."""
    rows = []
    by_class: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for slot in slots:
        for i, label in enumerate(slot.labels):
            by_class.setdefault((slot.cls, slot.dpar_of(i)), []).append(label)
    order = sorted(by_class, key=lambda key: (key[0].lower(), key[1] != "mu", key[1]))
    for cls, dpar in order:
        labels = by_class[cls, dpar]
        targets = [("", "")]
        targets += list(dict.fromkeys(("", g) for _, g in labels if g))
        targets += [label for label in dict.fromkeys(labels) if label not in targets]
        for coef, group in targets:
            chosen = _choose(specs, cls, coef, group, dpar)
            prior = _default(defaults, cls, dpar, coef) if chosen is None else chosen.prior
            source = "default" if chosen is None else "user"
            row = {"class": cls, "coef": _unprefixed(coef, dpar), "group": group}
            row |= {"dpar": "" if dpar == "mu" else dpar, "prior": str(prior)}
            rows.append({**row, "source": source})
    return rows


def truncation(
    dist: Distribution, lower: float | None, upper: float | str | None
) -> tuple[float | None, float | str | None]:
    """The parameter bounds inside the distribution's support, where its density is normalised
    (a half-normal on an SD, a gamma on nu >= 1, a normal on zi in (0, 1))."""
    if dist.support == "corr":
        return None, None
    low, high = SUPPORT_BOUNDS.get(dist.support, (None, None))
    interval = dist.support == "interval"  # uniform: its bounds are data, so normalise always
    cut_low = lower if lower is not None and (interval or low is None or low < lower) else None
    data_bound = isinstance(upper, str)  # known only from the data: normalise at it
    cut_high = (
        upper
        if upper is not None and (interval or data_bound or high is None or high > upper)
        else None
    )
    return cut_low, cut_high


def _check_targets(slots: list[Slot], specs: list[PriorSpec]) -> None:
    classes = sorted({s.cls for s in slots})
    predicted = {s.dpar for s in slots} - {"mu"}
    for spec in specs:
        in_class = [s for s in slots if s.cls == spec.cls]
        if not in_class and spec.cls in predicted:
            raise InputError(
                f"prior '{spec.describe()}': {spec.cls} has a formula in this model, so it has no "
                f"prior of its own; set priors on its predictor's effects, e.g. "
                f'"normal(0, 1) : b_{spec.cls}" or "student_t(3, 0, 1) : Intercept_{spec.cls}"'
            )
        if spec.cls == "simo":  # the simplexes' Dirichlet is data (con_simo), brms's default
            raise InputError(
                f"prior '{spec.describe()}': priors of class simo (a monotonic effect's simplex) "
                "are not supported; it keeps brms's default dirichlet(1)"
            )
        if not in_class:
            raise InputError(
                f"prior '{spec.describe()}': this model has no class {spec.cls!r} "
                f"(classes: {', '.join(classes)})"
            )
        dpar = spec_dpar(spec)
        dpars = sorted({s.dpar_of(i) for s in in_class for i in range(len(s.labels))} - {"mu"})
        labels = [
            (_unprefixed(c, dpar), g)
            for s in in_class
            for i, (c, g) in enumerate(s.labels)
            if s.dpar_of(i) == dpar
        ]
        if not labels:
            have = f"dpars with a formula: {', '.join(dpars)}" if dpars else "no dpar has a formula"
            raise InputError(
                f"prior '{spec.describe()}': class {spec.cls} has no elements for dpar "
                f'{dpar!r} ({have}; a parameter gets a formula as -f "{dpar} ~ x")'
            )
        groups = sorted({g for _, g in labels if g})
        if spec.group and spec.group not in groups:
            where = f"groups: {', '.join(groups)}" if groups else "it has no groups"
            raise InputError(f"prior '{spec.describe()}': unknown group {spec.group!r} ({where})")
        coefs = sorted({c for c, g in labels if c and spec.group in ("", g)})
        if spec.coef and spec.coef not in coefs:
            where = f"coefficients: {', '.join(coefs)}" if coefs else "it has none"
            raise InputError(
                f"prior '{spec.describe()}': unknown coefficient {spec.coef!r} for class "
                f"{spec.cls} ({where})"
            )


def _check_support(spec: PriorSpec, slot: Slot) -> None:
    dist = spec.prior.distribution
    if dist == "flat":
        if slot.cls not in {"b", "Intercept"}:
            raise InputError(f"prior '{spec.describe()}': class {slot.cls} needs a proper prior")
        return
    support = DISTRIBUTIONS[dist].support
    if (support == "corr") != (slot.cls == "cor"):
        wanted = "lkj" if slot.cls == "cor" else "a distribution other than lkj"
        raise InputError(f"prior '{spec.describe()}': class {slot.cls} takes {wanted}")
    if support in {"real", "corr"}:
        return
    low, high = SUPPORT_BOUNDS.get(support, spec.prior.args)  # uniform: its own bounds
    param_low, param_high = slot.lower, slot.upper
    covers_low = low is None or (param_low is not None and low <= param_low)
    if isinstance(param_high, str):  # a bound the data set: only the prior's own uniform knows it
        covers_high = high is None or support == "interval"
    else:
        covers_high = high is None or (param_high is not None and high >= param_high)
    if not (covers_low and covers_high):
        shown_high = param_high if isinstance(param_high, str) else _fmt(param_high, "inf")
        bounds = f"({_fmt(param_low, '-inf')}, {shown_high})"
        raise InputError(
            f"prior '{spec.describe()}': {spec.prior} excludes part of {slot.cls}'s support {bounds}"
        )


def _fmt(value: float | None, missing: str = "") -> str:
    if value is None:
        return missing
    return f"{value:g}"

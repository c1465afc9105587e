"""design.json's schema, in one table: what each key of the file mixfit/results/design_file.py
writes must hold when a results folder is read back.

A new key of design.json is a new row here (a ``Record`` field; ``optional`` for keys older
folders lack). Formula text is re-parsed by mixfit's own formula parser, with the whitelist of
the command line (``RHS``, ``FORMULA``, ``RESPONSE``), so nothing reaches formulae's evaluator
that the command line would refuse. ``check_design`` adds what a table can't say: the link is
one of the family's, and every column a term reads is described under ``variables``.
"""

from __future__ import annotations

from mixfit.errors import InputError
from mixfit.model.addition_terms import CENS_FAMILIES, SE_FAMILIES, TRIALS_FAMILIES
from mixfit.model.families import FAMILIES, FamilyParam, category_dpars, free_params
from mixfit.model.formula import parse_formula
from mixfit.model.r_syntax import r_spelling
from mixfit.readback.schema import (
    Boolean,
    Const,
    Either,
    Integer,
    Json,
    ListOf,
    MapOf,
    Node,
    Number,
    Record,
    Text,
    optional,
)

FORMAT = "mixfit design 1"  # design.json's first key: what the file is
MAX_NAME = 10_000  # characters of a column, coefficient or level name


def _formula(text: str) -> None:
    parse_formula(r_spelling(text))


def _rhs(text: str) -> None:
    """A right-hand side of population-level terms, as formula.py splits a formula into (in
    formulae's spelling, which r_spelling turns back into R's for the parser)."""
    if parse_formula(f"y ~ {r_spelling(text)}").groups:
        raise InputError(f"{text[:100]!r} holds a group-level term")


def _response(text: str) -> None:
    parsed = parse_formula(f"{text} ~ 1")
    if parsed.trials is not None:
        raise InputError(f"{text[:100]!r} is not a response expression")


def _trials(text: str) -> None:
    """A number (ASCII digits: '²'.isdigit() is true too) or a column name."""
    if text[:1].isdigit() and not (text.isascii() and text.isdigit() and len(text) <= 10):
        raise InputError(f"trials {text[:20]!r} is neither a count below 2^31 nor a column")


def _dpar_name(text: str) -> None:
    if not text.isidentifier():
        raise InputError(f"{text[:40]!r} is not a distributional parameter's name")


def _attribute(text: str) -> None:
    """A stateful transform's attribute: restored with setattr, so a plain public name."""
    if not text.isidentifier() or text.startswith("_"):
        raise InputError(f"{text[:40]!r} is not a transform's value")


NAME = Text(max_len=MAX_NAME, empty=False)
NAMES = ListOf(NAME, unique=True)
LEVEL = Either((Text(max_len=MAX_NAME), Number(), Boolean()))  # as formulae keeps them
FORMULA = Text(max_len=20_000, parse=_formula)
RHS = Text(max_len=20_000, parse=_rhs)
RESPONSE = Text(max_len=20_000, parse=_response)
TRANSFORM_KEY = Text(max_len=100, parse=_attribute)
STATE = ListOf(  # per term component: formulae's levels and stateful transforms' values
    Record(
        {
            "levels": optional(ListOf(LEVEL)),
            "transforms": ListOf(MapOf(Json(max_depth=8), key=TRANSFORM_KEY), max_items=100),
        }
    ),
    max_items=10_000,
)

VARIABLE = Record(
    {"type": Text(choices=frozenset({"numeric", "categorical"}))},
    optional={
        "levels": ListOf(LEVEL, min_items=1, unique=True),
        "mean": Number(),
        "sd": Number(low=0.0),
        "min": Number(),
        "max": Number(),
        "integer": Boolean(),  # a monotonic predictor's: effects vary it over whole numbers
        "median": Number(),
    },
)

BLOCK = Record(  # one formula's (terms | g): terms of several formulas joined by an ID share an id
    {
        "id": Integer(low=1, high=10_000),
        "formula": RHS,
        "terms": ListOf(NAME, min_items=1, unique=True),
        "variables": NAMES,
        "correlated": Boolean(),
        "state": STATE,
    },
    optional={
        "dpar": Text(max_len=100, parse=_dpar_name),
        # (mo(x) | g): the labels of its last terms, mo() terms of mu's (monotonic.check_group)
        "monotonic": ListOf(NAME, min_items=1, max_items=1_000, unique=True),
    },
)

SMOOTH = Record(  # one s() or t2() term: smooth_basis's state, checked by load_smooth_state
    {
        "text": Text(max_len=20_000),
        "columns": ListOf(NAME, min_items=1, max_items=100),
        "state": Json(max_depth=10),
        "smooths": ListOf(
            Record(
                {
                    "label": NAME,
                    "xs": ListOf(NAME, unique=True),
                    "blocks": ListOf(Integer(low=1, high=1_000_000), max_items=100),
                }
            ),
            min_items=1,
            max_items=10_000,
        ),
    }
)
MONOTONIC = Record(  # one mo() term: its column, the fitted minimum and number of steps
    {
        "text": Text(max_len=20_000),
        "column": NAME,
        "label": NAME,
        "min": Integer(low=-(2**53), high=2**53),
        "steps": Integer(low=1, high=1_000_000),
    },
    # an ordered text column's levels, lowest first (issue 24: older folders lack them)
    optional={"levels": ListOf(Text(max_len=MAX_NAME), min_items=2, unique=True)},
)
SMOOTHS = {
    "smooths": ListOf(SMOOTH, min_items=1, max_items=1_000),
    "monotonic": ListOf(MONOTONIC, min_items=1, max_items=1_000),
}

GP = Record(  # one gp() term: gp_basis's state, checked by load_gp_state
    {
        "text": Text(max_len=20_000),
        "columns": ListOf(NAME, min_items=1, max_items=100),
        "state": Json(max_depth=10),
        "gps": ListOf(
            Record({"label": NAME, "size": Integer(low=1, high=1_000_000)}),
            min_items=1,
            max_items=10_000,
        ),
    }
)
GPS = {"gps": ListOf(GP, min_items=1, max_items=1_000)}

POPULATION_FIELDS = {
    "formula": RHS,
    "intercept": Boolean(),
    "coefs": NAMES,
    "offset": Boolean(),
    "variables": NAMES,
    "state": STATE,
}
POPULATION = Record(POPULATION_FIELDS, optional=SMOOTHS | GPS)

AUTOCOR = Record(  # ar(), ma(), arma(), cosy() (mixfit/model/terms/autocor.py)
    {
        "class": Text(choices=frozenset({"arma", "cosy"})),
        "p": Integer(low=0, high=10_000),
        "q": Integer(low=0, high=10_000),
        "time": optional(NAME),
        "gr": optional(NAME),
    }
)

GROUP = Record(
    {
        "group": NAME,
        "factors": ListOf(NAME, min_items=1, max_items=100),
        "levels": ListOf(Text(max_len=MAX_NAME), min_items=1, unique=True),
        "blocks": ListOf(BLOCK, min_items=1, max_items=10_000),
    }
)

DESIGN: Node = Record(
    {
        "format": Const(FORMAT),
        "formula": FORMULA,
        "family": Text(choices=frozenset(FAMILIES)),
        "link": Text(max_len=100),
        "response": Record(
            {
                "name": RESPONSE,
                "trials": optional(Text(max_len=MAX_NAME, parse=_trials, empty=False)),
                "categories": ListOf(Text(max_len=MAX_NAME), unique=True, max_items=1_000),
                "binary_levels": optional(
                    ListOf(Text(max_len=MAX_NAME), min_items=2, max_items=2, unique=True)
                ),
            },
            optional={  # the addition terms weights() and se() (folders before issue 23 lack them)
                "weights": optional(NAME),
                "weights_scale": Boolean(),
                "se": optional(NAME),
                "se_sigma": Boolean(),
                "cens": optional(NAME),
                "cens_y2": optional(NAME),
                "trunc_lb": optional(NAME),  # trunc(): a number as written, or a column
                "trunc_ub": optional(NAME),
                "rate": optional(NAME),
                # the rate() and trunc() columns' means, where conditional effects hold them
                "addition_means": MapOf(Number(), key=NAME),
            },
        ),
        "variables": MapOf(VARIABLE, key=NAME),
        "population": POPULATION,
        "groups": ListOf(GROUP, max_items=10_000),
        "effects": NAMES,
    },
    optional={
        "formulas": ListOf(FORMULA, min_items=1, max_items=100),
        # per distributional parameter with a formula (sigma ~ x): its predictor and link
        "dpars": MapOf(
            Record({"link": Text(max_len=100), **POPULATION_FIELDS}, optional=SMOOTHS | GPS),
            key=Text(max_len=100, parse=_dpar_name),
        ),
        # mu's cs() terms (sratio, cratio, acat): their coefficients have one value per threshold
        "category_specific": Record(
            {"formula": RHS, "coefs": NAMES, "variables": NAMES, "state": STATE}
        ),
        "autocor": optional(AUTOCOR),
    },
)


def params(design: dict) -> tuple[FamilyParam, ...]:
    """The family's parameters the fit estimated: no sigma where se() fixed it at 0."""
    response = design["response"]
    sigma_fixed = response.get("se") is not None and not response.get("se_sigma", False)
    return free_params(FAMILIES[design["family"]], sigma_fixed)


def _check_category_dpars(design: dict) -> None:
    """A categorical fit's predictors are mu<cat>, one per category but the first, in order."""
    expected = category_dpars(design["response"]["categories"])
    if list(design.get("dpars", {})) != expected:
        raise InputError(
            f"the predictors do not match the categories (expected {', '.join(expected)[:200]})"
        )
    if any(part["link"] != "identity" for part in design["dpars"].values()):
        raise InputError("a categorical model's predictors enter categorical_logit unlinked")


def check_design(design: dict) -> None:
    """What the table can't say; raises InputError with the problem (the caller names the file)."""
    family = FAMILIES[design["family"]]
    if design["link"] not in family.links:
        raise InputError(
            f"family {family.name} has no link {design['link']!r} (links: {', '.join(family.links)})"
        )
    categories = design["response"]["categories"]
    if (family.ordinal or family.categorical) != bool(categories):
        raise InputError(f"family {family.name} does not match the response's categories")
    if family.categorical:
        _check_category_dpars(design)
    if (design["response"]["trials"] is None) == (family.name in TRIALS_FAMILIES):
        raise InputError(f"the response's trials do not match family {family.name}")
    if design["response"].get("se") is not None and family.name not in SE_FAMILIES:
        raise InputError(f"family {family.name} takes no se()")
    if design["response"].get("cens") is not None and family.name not in CENS_FAMILIES:
        raise InputError(f"family {family.name} takes no cens()")
    variables = design["variables"]
    for dpar, part in design.get("dpars", {}).items() if not family.categorical else ():
        if dpar not in {p.name for p in params(design)}:
            raise InputError(f"family {family.name} has no parameter {dpar[:40]!r}")
        if part["link"] != family.param(dpar).link:
            raise InputError(f"{dpar}'s link {part['link'][:40]!r} is not {family.name}'s")
    for part in [design["population"], *design.get("dpars", {}).values()]:
        for entry in part.get("smooths", []):
            _check_smooth(entry)
        for entry in part.get("gps", []):
            _check_gp(entry)
        _check_monotonic(part, design["variables"])
    read = list(design["population"]["variables"]) + list(design["effects"])
    read += [v for part in design.get("dpars", {}).values() for v in part["variables"]]
    if "category_specific" in design:
        if family.name not in ("sratio", "cratio", "acat"):
            raise InputError(f"family {family.name} takes no category-specific effects")
        read += design["category_specific"]["variables"]
    for group in design["groups"]:
        read += [v for block in group["blocks"] for v in block["variables"]]
        for block in group["blocks"]:
            _check_group_monotonic(block, design["population"])
    for name in read:
        if name not in variables:
            raise InputError(f"the column {name[:100]!r} is read but not described in variables")
    for name, entry in variables.items():
        numeric = ("mean", "sd", "min", "max")
        if entry["type"] == "categorical" and "levels" not in entry:
            raise InputError(f"variables.{name[:100]}: a categorical column without levels")
        if entry["type"] == "numeric" and not all(k in entry for k in numeric):
            raise InputError(f"variables.{name[:100]}: a numeric column needs {', '.join(numeric)}")


def _check_gp(entry: dict) -> None:
    """A gp term's state is gp_basis's (load_gp_state) and matches its GPs' count and sizes: one
    GP per by level, of k^D basis functions (approximate) or its fitted points (exact)."""
    from mixfit.model.terms.gp_basis import load_gp_state

    where = f"the gp term {entry['text'][:100]!r}"
    state = load_gp_state(entry["state"], where)
    by = state["by"]
    expected = list(state["covariates"]) + ([] if by is None else [by["variable"]])
    if entry["columns"] != expected:
        raise InputError(f"{where}: its columns do not match its state")
    if len(entry["gps"]) != len(state["fitted"]):
        raise InputError(f"{where}: {len(entry['gps'])} GPs, not {len(state['fitted'])}")
    for part, fitted in zip(entry["gps"], state["fitted"], strict=True):
        k, d = state["k"], len(state["covariates"])
        size = k**d if k is not None else len(fitted["points"])
        if part["size"] != size:
            raise InputError(f"{where}: the GP {part['label'][:100]!r} does not match its state")


def _check_group_monotonic(block: dict, population: dict) -> None:
    """A block's mo() terms are its last terms and mu's population-level mo() terms."""
    labels = block.get("monotonic", [])
    if not labels:
        return
    known = {entry["label"] for entry in population.get("monotonic", [])}
    if block["terms"][-len(labels) :] != labels or not set(labels) <= known:
        raise InputError("design.json: a group-level block's monotonic terms are not mu's")
    if block.get("dpar", "mu") != "mu":
        raise InputError("design.json: a group-level block's monotonic terms are not mu's")


def _check_monotonic(part: dict, variables: dict) -> None:
    """A mo() term reads a numeric column of its predictor (or an ordered text one, categorical
    of its levels up to the fitted highest), under brms's label of it."""
    from mixfit.model.terms import monotonic

    monotonic.check_entries(part.get("monotonic", []), "design.json")
    for entry in part.get("monotonic", []):
        name = entry["column"]
        kind = "numeric" if entry.get("levels") is None else "categorical"
        if name not in part["variables"] or variables.get(name, {}).get("type") != kind:
            raise InputError(f"design.json: the monotonic term's column {name[:100]!r} is unknown")
        if kind == "categorical":  # coded by the term's levels, varied over the fitted ones
            if variables[name].get("levels") != monotonic.fitted_levels(entry):
                raise InputError(
                    f"design.json: {entry['text'][:100]!r} does not match its column's levels"
                )
            continue
        low, high = variables[name].get("min"), variables[name].get("max")
        if (low is not None and low != entry["min"]) or (
            high is not None and high - entry["min"] != entry["steps"]
        ):
            raise InputError(f"design.json: {entry['text'][:100]!r} does not match its column")


def _check_smooth(entry: dict) -> None:
    """A smooth term's state is mgcv's (load_smooth_state) and matches its smooths' names and
    sizes: one smooth per by level, its unpenalised columns and penalised blocks as the state's."""
    from mixfit.model.terms.smooth_basis import load_smooth_state

    where = f"the smooth term {entry['text'][:100]!r}"
    state = load_smooth_state(entry["state"], where)
    by = state["by"]
    count = 1 if by is None else len(by["levels"])
    expected = [c for c in state["covariates"]] + ([] if by is None else [by["variable"]])
    if entry["columns"] != expected:
        raise InputError(f"{where}: its columns do not match its state")
    if len(entry["smooths"]) != count:
        raise InputError(f"{where}: {len(entry['smooths'])} smooths, not {count}")
    sizes = [len(block) for block in state["blocks"]]
    for part in entry["smooths"]:
        if len(part["xs"]) != len(state["fixed"]) or part["blocks"] != sizes:
            raise InputError(
                f"{where}: the smooth {part['label'][:100]!r} does not match its state"
            )

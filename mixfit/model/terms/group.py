"""Group-level effects (brms's ``stan_re``/``data_re``): one block per ``(terms | g)`` term, or per
ID that joins terms across formulas. A block's SDs, correlations and standardised effects are
parameters of the model; each of its columns feeds one predictor."""

from __future__ import annotations

from mixfit.model.centring import can_nest, nest_levels, population_map
from mixfit.model.design import Design, GroupBlock
from mixfit.model.priors import Slot

TEMPLATE = "terms/group.stan"


def context(design: Design, block: GroupBlock) -> dict:
    """What the snippet needs of a block: its id, structure and which columns feed which
    predictor, never data."""
    split = len(block.feeds) > 1
    columns = {}
    for dpar in block.feeds:
        first = block.columns(dpar)[0]
        intercept = block.term_name(first) == "Intercept"
        s = "" if dpar == "mu" else f"_{dpar}"
        if split:
            start, last = f"first_{block.id}{s}", f"last_{block.id}{s}"
            rest = f"({start} + 1)" if intercept else start
        else:
            start, last, rest = "1", f"M_{block.id}", "2" if intercept else "1"
        columns[dpar] = {"s": s, "first": start, "rest": rest, "last": last, "intercept": intercept}
    centrable = block.mu_only
    return {
        "id": block.id,
        "cor": block.has_cor,
        "intercept": block.intercept,
        "centrable": centrable,
        "split": split,
        "nesting": centrable and block.intercept and can_nest(design),
        "blocks": len(design.blocks),
        "columns": columns,
        # its mo() columns, the last ones: Z_k has none of them, monotonic.stan adds their share
        "mo": len(block.monotonic),
    }


def stan_data(design: Design, block: GroupBlock) -> dict:
    data = {
        f"N_{block.id}": len(block.levels),
        f"M_{block.id}": len(block.terms),
        f"J_{block.id}": block.J,
        f"Z_{block.id}": block.stan_Z,
    }
    if len(block.feeds) > 1:
        for dpar in block.feeds:
            s = "" if dpar == "mu" else f"_{dpar}"
            columns = block.columns(dpar)
            data[f"first_{block.id}{s}"] = columns[0] + 1
            data[f"last_{block.id}{s}"] = columns[-1] + 1
    return data


def centring_data(
    design: Design, centred: tuple[bool, ...], nests: tuple[int, ...], intercept: bool
) -> dict:
    """The data flags of centred sampling (mixfit/model/centring.py) of the blocks that have it."""
    data: dict = {}
    blocks = design.blocks
    maps = population_map(design, list(centred), intercept)
    for block, centre, F, nest in zip(blocks, centred, maps, nests):
        if not block.mu_only:
            continue
        data[f"centred_{block.id}"] = int(centre)
        data[f"F_{block.id}"] = F
        if block.intercept and can_nest(design):
            data[f"nest_{block.id}"] = nest
            data[f"nest_level_{block.id}"] = nest_levels(design, block, nest)
    return data


def shared(block: dict) -> list[tuple[str, str]]:
    """What a reduce_sum slice needs of a block: (Stan type, name) per argument."""
    k = block["id"]
    args = [("data array[] int", f"J_{k}"), ("data matrix", f"Z_{k}"), ("matrix", f"r_{k}")]
    if block["split"]:
        for c in block["columns"].values():
            args += [("data int", c["first"]), ("data int", c["last"])]
    return args


def slots(block: GroupBlock) -> list[Slot]:
    """Prior slots: the block's SDs (one per term) and the Cholesky factor of its correlations."""
    labels = [(term, block.group) for term in block.terms]
    dpars = list(block.dpars) if len(block.feeds) > 1 else None
    out = [
        Slot(f"sd_{block.id}", "sd", 0.0, None, labels, dpar=block.feeds[0], element_dpars=dpars)
    ]
    if block.has_cor:
        dpar = block.feeds[0] if len(block.feeds) == 1 else "mu"
        out.append(
            Slot(f"L_{block.id}", "cor", None, None, [("", block.group)], scalar=True, dpar=dpar)
        )
    return out

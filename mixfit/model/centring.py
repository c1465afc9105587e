"""Which group-level blocks to sample centred, and on what.

brms samples every block non-centred: standardised z, scaled by the SDs. That suits levels with
little data, whose effects the population distribution shapes. When each level has plenty of data
it is the wrong way round: every z is tied to the SDs, the intercept to every level, and NUTS needs
long trajectories (poisson, 1,000 levels of 50 rows: Intercept bulk ESS 12 from 300 draws). Sampled
centred, each level's coefficients are the parameters and the population effects their mean
(hierarchical centring; Intercept ESS 406 from the same 300 draws).

Both forms are in every compiled program; a data flag per block picks one, so the choice costs no
recompile. The rule: centre a block when its levels' data pin their intercepts far more tightly than
the levels differ, i.e. the variance of per-level intercept estimates on the link scale is more than
``RATIO`` times the typical sampling variance of one estimate (the population SD then exceeds about
twice a level's standard error). Blocks without an intercept, and families without a simple
per-level estimate, stay non-centred as in brms.

A block with another nested in it (departments, each with its own instructors) learns about a level
only through the inner levels inside it: the data pin down each department's mean, but how much of
it is the department's and how much its instructors' is left to the two SDs. Such a level's
estimate varies as the mean of its inner levels' estimates does, so its sampling variance is the
spread of the inner estimates within a level over their number, whatever the rows. (Counting rows
put 14 departments of 5,000 rows centred, with their instructors' effects free beside them; with a
small department SD that posterior is a funnel NUTS could not cross: R-hat 3.)

A centred block nested in another (instructors within departments) is centred on its outer level's
effect as well: each instructor's intercept is then drawn around the intercept plus its department's
effect, which reaches the likelihood only through its instructors. Centred on the intercept alone,
moving a department's effect one way and its 80 instructors' the other leaves the likelihood as it
is; against a diagonal mass matrix that ridge cost NUTS 511 leapfrog steps per draw on InstEval's
shape (73,000 rows), and 31 centred within the departments.
"""

from __future__ import annotations

import numpy as np

from mixfit.model.design import Design, GroupBlock

RATIO = 5.0


def centred_blocks(design: Design) -> list[bool]:
    """Per group-level block: sample it centred? Only blocks of mu's terms are ever centred: a
    block that feeds another predictor (sigma ~ (1 | g)) has no per-level estimate here, nor
    does a model with weights, known SEs or censoring: those stay non-centred, as brms's."""
    response = design.response
    if response.weights is not None or response.se is not None or response.cens is not None:
        return [False] * len(design.blocks)
    # a block with mo() columns stays non-centred: centred, its mo() coefficients would be
    # centred on 0 rather than on bsp, which is not among the population effects F maps
    return [_data_rich(design, block) and not block.monotonic for block in design.blocks]


def population_map(design: Design, centred: list[bool], intercept: bool) -> list[np.ndarray]:
    """Per block, the matrix taking the population-level effects (the intercept first, when the
    model has one, on the predictors' own scale) to the centre of each term's level coefficients:
    a term that is also a population-level effect is centred on it, in the first centred block
    that has it; other terms on zero."""
    population = (["Intercept"] if intercept else []) + design.coefs
    taken: set[str] = set()
    maps = []
    for block, centre in zip(design.blocks, centred):
        F = np.zeros((len(block.terms), len(population)))
        for row, term in enumerate(block.terms):
            if centre and term in population and term not in taken:
                F[row, population.index(term)] = 1.0
                taken.add(term)
        maps.append(F)
    return maps


def nesting(design: Design, centred: list[bool]) -> list[int]:
    """Per block: the id of the block whose levels hold its levels, on whose effect its centred
    intercepts are centred too, or 0. Inner blocks choose first, each its nearest outer block (the
    one with most levels); a block chosen as outer keeps its own centre, so the Stan program never
    chains two such steps."""
    nests = [0] * len(design.blocks)
    if not can_nest(design):
        return nests
    taken: set[int] = set()
    order = sorted(design.blocks, key=lambda b: -len(b.levels))
    for inner, centre in sorted(zip(design.blocks, centred), key=lambda p: -len(p[0].levels)):
        if not centre or not inner.intercept or inner.id in taken:
            continue
        outers = [o for o in order if _nestable(o) and _holds(o, inner)]
        if outers:
            nests[design.blocks.index(inner)] = outers[0].id
            taken.add(outers[0].id)
    return nests


def can_nest(design: Design) -> bool:
    """Is there room in the program for nesting: two blocks of mu with intercepts?"""
    return sum(_nestable(block) for block in design.blocks) > 1


def _nestable(block: GroupBlock) -> bool:
    return block.mu_only and block.intercept


def nest_levels(design: Design, inner: GroupBlock, nest: int) -> np.ndarray:
    """Each level of ``inner``: its level (from 1) in block ``nest``, or 0s where it nests in none."""
    if not nest:
        return np.zeros(len(inner.levels), dtype=int)
    return outer_levels(inner, next(b for b in design.blocks if b.id == nest))


def outer_levels(inner: GroupBlock, outer: GroupBlock) -> np.ndarray:
    """Each level of ``inner``: its level of ``outer`` (from 1)."""
    first_row = np.unique(inner.J - 1, return_index=True)[1]
    return outer.J[first_row]


def _data_rich(design: Design, block: GroupBlock) -> bool:
    estimate = _ESTIMATES.get((design.family.family.name, design.family.link))
    if estimate is None or not _nestable(block):
        return False
    values, variances = estimate(design, *_levels(block))
    noise = float(np.median(variances))
    for inner in _nested_in(design, block):
        noise = max(noise, _through(inner, block, estimate, design))
    return bool(np.var(values) > RATIO * noise)


def _levels(block: GroupBlock) -> tuple[np.ndarray, np.ndarray]:
    """Each row's level (from 0) and each level's number of rows."""
    level = block.J - 1
    return level, np.bincount(level, minlength=len(block.levels))


def _nested_in(design: Design, outer: GroupBlock) -> list[GroupBlock]:
    """The blocks whose levels each lie within one level of ``outer``, and are more of them."""
    return [inner for inner in design.blocks if _holds(outer, inner)]


def _holds(outer: GroupBlock, inner: GroupBlock) -> bool:
    """Does each level of ``inner`` lie within one level of ``outer``, which has fewer levels?"""
    if len(inner.levels) <= len(outer.levels):
        return False
    pairs = np.unique(np.column_stack([inner.J, outer.J]), axis=0)
    return len(pairs) == len(np.unique(inner.J))  # one outer level per inner level


def _through(inner: GroupBlock, outer: GroupBlock, estimate, design: Design) -> float:
    """The typical sampling variance of an outer level's estimate taken as the mean of its inner
    levels' estimates: their pooled variance within outer levels over how many each holds."""
    values, _ = estimate(design, *_levels(inner))
    outer_of = outer_levels(inner, outer) - 1
    count = np.bincount(outer_of, minlength=len(outer.levels))
    totals = np.bincount(outer_of, weights=values, minlength=len(outer.levels))
    means = totals / np.maximum(count, 1)
    spare = int(np.sum(np.maximum(count - 1, 0)))
    if spare == 0:  # one inner level per outer level: the two blocks can't be told apart
        return np.inf
    pooled = np.sum((values - means[outer_of]) ** 2) / spare
    return float(np.median(pooled / count[count > 0]))


def _normal(design: Design, level: np.ndarray, rows: np.ndarray):
    y = design.response.values.astype(float)
    means = np.bincount(level, weights=y) / rows
    within = np.sum((y - means[level]) ** 2) / (len(y) - len(rows)) if len(y) > len(rows) else 0.0
    return means, (within or np.var(y)) / rows


def _log(design: Design, level: np.ndarray, rows: np.ndarray):
    counts = np.bincount(level, weights=design.response.values) + 0.5
    return np.log(counts / rows), 1 / counts


def _logit(design: Design, level: np.ndarray, rows: np.ndarray):
    trials = design.response.trials
    trials = np.ones(len(level)) if trials is None else trials
    successes = np.bincount(level, weights=design.response.values) + 0.5
    failures = np.bincount(level, weights=trials - design.response.values) + 0.5
    return np.log(successes / failures), 1 / successes + 1 / failures


# (family, link): per level, an estimate of its intercept on the link scale and its variance
_ESTIMATES = {
    ("gaussian", "identity"): _normal,
    ("student", "identity"): _normal,
    ("poisson", "log"): _log,
    ("negbinomial", "log"): _log,
    ("bernoulli", "logit"): _logit,
    ("binomial", "logit"): _logit,
}

"""Population-level effects of one predictor (brms's ``stan_fe``/``data_fe``): X, b and the
intercept, sampled on centred predictors and recovered on the predictors' own scale."""

from __future__ import annotations

from mixfit.model.design import Design, Predictor
from mixfit.model.priors import Slot

TEMPLATE = "terms/population.stan"


def present(design: Design, predictor: Predictor) -> bool:
    """Every predictor has a population-level part (perhaps of no columns)."""
    return True


def context(design: Design, predictor: Predictor) -> dict:
    """What the snippet needs of the predictor: names and structure, never data."""
    ordinal = predictor.dpar == "mu" and design.family.family.ordinal
    intercept = predictor.has_intercept and not ordinal
    return {
        "dpar": predictor.dpar,
        "s": predictor.suffix,
        "eta": predictor.dpar,
        "of": "" if predictor.dpar == "mu" else f" of {predictor.dpar}",
        "intercept": intercept,
        "thresholds": ordinal,
        "centred": intercept or ordinal,
        # mu leaves Xc * b to the family's likelihood (Stan's GLM functions take it)
        "glm": predictor.dpar == "mu",
    }


def stan_data(predictor: Predictor) -> dict:
    s = predictor.suffix
    return {f"K{s}": predictor.X.shape[1], f"X{s}": predictor.X}


def shared(p: dict) -> list[tuple[str, str]]:
    """What a reduce_sum slice needs of it: (Stan type, name) per argument."""
    args = [("data matrix", f"Xc{p['s']}"), ("vector", f"b{p['s']}")]
    if p["intercept"]:
        args.append(("real", f"Intercept{p['s']}"))
    return args


def slots(design: Design, predictor: Predictor) -> list[Slot]:
    """Prior slots: b of every coefficient, and the intercept (or an ordinal's thresholds)."""
    s, dpar = predictor.suffix, predictor.dpar
    out = [Slot(f"b{s}", "b", None, None, [(c, "") for c in predictor.coefs], dpar=dpar)]
    if dpar == "mu" and design.family.family.ordinal:
        thresholds = [(str(k), "") for k in range(1, len(design.response.categories))]
        out.append(Slot("Intercept", "Intercept", None, None, thresholds))
    elif predictor.has_intercept:
        out.append(
            Slot(f"Intercept{s}", "Intercept", None, None, [("", "")], scalar=True, dpar=dpar)
        )
    return out

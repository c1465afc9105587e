"""An offset of one predictor (brms's ``stan_offset``): a known term with no coefficient."""

from __future__ import annotations

from mixfit.model.design import Design, Predictor

TEMPLATE = "terms/offset.stan"


def present(design: Design, predictor: Predictor) -> bool:
    return predictor.offset is not None


def context(design: Design, predictor: Predictor) -> dict:
    return {
        "s": predictor.suffix,
        "eta": predictor.dpar,
        "of": "" if predictor.dpar == "mu" else f" of {predictor.dpar}",
    }


def stan_data(predictor: Predictor) -> dict:
    return {f"offsets{predictor.suffix}": predictor.offset}


def shared(p: dict) -> list[tuple[str, str]]:
    return [("data vector", f"offsets{p['s']}")]

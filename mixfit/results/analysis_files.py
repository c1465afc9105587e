"""What a fit leaves for the analysis after it (mixfit/analysis/): the draws under brms's names
(draws.nc), the design for new data (design.json), the Bayesian R² (r2.csv) and the
conditional-effects plots. Each is computed as the analysis commands compute it from the folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from mixfit.analysis.newdata import training_rows
from mixfit.analysis.predict import FamilyLink
from mixfit.analysis.r2 import bayes_r2_arma, bayes_r2_draws, bayes_r2_table
from mixfit.analysis.saved_fit import Posterior, posterior_draws
from mixfit.model.program import Model
from mixfit.results import design_file
from mixfit.results.arviz_api import write_netcdf
from mixfit.results.naming import brms_posterior, with_posterior
from mixfit.results.tables import write_table


@dataclass
class AnalysisFiles:
    draws: object  # the InferenceData (or DataTree), posterior under brms's names
    design: dict
    posterior: Posterior
    r2: pd.DataFrame | None  # None: no R2 for the family (categorical, as brms's bayes_R2)

    def write(self, stage: Path) -> None:
        """design.json and r2.csv (draws.nc is write_draws')."""
        design_file.write(self.design, stage / "design.json")
        if self.r2 is not None:
            write_table(self.r2, stage / "r2.csv")

    def plots(self, plot_dir: Path) -> list[Path]:
        from mixfit.results.effects_plots import write_effects_plots

        return write_effects_plots(self.design, self.posterior, plot_dir)


def analysis_draws(model: Model, idata):
    """The fit's draws as draws.nc holds them: the posterior under brms's names."""
    return with_posterior(idata, brms_posterior(model, idata.posterior))


def write_draws(draws, stage: Path) -> None:
    write_netcdf(draws, stage / "draws.nc")


def analysis_files(model: Model, draws, frame: pd.DataFrame, prob: float) -> AnalysisFiles:
    """``draws``: analysis_draws'; ``frame``: the rows the model was fitted to."""
    named = draws["posterior"]
    if isinstance(named, xr.DataTree):  # ArviZ 1.x's group
        named = named.to_dataset()
    design = design_file.describe(model, frame)
    posterior = posterior_draws(named, design)
    if model.family.categorical:  # brms's bayes_R2 refuses it: its categories have no mean
        return AnalysisFiles(draws, design, posterior, None)
    y = model.design.response.values
    rows, link = training_rows(model.design), FamilyLink.of(design)
    autocor = model.design.autocor
    if autocor is not None and autocor.cls == "arma":  # the ARMA terms are part of epred
        orders = [
            np.stack([named[f"{k}[{j}]"].values.reshape(-1) for j in range(1, n + 1)], 1)
            if n
            else None
            for k, n in (("ar", autocor.term.p), ("ma", autocor.term.q))
        ]
        r2 = bayes_r2_arma(link, posterior, rows, y, (*orders, autocor.J_lag))
    else:
        r2 = bayes_r2_draws(link, posterior, rows, y)
    return AnalysisFiles(draws, design, posterior, bayes_r2_table(r2, prob))

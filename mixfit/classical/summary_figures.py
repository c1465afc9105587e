"""The figures lme4's summary prints beside the estimates, from the library's fit: the criterion
(REML's at convergence; AIC, BIC, logLik, deviance and df.resid for ML and GLMMs), the scaled
residuals' quantiles, each fixed effect's t value (z value and Pr(>|z|) for a GLMM, as glmer) and
the correlation of the fixed effects' estimates."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

QUANTILES = {"Min": 0.0, "1Q": 0.25, "Median": 0.5, "3Q": 0.75, "Max": 1.0}


@dataclass
class Figures:
    criterion: dict[str, float]  # {"REML criterion at convergence": ...} or AIC, BIC, ...
    residuals: dict[str, float]  # the scaled residuals' Min, 1Q, Median, 3Q, Max
    tests: pd.DataFrame  # term, "t value" (LMM) or "z value" and "Pr(>|z|)" (GLMM)
    correlation: pd.DataFrame  # the fixed effects' estimates, term x term

    @property
    def statistic(self) -> str:
        return "t value" if "t value" in self.tests else "z value"


def figures(result, names: dict[str, str], gaussian: bool) -> Figures:
    """``result``: glmm's fit; ``names``: its coefficient names -> mixfit's terms."""
    from glmm.summary import pearson_residuals

    if result.reml:
        criterion = {"REML criterion at convergence": -2.0 * result.loglik}
    else:
        criterion = {
            "AIC": result.aic,
            "BIC": result.bic,
            "logLik": result.loglik,
            "deviance": -2.0 * result.loglik,  # as summary.merMod prints it
            "df.resid": result.nobs - result.df,
        }
    residuals = {}
    if len(result.fitted) == len(result.y) > 0:  # a fit that stopped early has no fitted values
        # lme4's scaled residuals: Pearson's, divided by sigma for a linear mixed model
        values = np.quantile(pearson_residuals(result), list(QUANTILES.values()))
        residuals = dict(zip(QUANTILES, map(float, values)))
    kept = ~np.asarray(result.aliased, dtype=bool)
    terms = [names[n] for n, k in zip(result.names, kept) if k]
    beta = np.asarray(result.beta, dtype=float)[kept]
    se = np.asarray(result.se, dtype=float)[kept]
    statistic = beta / se
    tests = pd.DataFrame({"term": terms})
    if gaussian:  # lmer prints no p-values: their degrees of freedom are not settled
        tests["t value"] = statistic
    else:
        tests["z value"] = statistic
        tests["Pr(>|z|)"] = [math.erfc(abs(z) / math.sqrt(2)) for z in statistic]
    vcov = np.asarray(result.vcov, dtype=float).reshape(len(kept), len(kept))[kept][:, kept]
    sd = np.sqrt(np.diag(vcov))
    correlation = pd.DataFrame(vcov / np.outer(sd, sd), index=terms, columns=terms)
    return Figures(criterion, residuals, tests, correlation)

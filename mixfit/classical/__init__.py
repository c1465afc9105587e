"""The classical fit beside the Bayesian one: the model fitted as lme4 fits it (REML or ML, Laplace
ML for GLMMs) on mixfit's own design, lme4's verdict on it, its comparison with the posterior, and
its part of a results folder (tables, lme4's summary, plots)."""

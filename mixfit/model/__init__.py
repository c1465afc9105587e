"""Stage 1, the model: a spec's data, formula, family and priors in; out, the design (numbers
per row and per group level) and the Stan program with its data. Nothing here runs Stan."""

from mixfit.model.deferred_scipy import import_formulae

import_formulae()  # before any module of the model imports formulae: see deferred_scipy.py

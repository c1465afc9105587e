"""Stage 1, the model: a spec's data, formula, family and priors in; out, the design (numbers
per row and per group level) and the Stan program with its data. Nothing here runs Stan."""

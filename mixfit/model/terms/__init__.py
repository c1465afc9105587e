"""Term kinds, as brms's generator has them: each module holds one kind's data, Stan snippet
(stan_templates/terms/KIND.stan), names and prior slots. A predictor (one per distributional
parameter) is assembled from them by mixfit/model/program.py."""

{#- Smooth terms of one predictor (brms's stan_sm): the unpenalised columns Xs with coefficients
    bs, and per smooth i its penalised blocks Zs_i_j, each with standardised coefficients zs_i_j
    and one SD sds_i_j. ``p.s`` is the predictor's suffix; ``sm.i`` a smooth's "_1", "_sigma_1". -#}
{% macro data(p) %}
  // data for splines{{ p.of }}
  int Ks{{ p.s }};  // number of linear effects
  matrix[N, Ks{{ p.s }}] Xs{{ p.s }};  // design matrix for the linear effects
{% for sm in p.smooths %}
  // data for spline {{ sm.label }}
  int nb{{ sm.i }};  // number of bases
  array[nb{{ sm.i }}] int knots{{ sm.i }};  // number of knots
  // basis function matrices
{% for j in sm.blocks %}
  matrix[N, knots{{ sm.i }}[{{ j }}]] Zs{{ sm.i }}_{{ j }};
{% endfor %}
{% endfor %}
{%- endmacro %}
{% macro parameters(p) %}
  vector[Ks{{ p.s }}] bs{{ p.s }};  // spline coefficients{{ p.of }}
{% for sm in p.smooths %}
  // parameters for spline {{ sm.label }}
  // standardized spline coefficients
{% for j in sm.blocks %}
  vector[knots{{ sm.i }}[{{ j }}]] zs{{ sm.i }}_{{ j }};
  real<lower=0> sds{{ sm.i }}_{{ j }};  // standard deviations of spline coefficients
{% endfor %}
{% endfor %}
{%- endmacro %}
{% macro transformed_parameters(p) %}
  // actual spline coefficients{{ p.of }}
{% for sm in p.smooths %}
{% for j in sm.blocks %}
  vector[knots{{ sm.i }}[{{ j }}]] s{{ sm.i }}_{{ j }} = sds{{ sm.i }}_{{ j }} * zs{{ sm.i }}_{{ j }};
{% endfor %}
{% endfor %}
{%- endmacro %}
{#- added to the predictor over every row (rows "") or a reduce_sum slice's rows start:end -#}
{% macro predictor(p, rows) %}
{% set at = ("[" ~ rows ~ "]") if rows else "" %}
    {{ p.eta }} += Xs{{ p.s }}{{ at }} * bs{{ p.s }};  // the smooths' unpenalised part
{% for sm in p.smooths %}
{% for j in sm.blocks %}
    {{ p.eta }} += Zs{{ sm.i }}_{{ j }}{{ at }} * s{{ sm.i }}_{{ j }};{{ ("  // " ~ sm.label) if loop.first }}
{% endfor %}
{% endfor %}
{%- endmacro %}
{% macro model(p) %}
{% for sm in p.smooths %}
{% for j in sm.blocks %}
  target += std_normal_lpdf(zs{{ sm.i }}_{{ j }});
{% endfor %}
{% endfor %}
{%- endmacro %}

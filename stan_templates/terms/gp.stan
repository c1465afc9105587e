{#- Gaussian process terms of one predictor (brms's stan_gp): per term i, sdgp_i and lscale_i (an
    element per GP: one, or one per level of its by factor) and the standardised latent variables
    zgp_i (zgp_i_j per level). gp_pred_i is the GP at its points: cholesky(K + 1e-12 I) * zgp for
    the exact GP, Xgp * (sqrt(spd) .* zgp) for the approximate one (the exp_quad kernel's
    spectral density at slambda); a row takes its point's value through Jgp. ``gp.i`` is "_1",
    "_sigma_1". -#}
{% macro sizes(gp, j) -%}
{%- if gp.levels is none -%}
{{ ("Nsubgp" ~ gp.i) if gp.gr else "N" }}
{%- else -%}
{{ ("Nsubgp" ~ gp.i) if gp.gr else ("Ngp" ~ gp.i) }}[{{ j }}]
{%- endif -%}
{%- endmacro %}
{% macro data(p) %}
{% for gp in p.gps %}
  // data of the Gaussian process {{ gp.label }}{{ p.of }}
  int<lower=1> Kgp{{ gp.i }};  // number of sub-GPs (1 unless 'by' was used)
  int<lower=1> Dgp{{ gp.i }};  // GP dimension
{% if gp.approx %}
  int<lower=1> NBgp{{ gp.i }};  // number of basis functions of the approximate GP
{% endif %}
{% if gp.levels is none %}
{% if gp.gr %}
  int<lower=1> Nsubgp{{ gp.i }};  // number of latent GP points
  array[N] int<lower=1> Jgp{{ gp.i }};  // each row's point
{% endif %}
{% if gp.approx %}
  matrix[{{ sizes(gp, 0) }}, NBgp{{ gp.i }}] Xgp{{ gp.i }};  // the basis functions at the points
  matrix[NBgp{{ gp.i }}, Dgp{{ gp.i }}] slambda{{ gp.i }};  // square roots of their eigenvalues
{% else %}
  array[{{ sizes(gp, 0) }}] vector[Dgp{{ gp.i }}] Xgp{{ gp.i }};  // the points
{% endif %}
{% else %}
  array[Kgp{{ gp.i }}] int<lower=1> Ngp{{ gp.i }};  // rows of each sub-GP
{% if gp.gr %}
  array[Kgp{{ gp.i }}] int<lower=1> Nsubgp{{ gp.i }};  // latent points of each sub-GP
{% endif %}
{% for j in gp.levels %}
  array[Ngp{{ gp.i }}[{{ j }}]] int<lower=1> Igp{{ gp.i }}_{{ j }};  // the level's rows
  vector[Ngp{{ gp.i }}[{{ j }}]] Cgp{{ gp.i }}_{{ j }};
{% if gp.gr %}
  array[Ngp{{ gp.i }}[{{ j }}]] int<lower=1> Jgp{{ gp.i }}_{{ j }};  // each row's point
{% endif %}
{% if gp.approx %}
  matrix[{{ sizes(gp, j) }}, NBgp{{ gp.i }}] Xgp{{ gp.i }}_{{ j }};
  matrix[NBgp{{ gp.i }}, Dgp{{ gp.i }}] slambda{{ gp.i }}_{{ j }};
{% else %}
  array[{{ sizes(gp, j) }}] vector[Dgp{{ gp.i }}] Xgp{{ gp.i }}_{{ j }};
{% endif %}
{% endfor %}
{% endif %}
{% endfor %}
{%- endmacro %}
{% macro parameters(p) %}
{% for gp in p.gps %}
  vector<lower=0>[Kgp{{ gp.i }}] sdgp{{ gp.i }};  // GP standard deviation parameters{{ p.of }}
  vector<lower=0>[Kgp{{ gp.i }}] lscale{{ gp.i }};  // GP length-scale parameters
{% if gp.levels is none %}
  vector[{{ ("NBgp" ~ gp.i) if gp.approx else sizes(gp, 0) }}] zgp{{ gp.i }};  // latent variables of the GP
{% else %}
{% for j in gp.levels %}
  vector[{{ ("NBgp" ~ gp.i) if gp.approx else sizes(gp, j) }}] zgp{{ gp.i }}_{{ j }};  // latent variables of the GP
{% endfor %}
{% endif %}
{% endfor %}
{%- endmacro %}
{% macro latent(gp, sfx, j) %}
{% if gp.approx %}
  vector[NBgp{{ gp.i }}] rgp{{ sfx }} = sqrt(square(sdgp{{ gp.i }}[{{ j }}])
      * (sqrt(2 * pi()) * lscale{{ gp.i }}[{{ j }}])^Dgp{{ gp.i }}
      * exp(-0.5 * square(lscale{{ gp.i }}[{{ j }}]) * rows_dot_self(slambda{{ sfx }}))) .* zgp{{ sfx }};
  vector[{{ sizes(gp, j) }}] gp_pred{{ sfx }} = Xgp{{ sfx }} * rgp{{ sfx }};
{% else %}
  vector[{{ sizes(gp, j) }}] gp_pred{{ sfx }} = cholesky_decompose(add_diag(
      gp_exp_quad_cov(Xgp{{ sfx }}, sdgp{{ gp.i }}[{{ j }}], lscale{{ gp.i }}[{{ j }}]), 1e-12)) * zgp{{ sfx }};
{% endif %}
{%- endmacro %}
{% macro transformed_parameters(p) %}
  // the Gaussian processes at their points{{ p.of }}
{% for gp in p.gps %}
{% if gp.levels is none %}
{{ latent(gp, gp.i, 1) }}
{% else %}
{% for j in gp.levels %}
{{ latent(gp, gp.i ~ "_" ~ j, j) }}
{% endfor %}
{% endif %}
{% endfor %}
{%- endmacro %}
{#- added to the predictor over every row (rows "") or a reduce_sum slice's rows start:end -#}
{% macro predictor(p, rows) %}
{% for gp in p.gps %}
{% if gp.levels is none %}
{% if gp.gr %}
    {{ p.eta }} += gp_pred{{ gp.i }}[Jgp{{ gp.i }}{{ ("[" ~ rows ~ "]") if rows }}];  // {{ gp.label }}
{% else %}
    {{ p.eta }} += gp_pred{{ gp.i }}{{ ("[" ~ rows ~ "]") if rows }};  // {{ gp.label }}
{% endif %}
{% else %}
{% for j in gp.levels %}
{% set sfx = gp.i ~ "_" ~ j %}
{% set point = ("Jgp" ~ sfx ~ "[m]") if gp.gr else "m" %}
{% if rows %}
    for (m in 1:Ngp{{ gp.i }}[{{ j }}]) {  // {{ gp.label }}, level {{ j }}: its rows in this slice
      if (Igp{{ sfx }}[m] >= start && Igp{{ sfx }}[m] <= end) {
        {{ p.eta }}[Igp{{ sfx }}[m] - start + 1] += Cgp{{ sfx }}[m] * gp_pred{{ sfx }}[{{ point }}];
      }
    }
{% elif gp.gr %}
    {{ p.eta }}[Igp{{ sfx }}] += Cgp{{ sfx }} .* gp_pred{{ sfx }}[Jgp{{ sfx }}];  // {{ gp.label }}, level {{ j }}
{% else %}
    {{ p.eta }}[Igp{{ sfx }}] += Cgp{{ sfx }} .* gp_pred{{ sfx }};  // {{ gp.label }}, level {{ j }}
{% endif %}
{% endfor %}
{% endif %}
{% endfor %}
{%- endmacro %}
{% macro model(p) %}
{% for gp in p.gps %}
{% if gp.levels is none %}
  target += std_normal_lpdf(zgp{{ gp.i }});
{% else %}
{% for j in gp.levels %}
  target += std_normal_lpdf(zgp{{ gp.i }}_{{ j }});
{% endfor %}
{% endif %}
{% endfor %}
{%- endmacro %}

{#- categorical (unordered categories), brms 2.18's: a linear predictor mu<cat> per category but
    the first, the reference, whose own is 0; categorical_logit takes the K values of a row #}
{% set row %}[0, {% for d in dpars %}{{ d }}[n]{{ ", " if not loop.last }}{% endfor %}]'{% endset %}
{% macro data() %}
  int<lower=2> ncat;  // number of categories
  array[N] int<lower=1, upper=ncat> Y;  // response category
{%- endmacro %}
{% macro transformed_data() %}{% endmacro %}
{% macro parameters() %}{% endmacro %}
{% macro likelihood() %}
    for (n in 1:N) {
      target += categorical_logit_lpmf(Y[n] | {{ row }});
    }
{%- endmacro %}
{% macro y_rep_type() %}array[N] int{% endmacro %}
{% macro predictions() %}
    for (n in 1:N) {
      vector[ncat] mu_n = {{ row }};
      log_lik[n] = categorical_logit_lpmf(Y[n] | mu_n);
      y_rep[n] = categorical_logit_rng(mu_n);
    }
{%- endmacro %}
{#- row n's log-likelihood: a weighted model's likelihood (weights[n] times it) #}
{% macro row_lpdf() %}categorical_logit_lpmf(Y[n] | {{ row }}){% endmacro %}

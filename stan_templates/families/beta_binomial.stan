{#- beta-binomial, as brms 2.18's: mean mu (the inverse link of the linear predictor) and precision
    phi, beta_binomial(trials, mu * phi, (1 - mu) * phi) #}
{% macro data() %}
  array[N] int<lower=0> Y;  // number of successes
  array[N] int<lower=0> trials;  // number of trials
{%- endmacro %}
{% macro transformed_data() %}{% endmacro %}
{% macro parameters() %}{% endmacro %}
{#- the beta's two shapes for the rows' linear predictor eta #}
{% macro shapes(eta, index=None) %}
{%- set p = inverse_link.format(eta) -%}
{%- if index -%}{{ p }} * {{ at("phi", index) }}, (1 - {{ p }}) * {{ at("phi", index) }}
{%- else -%}{{ times("phi", p) }}, {{ times("phi", "(1 - " ~ p ~ ")") }}{%- endif -%}
{%- endmacro %}
{% macro likelihood() %}
    mu += Xc * b;
    target += beta_binomial_lpmf(Y | trials, {{ shapes("mu") }});
{%- endmacro %}
{% macro y_rep_type() %}array[N] int{% endmacro %}
{% macro predictions() %}
    for (n in 1:N) {
      log_lik[n] = {{ row_lpdf() }};
    }
    y_rep = beta_binomial_rng(trials, {{ shapes("mu") }});
{%- endmacro %}
{#- row n's log-likelihood given its full linear predictor mu[n]: a weighted model's likelihood
    (weights[n] times it) #}
{% macro row_lpdf() %}beta_binomial_lpmf(Y[n] | trials[n], {{ shapes("mu[n]", "n") }}){% endmacro %}

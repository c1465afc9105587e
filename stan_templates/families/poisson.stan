{#- poisson, log link: poisson_log_glm takes the population-level part #}
{% macro data() %}
  array[N] int<lower=0> Y;  // response variable
{%- endmacro %}
{% macro transformed_data() %}{% endmacro %}
{% macro parameters() %}{% endmacro %}
{% macro likelihood() %}
    target += poisson_log_glm_lpmf(Y | Xc, mu, b);
{%- endmacro %}
{% macro y_rep_type() %}array[N] int{% endmacro %}
{% macro predictions() %}
    for (n in 1:N) {
      log_lik[n] = poisson_log_lpmf(Y[n] | mu[n]);
    }
    y_rep = poisson_log_rng(mu);
{%- endmacro %}

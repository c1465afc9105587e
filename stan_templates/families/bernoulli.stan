{#- bernoulli, logit link: bernoulli_logit_glm takes the population-level part #}
{% macro data() %}
  array[N] int<lower=0, upper=1> Y;  // response variable
{%- endmacro %}
{% macro parameters() %}{% endmacro %}
{% macro likelihood() %}
    target += bernoulli_logit_glm_lpmf(Y | Xc, mu, b);
{%- endmacro %}
{% macro y_rep_type() %}array[N] int{% endmacro %}
{% macro predictions() %}
    for (n in 1:N) {
      log_lik[n] = bernoulli_logit_lpmf(Y[n] | mu[n]);
    }
    y_rep = bernoulli_logit_rng(mu);
{%- endmacro %}

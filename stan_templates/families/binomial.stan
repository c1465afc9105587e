{#- binomial, logit link: binomial_logit_glm takes the population-level part #}
{% macro data() %}
  array[N] int<lower=0> Y;  // number of successes
  array[N] int<lower=0> trials;  // number of trials
{%- endmacro %}
{% macro parameters() %}{% endmacro %}
{% macro likelihood() %}
    target += binomial_logit_glm_lpmf(Y | trials, Xc, mu, b);
{%- endmacro %}
{% macro y_rep_type() %}array[N] int{% endmacro %}
{% macro predictions() %}
    for (n in 1:N) {
      log_lik[n] = binomial_logit_lpmf(Y[n] | trials[n], mu[n]);
    }
    y_rep = binomial_rng(trials, inv_logit(mu));
{%- endmacro %}

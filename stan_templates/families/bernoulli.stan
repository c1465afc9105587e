{#- bernoulli: with the logit link bernoulli_logit_glm takes the population-level part;
    probit and cloglog go through their inverse link #}
{% macro data() %}
  array[N] int<lower=0, upper=1> Y;  // response variable
{%- endmacro %}
{% macro transformed_data() %}{% endmacro %}
{% macro parameters() %}{% endmacro %}
{% macro likelihood() %}
{% if link == "logit" %}
    target += bernoulli_logit_glm_lpmf(Y | Xc, mu, b);
{% else %}
    mu += Xc * b;
    target += bernoulli_lpmf(Y | {{ inverse_link.format("mu") }});
{% endif %}
{%- endmacro %}
{% macro y_rep_type() %}array[N] int{% endmacro %}
{% macro predictions() %}
{% if link == "logit" %}
    for (n in 1:N) {
      log_lik[n] = bernoulli_logit_lpmf(Y[n] | mu[n]);
    }
    y_rep = bernoulli_logit_rng(mu);
{% else %}
    for (n in 1:N) {
      log_lik[n] = bernoulli_lpmf(Y[n] | {{ inverse_link.format("mu[n]") }});
    }
    y_rep = bernoulli_rng({{ inverse_link.format("mu") }});
{% endif %}
{%- endmacro %}
{#- the reduce_sum form (within-chain threads): the data it needs beyond the shared arguments (the family's parameters
    without a formula are added to them), and
    the log-likelihood of rows start..end given their linear predictor mu #}
{% macro partial_arguments() %}data array[] int Y{% endmacro %}
{% macro partial_log_lik() %}{% if link == "logit" %}bernoulli_logit_glm_lpmf(Y[start:end] | Xc[start:end], mu, b){% else %}bernoulli_lpmf(Y[start:end] | {{ inverse_link.format("mu + Xc[start:end] * b") }}){% endif %}{% endmacro %}
{#- row n's log-likelihood given its full linear predictor mu[n]: a weighted model's likelihood
    (weights[n] times it) #}
{% macro row_lpdf() %}
{%- if link == "logit" %}bernoulli_logit_lpmf(Y[n] | mu[n]){% else %}bernoulli_lpmf(Y[n] | {{ inverse_link.format("mu[n]") }}){% endif %}
{%- endmacro %}

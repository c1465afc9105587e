{#- binomial: with the logit link binomial_logit_glm takes the population-level part;
    probit and cloglog go through their inverse link #}
{% macro data() %}
  array[N] int<lower=0> Y;  // number of successes
  array[N] int<lower=0> trials;  // number of trials
{%- endmacro %}
{% macro transformed_data() %}
{% if link == "logit" %}
  // the likelihood's terms in Y alone: _lupmf leaves them out of each gradient and they are added
  // back once, so lp__ is the full log density (as brms's) without an lchoose per row per step
  real lpmf_Y = sum(lchoose(trials, Y));
{% endif %}
{%- endmacro %}
{% macro parameters() %}{% endmacro %}
{% macro likelihood() %}
{% if link == "logit" %}
    target += binomial_logit_glm_lupmf(Y | trials, Xc, mu, b) + lpmf_Y;
{% else %}
    mu += Xc * b;
    target += binomial_lpmf(Y | trials, {{ inverse_link.format("mu") }});
{% endif %}
{%- endmacro %}
{% macro y_rep_type() %}array[N] int{% endmacro %}
{% macro predictions() %}
    for (n in 1:N) {
      log_lik[n] = binomial_lpmf(Y[n] | trials[n], {{ inverse_link.format("mu[n]") }});
    }
    y_rep = binomial_rng(trials, {{ inverse_link.format("mu") }});
{%- endmacro %}
{#- the reduce_sum form (within-chain threads): the data it needs beyond the shared arguments (the family's parameters
    without a formula are added to them), and
    the log-likelihood of rows start..end given their linear predictor mu #}
{% macro partial_arguments() %}data array[] int Y, data array[] int trials{% endmacro %}
{% macro partial_log_lik() %}{% if link == "logit" %}binomial_logit_glm_lpmf(Y[start:end] | trials[start:end], Xc[start:end], mu, b){% else %}binomial_lpmf(Y[start:end] | trials[start:end], {{ inverse_link.format("mu + Xc[start:end] * b") }}){% endif %}{% endmacro %}
{#- row n's log-likelihood given its full linear predictor mu[n]: a weighted model's likelihood
    (weights[n] times it) #}
{% macro row_lpdf() %}
{%- if link == "logit" %}binomial_logit_lpmf(Y[n] | trials[n], mu[n]){% else %}binomial_lpmf(Y[n] | trials[n], {{ inverse_link.format("mu[n]") }}){% endif %}
{%- endmacro %}

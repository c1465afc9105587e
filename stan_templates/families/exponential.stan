{#- exponential, log link, as brms 2.18: mu = exp(eta) is the mean, so the rate is exp(-eta) #}
{% macro data() %}
  vector<lower=0>[N] Y;  // response variable
{%- endmacro %}
{% macro transformed_data() %}{% endmacro %}
{% macro parameters() %}{% endmacro %}
{% macro likelihood() %}
    mu += Xc * b;
    target += exponential_lpdf(Y | exp(-mu));
{%- endmacro %}
{% macro y_rep_type() %}array[N] real{% endmacro %}
{% macro predictions() %}
    for (n in 1:N) {
      log_lik[n] = exponential_lpdf(Y[n] | exp(-mu[n]));
    }
    y_rep = exponential_rng(exp(-mu));
{%- endmacro %}
{#- the reduce_sum form (within-chain threads): the data it needs beyond the shared arguments (the family's parameters
    without a formula are added to them), and
    the log-likelihood of rows start..end given their linear predictor mu #}
{% macro partial_arguments() %}data vector Y{% endmacro %}
{% macro partial_log_lik() %}exponential_lpdf(Y[start:end] | exp(-(mu + Xc[start:end] * b))){% endmacro %}
{#- row n's log-likelihood given its full linear predictor mu[n]: a weighted model's likelihood
    (weights[n] times it) #}
{% macro row_lpdf() %}exponential_lpdf(Y[n] | exp(-mu[n])){% endmacro %}
{#- the distribution and its arguments for row n, for a censored row's CDFs (terms/censoring.stan) #}
{% macro dist() %}exponential{% endmacro %}
{% macro args() %}exp(-mu[n]){% endmacro %}

{#- cumulative (ordinal): P(Y <= k) = F(Intercept[k] - mu), F the logistic or normal CDF; the
    thresholds replace the population intercept #}
{% set dist = "ordered_logistic" if link == "logit" else "ordered_probit" %}
{% macro data() %}
  int<lower=1> nthres;  // number of thresholds: categories - 1
  array[N] int<lower=1, upper=nthres + 1> Y;  // response category
{%- endmacro %}
{% macro transformed_data() %}{% endmacro %}
{% macro parameters() %}
  ordered[nthres] Intercept;  // thresholds on the centred predictors
{%- endmacro %}
{% macro likelihood() %}
    mu += Xc * b;
    target += {{ dist }}_lpmf(Y | mu, Intercept);
{%- endmacro %}
{% macro y_rep_type() %}array[N] int{% endmacro %}
{% macro predictions() %}
    for (n in 1:N) {
      log_lik[n] = {{ dist }}_lpmf(Y[n] | mu[n], Intercept);
      y_rep[n] = {{ dist }}_rng(mu[n], Intercept);
    }
{%- endmacro %}
{#- the reduce_sum form (within-chain threads): the data it needs beyond the shared arguments (the family's parameters
    without a formula are added to them), and
    the log-likelihood of rows start..end given their linear predictor mu #}
{% macro partial_arguments() %}data array[] int Y, vector Intercept{% endmacro %}
{% macro partial_log_lik() %}{{ dist }}_lpmf(Y[start:end] | mu + Xc[start:end] * b, Intercept){% endmacro %}
{#- row n's log-likelihood given its full linear predictor mu[n]: a weighted model's likelihood
    (weights[n] times it) #}
{% macro row_lpdf() %}{{ dist }}_lpmf(Y[n] | mu[n], Intercept){% endmacro %}

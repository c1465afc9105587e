{#- poisson, log link: poisson_log_glm takes the population-level part #}
{% macro data() %}
  array[N] int<lower=0> Y;  // response variable
{%- endmacro %}
{% macro transformed_data() %}
  // the likelihood's terms in Y alone: _lupmf leaves them out of each gradient and they are added
  // back once, so lp__ is the full log density (as brms's) without an lgamma per row per step
  real lpmf_Y = -sum(lgamma(to_vector(Y) + 1));
{%- endmacro %}
{% macro parameters() %}{% endmacro %}
{% macro likelihood() %}
    target += poisson_log_glm_lupmf(Y | Xc, mu, b) + lpmf_Y;
{%- endmacro %}
{% macro y_rep_type() %}array[N] int{% endmacro %}
{% macro predictions() %}
    for (n in 1:N) {
      log_lik[n] = poisson_log_lpmf(Y[n] | mu[n]);
    }
    y_rep = poisson_log_rng(mu);
{%- endmacro %}
{#- the reduce_sum form (within-chain threads): the data it needs beyond the shared arguments (the family's parameters
    without a formula are added to them), and
    the log-likelihood of rows start..end given their linear predictor mu #}
{% macro partial_arguments() %}data array[] int Y{% endmacro %}
{% macro partial_log_lik() %}poisson_log_glm_lpmf(Y[start:end] | Xc[start:end], mu, b){% endmacro %}
{#- row n's log-likelihood given its full linear predictor mu[n]: a weighted model's likelihood
    (weights[n] times it) #}
{% macro row_lpdf() %}poisson_log_lpmf(Y[n] | mu[n]){% endmacro %}
{#- the distribution and its arguments for row n, for a truncated row's CDFs (terms/truncation.stan) #}
{% macro dist() %}poisson{% endmacro %}
{% macro args() %}exp(mu[n]){% endmacro %}

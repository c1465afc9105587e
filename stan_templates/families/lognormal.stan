{#- lognormal: a normal model of log(Y), so normal_id_glm takes the population-level part;
    the Jacobian of the log makes it the density of Y #}
{% macro data() %}
  vector<lower=0>[N] Y;  // response variable
{%- endmacro %}
{% macro transformed_data() %}
  vector[N] log_Y = log(Y);
  real sum_log_Y = sum(log_Y);  // minus the log Jacobian of Y -> log(Y)
{%- endmacro %}
{% macro parameters() %}{% endmacro %}
{% macro likelihood() %}
    target += normal_id_glm_lpdf(log_Y | Xc, mu, b, sigma) - sum_log_Y;
{%- endmacro %}
{% macro y_rep_type() %}array[N] real{% endmacro %}
{% macro predictions() %}
    for (n in 1:N) {
      log_lik[n] = lognormal_lpdf(Y[n] | mu[n], {{ at("sigma") }});
    }
    y_rep = lognormal_rng(mu, sigma);
{%- endmacro %}
{#- the reduce_sum form (within-chain threads): the data it needs beyond the shared arguments (the family's parameters
    without a formula are added to them), and
    the log-likelihood of rows start..end given their linear predictor mu #}
{% macro partial_arguments() %}data vector log_Y{% endmacro %}
{% macro partial_log_lik() %}normal_id_glm_lpdf(log_Y[start:end] | Xc[start:end], mu, b, sigma) - sum(log_Y[start:end]){% endmacro %}
{#- row n's log-likelihood given its full linear predictor mu[n]: a weighted model's likelihood
    (weights[n] times it) #}
{% macro row_lpdf() %}lognormal_lpdf(Y[n] | mu[n], {{ at("sigma") }}){% endmacro %}
{#- the distribution and its arguments for row n, for a censored row's CDFs (terms/censoring.stan) #}
{% macro dist() %}lognormal{% endmacro %}
{% macro args() %}mu[n], {{ at("sigma") }}{% endmacro %}

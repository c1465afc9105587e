{#- negative binomial (mean and shape), log link: neg_binomial_2_log_glm takes the population-level part #}
{% macro data() %}
  array[N] int<lower=0> Y;  // response variable
{%- endmacro %}
{% macro transformed_data() %}
{% if "shape" not in vectors %}
  // the likelihood's terms in Y alone: _lupmf leaves them out of each gradient and they are added
  // back once, so lp__ is the full log density (as brms's) without an lgamma per row per step
  real lpmf_Y = -sum(lgamma(to_vector(Y) + 1));
{% endif %}
{%- endmacro %}
{% macro parameters() %}{% endmacro %}
{#- Stan's GLM function takes one shape: a shape with a formula goes through the plain density #}
{% macro likelihood() %}
{% if "shape" in vectors %}
    target += neg_binomial_2_log_lpmf(Y | mu + Xc * b, shape);
{% else %}
    target += neg_binomial_2_log_glm_lupmf(Y | Xc, mu, b, shape) + lpmf_Y;
{% endif %}
{%- endmacro %}
{% macro y_rep_type() %}array[N] int{% endmacro %}
{% macro predictions() %}
    for (n in 1:N) {
      log_lik[n] = neg_binomial_2_log_lpmf(Y[n] | mu[n], {{ at("shape") }});
    }
    y_rep = neg_binomial_2_log_rng(mu, shape);
{%- endmacro %}
{#- the reduce_sum form (within-chain threads): the data it needs beyond the shared arguments (the family's parameters
    without a formula are added to them), and
    the log-likelihood of rows start..end given their linear predictor mu #}
{% macro partial_arguments() %}data array[] int Y{% endmacro %}
{% macro partial_log_lik() %}
{%- if "shape" in vectors %}neg_binomial_2_log_lpmf(Y[start:end] | mu + Xc[start:end] * b, shape)
{%- else %}neg_binomial_2_log_glm_lpmf(Y[start:end] | Xc[start:end], mu, b, shape){% endif %}
{%- endmacro %}
{#- row n's log-likelihood given its full linear predictor mu[n]: a weighted model's likelihood
    (weights[n] times it) #}
{% macro row_lpdf() %}neg_binomial_2_log_lpmf(Y[n] | mu[n], {{ at("shape") }}){% endmacro %}
{#- the distribution and its arguments for row n, for a truncated row's CDFs (terms/truncation.stan) #}
{% macro dist() %}neg_binomial_2{% endmacro %}
{% macro args() %}exp(mu[n]), {{ at("shape") }}{% endmacro %}

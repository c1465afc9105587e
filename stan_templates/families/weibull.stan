{#- weibull, log link, as brms 2.18: mu = exp(eta) is the mean, so the scale is
    mu / tgamma(1 + 1 / shape) #}
{% macro data() %}
  vector<lower=0>[N] Y;  // response variable
{%- endmacro %}
{% macro transformed_data() %}{% endmacro %}
{% macro parameters() %}{% endmacro %}
{#- the scale over all rows given their linear predictor eta (a vector expression) #}
{% macro scales(eta) %}
{%- if "shape" in vectors %}exp({{ eta }}) ./ tgamma(1 + inv(shape))
{%- else %}exp({{ eta }}) / tgamma(1 + 1 / shape){% endif %}
{%- endmacro %}
{% macro likelihood() %}
    mu += Xc * b;
    target += weibull_lpdf(Y | shape, {{ scales("mu") }});
{%- endmacro %}
{% macro y_rep_type() %}array[N] real{% endmacro %}
{% macro predictions() %}
    for (n in 1:N) {
      log_lik[n] = weibull_lpdf(Y[n] | {{ args() }});
    }
    y_rep = weibull_rng(shape, {{ scales("mu") }});
{%- endmacro %}
{#- the reduce_sum form (within-chain threads): the data it needs beyond the shared arguments (the family's parameters
    without a formula are added to them), and
    the log-likelihood of rows start..end given their linear predictor mu #}
{% macro partial_arguments() %}data vector Y{% endmacro %}
{% macro partial_log_lik() %}weibull_lpdf(Y[start:end] | shape, {{ scales("mu + Xc[start:end] * b") }}){% endmacro %}
{#- row n's log-likelihood given its full linear predictor mu[n]: a weighted model's likelihood
    (weights[n] times it) #}
{% macro row_lpdf() %}weibull_lpdf(Y[n] | {{ args() }}){% endmacro %}
{#- the distribution and its arguments for row n, for a censored row's CDFs (terms/censoring.stan) #}
{% macro dist() %}weibull{% endmacro %}
{% macro args() %}{{ at("shape") }}, exp(mu[n]) / tgamma(1 + 1 / {{ at("shape") }}){% endmacro %}

{#- frechet, log link, as brms 2.18: mu = exp(eta) is the mean, so the scale is
    mu / tgamma(1 - 1 / nu) (nu > 1, for the mean to exist) #}
{% macro data() %}
  vector<lower=0>[N] Y;  // response variable
{%- endmacro %}
{% macro transformed_data() %}{% endmacro %}
{% macro parameters() %}{% endmacro %}
{#- the scale over all rows given their linear predictor eta (a vector expression) #}
{% macro scales(eta) %}
{%- if "nu" in vectors %}exp({{ eta }}) ./ tgamma(1 - inv(nu))
{%- else %}exp({{ eta }}) / tgamma(1 - 1 / nu){% endif %}
{%- endmacro %}
{% macro likelihood() %}
    mu += Xc * b;
    target += frechet_lpdf(Y | nu, {{ scales("mu") }});
{%- endmacro %}
{% macro y_rep_type() %}array[N] real{% endmacro %}
{#- stanli has no frechet_rng: there numpy draws y_rep (mixfit/results/family_predictions.py) #}
{% macro predictions() %}
    for (n in 1:N) {
      log_lik[n] = frechet_lpdf(Y[n] | {{ args() }});
    }
    y_rep = frechet_rng(nu, {{ scales("mu") }});
{%- endmacro %}
{#- the reduce_sum form (within-chain threads): the data it needs beyond the shared arguments (the family's parameters
    without a formula are added to them), and
    the log-likelihood of rows start..end given their linear predictor mu #}
{% macro partial_arguments() %}data vector Y{% endmacro %}
{% macro partial_log_lik() %}frechet_lpdf(Y[start:end] | nu, {{ scales("mu + Xc[start:end] * b") }}){% endmacro %}
{#- row n's log-likelihood given its full linear predictor mu[n]: a weighted model's likelihood
    (weights[n] times it) #}
{% macro row_lpdf() %}frechet_lpdf(Y[n] | {{ args() }}){% endmacro %}
{#- the distribution and its arguments for row n, for a censored row's CDFs (terms/censoring.stan) #}
{% macro dist() %}frechet{% endmacro %}
{% macro args() %}{{ at("nu") }}, exp(mu[n]) / tgamma(1 - 1 / {{ at("nu") }}){% endmacro %}

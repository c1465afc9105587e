{#- shifted_lognormal, identity link on mu (the meanlog), as brms 2.18: Y - ndt is lognormal, the
    shift ndt between 0 and the smallest response (min_Y) #}
{% macro functions() %}
  // the lognormal shifted by ndt, for a row's density and (cens()) its CDFs
  real shifted_lognormal_lpdf(real y, real mu, real sigma, real ndt) {
    return lognormal_lpdf(y - ndt | mu, sigma);
  }
  real shifted_lognormal_lcdf(real y, real mu, real sigma, real ndt) {
    return lognormal_lcdf(y - ndt | mu, sigma);
  }
  real shifted_lognormal_lccdf(real y, real mu, real sigma, real ndt) {
    return lognormal_lccdf(y - ndt | mu, sigma);
  }
{%- endmacro %}
{% macro data() %}
  vector<lower=0>[N] Y;  // response variable
{%- endmacro %}
{% macro transformed_data() %}
  real min_Y = min(Y);  // ndt's upper bound
{%- endmacro %}
{% macro parameters() %}{% endmacro %}
{% macro likelihood() %}
    mu += Xc * b;
    target += lognormal_lpdf(Y - ndt | mu, sigma);
{%- endmacro %}
{% macro y_rep_type() %}vector[N]{% endmacro %}
{% macro predictions() %}
    for (n in 1:N) {
      log_lik[n] = {{ row_lpdf() }};
    }
    y_rep = ndt + to_vector(lognormal_rng(mu, sigma));
{%- endmacro %}
{#- row n's log-likelihood given its full linear predictor mu[n]: a weighted model's likelihood
    (weights[n] times it) #}
{% macro row_lpdf() %}shifted_lognormal_lpdf(Y[n] | {{ args() }}){% endmacro %}
{#- the distribution and its arguments for row n, for a censored row's CDFs (terms/censoring.stan) #}
{% macro dist() %}shifted_lognormal{% endmacro %}
{% macro args() %}mu[n], {{ at("sigma") }}, {{ at("ndt") }}{% endmacro %}

{#- Gamma (mean and shape), log link: the rate is shape / mean #}
{% macro data() %}
  vector<lower=0>[N] Y;  // response variable
{%- endmacro %}
{% macro transformed_data() %}{% endmacro %}
{% macro parameters() %}
  real<lower=0> shape;  // shape: the coefficient of variation is 1 / sqrt(shape)
{%- endmacro %}
{% macro likelihood() %}
    mu += Xc * b;
    target += gamma_lpdf(Y | shape, shape * exp(-mu));
{%- endmacro %}
{% macro y_rep_type() %}array[N] real{% endmacro %}
{% macro predictions() %}
    for (n in 1:N) {
      log_lik[n] = gamma_lpdf(Y[n] | shape, shape * exp(-mu[n]));
    }
    y_rep = gamma_rng(shape, shape * exp(-mu));
{%- endmacro %}
{#- the reduce_sum form (within-chain threads): the arguments it needs beyond the shared ones, and
    the log-likelihood of rows start..end given their linear predictor mu #}
{% macro partial_arguments() %}data vector Y, real shape{% endmacro %}
{% macro partial_log_lik() %}gamma_lpdf(Y[start:end] | shape, shape * exp(-(mu + Xc[start:end] * b))){% endmacro %}

{#- Gamma (mean and shape), log link: the rate is shape / mean #}
{% macro data() %}
  vector<lower=0>[N] Y;  // response variable
{%- endmacro %}
{% macro transformed_data() %}{% endmacro %}
{% macro parameters() %}{% endmacro %}
{% macro likelihood() %}
    mu += Xc * b;
    target += gamma_lpdf(Y | shape, {{ times("shape", "exp(-mu)") }});
{%- endmacro %}
{% macro y_rep_type() %}array[N] real{% endmacro %}
{% macro predictions() %}
    for (n in 1:N) {
      log_lik[n] = gamma_lpdf(Y[n] | {{ at("shape") }}, {{ at("shape") }} * exp(-mu[n]));
    }
    y_rep = gamma_rng(shape, {{ times("shape", "exp(-mu)") }});
{%- endmacro %}
{#- the reduce_sum form (within-chain threads): the data it needs beyond the shared arguments (the family's parameters
    without a formula are added to them), and
    the log-likelihood of rows start..end given their linear predictor mu #}
{% macro partial_arguments() %}data vector Y{% endmacro %}
{% macro partial_log_lik() %}gamma_lpdf(Y[start:end] | shape, {{ times("shape", "exp(-(mu + Xc[start:end] * b))") }}){% endmacro %}
{#- row n's log-likelihood given its full linear predictor mu[n]: a weighted model's likelihood
    (weights[n] times it) #}
{% macro row_lpdf() %}gamma_lpdf(Y[n] | {{ at("shape") }}, {{ at("shape") }} * exp(-mu[n])){% endmacro %}
{#- the distribution and its arguments for row n, for a truncated row's CDFs (terms/truncation.stan) #}
{% macro dist() %}gamma{% endmacro %}
{% macro args() %}{{ at("shape") }}, {{ at("shape") }} * exp(-mu[n]){% endmacro %}

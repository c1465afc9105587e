{#- beta (mean and precision), logit link #}
{% macro data() %}
  vector<lower=0, upper=1>[N] Y;  // response variable, strictly inside (0, 1)
{%- endmacro %}
{% macro transformed_data() %}{% endmacro %}
{% macro parameters() %}{% endmacro %}
{% macro likelihood() %}
    mu += Xc * b;
    target += beta_proportion_lpdf(Y | inv_logit(mu), phi);
{%- endmacro %}
{% macro y_rep_type() %}array[N] real{% endmacro %}
{% macro predictions() %}
    for (n in 1:N) {
      log_lik[n] = beta_proportion_lpdf(Y[n] | inv_logit(mu[n]), {{ at("phi") }});
      y_rep[n] = beta_proportion_rng(inv_logit(mu[n]), {{ at("phi") }});
    }
{%- endmacro %}
{#- the reduce_sum form (within-chain threads): the data it needs beyond the shared arguments (the family's parameters
    without a formula are added to them), and
    the log-likelihood of rows start..end given their linear predictor mu #}
{% macro partial_arguments() %}data vector Y{% endmacro %}
{% macro partial_log_lik() %}beta_proportion_lpdf(Y[start:end] | inv_logit(mu + Xc[start:end] * b), phi){% endmacro %}
{#- row n's log-likelihood given its full linear predictor mu[n]: a weighted model's likelihood
    (weights[n] times it) #}
{% macro row_lpdf() %}beta_proportion_lpdf(Y[n] | inv_logit(mu[n]), {{ at("phi") }}){% endmacro %}

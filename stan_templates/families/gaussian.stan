{#- gaussian, identity link: normal_id_glm takes the population-level part #}
{% macro data() %}
  vector[N] Y;  // response variable
{%- endmacro %}
{% macro transformed_data() %}{% endmacro %}
{% macro parameters() %}{% endmacro %}
{% macro likelihood() %}
    target += normal_id_glm_lpdf(Y | Xc, mu, b, sigma);
{%- endmacro %}
{% macro y_rep_type() %}array[N] real{% endmacro %}
{% macro predictions() %}
    for (n in 1:N) {
      log_lik[n] = normal_lpdf(Y[n] | mu[n], {{ at("sigma") }});
    }
    y_rep = normal_rng(mu, sigma);
{%- endmacro %}
{#- the reduce_sum form (within-chain threads): the data it needs beyond the shared arguments (the family's parameters
    without a formula are added to them), and
    the log-likelihood of rows start..end given their linear predictor mu #}
{% macro partial_arguments() %}data vector Y{% endmacro %}
{% macro partial_log_lik() %}normal_id_glm_lpdf(Y[start:end] | Xc[start:end], mu, b, sigma){% endmacro %}

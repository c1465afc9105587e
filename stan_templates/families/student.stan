{#- student-t, identity link #}
{% macro data() %}
  vector[N] Y;  // response variable
{%- endmacro %}
{% macro transformed_data() %}{% endmacro %}
{% macro parameters() %}{% endmacro %}
{% macro likelihood() %}
    mu += Xc * b;
    target += student_t_lpdf(Y | nu, mu, sigma);
{%- endmacro %}
{% macro y_rep_type() %}array[N] real{% endmacro %}
{% macro predictions() %}
    for (n in 1:N) {
      log_lik[n] = student_t_lpdf(Y[n] | {{ at("nu") }}, mu[n], {{ at("sigma") }});
    }
    y_rep = student_t_rng(nu, mu, sigma);
{%- endmacro %}
{#- the reduce_sum form (within-chain threads): the data it needs beyond the shared arguments (the family's parameters
    without a formula are added to them), and
    the log-likelihood of rows start..end given their linear predictor mu #}
{% macro partial_arguments() %}data vector Y{% endmacro %}
{% macro partial_log_lik() %}student_t_lpdf(Y[start:end] | nu, mu + Xc[start:end] * b, sigma){% endmacro %}

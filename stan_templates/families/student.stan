{#- student-t, identity link; with known standard errors (se()) the scale is each row's, scale():
    se, or sqrt(sigma^2 + se^2) with sigma = TRUE #}
{% import "families/gaussian.stan" as gaussian with context %}
{% macro data() %}{{ gaussian.data() }}{% endmacro %}
{% macro transformed_data() %}{{ gaussian.transformed_data() }}{% endmacro %}
{% macro parameters() %}{% endmacro %}
{% macro likelihood() %}
    mu += Xc * b;
    target += student_t_lpdf(Y | nu, mu, {{ scale() }});
{%- endmacro %}
{% macro y_rep_type() %}array[N] real{% endmacro %}
{% macro predictions() %}
    for (n in 1:N) {
      log_lik[n] = student_t_lpdf(Y[n] | {{ at("nu") }}, mu[n], {{ scale("n") }});
    }
    y_rep = student_t_rng(nu, mu, {{ scale() }});
{%- endmacro %}
{#- the reduce_sum form (within-chain threads): the data it needs beyond the shared arguments (the family's parameters
    without a formula are added to them), and
    the log-likelihood of rows start..end given their linear predictor mu #}
{% macro partial_arguments() %}data vector Y{% endmacro %}
{% macro partial_log_lik() %}student_t_lpdf(Y[start:end] | nu, mu + Xc[start:end] * b, sigma){% endmacro %}
{#- row n's log-likelihood given its full linear predictor mu[n]: a weighted model's likelihood
    (weights[n] times it) #}
{% macro row_lpdf() %}student_t_lpdf(Y[n] | {{ at("nu") }}, mu[n], {{ scale("n") }}){% endmacro %}
{#- the distribution and its arguments for row n, for a censored row's CDFs (terms/censoring.stan) #}
{% macro dist() %}student_t{% endmacro %}
{% macro args() %}{{ at("nu") }}, mu[n], {{ scale("n") }}{% endmacro %}

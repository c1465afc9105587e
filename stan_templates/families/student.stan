{#- student-t, identity link #}
{% macro data() %}
  vector[N] Y;  // response variable
{%- endmacro %}
{% macro transformed_data() %}{% endmacro %}
{% macro parameters() %}
  real<lower=0> sigma;  // residual scale
  real<lower=1> nu;  // degrees of freedom
{%- endmacro %}
{% macro likelihood() %}
    mu += Xc * b;
    target += student_t_lpdf(Y | nu, mu, sigma);
{%- endmacro %}
{% macro y_rep_type() %}array[N] real{% endmacro %}
{% macro predictions() %}
    for (n in 1:N) {
      log_lik[n] = student_t_lpdf(Y[n] | nu, mu[n], sigma);
    }
    y_rep = student_t_rng(nu, mu, sigma);
{%- endmacro %}

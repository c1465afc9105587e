{#- gaussian, identity link: normal_id_glm takes the population-level part; with known standard
    errors (se()) the SD is each row's, scale(): se, or sqrt(sigma^2 + se^2) with sigma = TRUE #}
{% macro data() %}
  vector[N] Y;  // response variable
{% if se %}
  vector<lower=0>[N] se;  // known sampling error
{% endif %}
{%- endmacro %}
{% macro transformed_data() %}
{% if se %}
  vector<lower=0>[N] se2 = square(se);
{% endif %}
{%- endmacro %}
{% macro parameters() %}{% endmacro %}
{% macro likelihood() %}
{% if se %}
    mu += Xc * b;
    target += normal_lpdf(Y | mu, {{ scale() }});
{% else %}
    target += normal_id_glm_lpdf(Y | Xc, mu, b, sigma);
{% endif %}
{%- endmacro %}
{% macro y_rep_type() %}array[N] real{% endmacro %}
{% macro predictions() %}
    for (n in 1:N) {
      log_lik[n] = normal_lpdf(Y[n] | mu[n], {{ scale("n") }});
    }
    y_rep = normal_rng(mu, {{ scale() }});
{%- endmacro %}
{#- the reduce_sum form (within-chain threads): the data it needs beyond the shared arguments (the family's parameters
    without a formula are added to them), and
    the log-likelihood of rows start..end given their linear predictor mu #}
{% macro partial_arguments() %}data vector Y{% endmacro %}
{% macro partial_log_lik() %}normal_id_glm_lpdf(Y[start:end] | Xc[start:end], mu, b, sigma){% endmacro %}
{#- row n's log-likelihood given its full linear predictor mu[n]: a weighted model's likelihood
    (weights[n] times it) #}
{% macro row_lpdf() %}normal_lpdf(Y[n] | mu[n], {{ scale("n") }}){% endmacro %}
{#- the distribution and its arguments for row n, for a censored row's CDFs (terms/censoring.stan) #}
{% macro dist() %}normal{% endmacro %}
{% macro args() %}mu[n], {{ scale("n") }}{% endmacro %}

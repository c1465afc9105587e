{#- hurdle lognormal, identity link on meanlog mu, as brms 2.18's hurdle_lognormal_lpdf: a zero
    with probability hu, else a lognormal(mu, sigma) #}
{% import "families/hurdle_gamma.stan" as hurdle with context %}
{% macro data() %}{{ hurdle.data() }}{% endmacro %}
{% macro transformed_data() %}{{ hurdle.transformed_data() }}{% endmacro %}
{% macro parameters() %}{% endmacro %}
{% macro likelihood() %}
    mu += Xc * b;
    target += {{ hurdle.hurdle_rows("hu") }};
    target += lognormal_lpdf(Y[idx_pos] | mu[idx_pos], {{ hurdle.over("sigma", "idx_pos") }});
{%- endmacro %}
{% macro y_rep_type() %}array[N] real{% endmacro %}
{% macro predictions() %}
    for (n in 1:N) {
      log_lik[n] = {{ row_lpdf() }};
      y_rep[n] = bernoulli_rng({{ at("hu") }}) ? 0.0 : lognormal_rng(mu[n], {{ at("sigma") }});
    }
{%- endmacro %}
{#- row n's log-likelihood given its full linear predictor mu[n]: a weighted model's likelihood
    (weights[n] times it) #}
{% macro row_lpdf() %}
{%- set hu = at("hu") -%}
Y[n] == 0 ? log({{ hu }}) : log1m({{ hu }}) + lognormal_lpdf(Y[n] | mu[n], {{ at("sigma") }})
{%- endmacro %}

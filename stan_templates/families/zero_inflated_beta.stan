{#- zero-inflated beta (mean and precision), logit link, as brms 2.18's zero_inflated_beta_lpdf:
    despite the name a hurdle at 0, since the beta puts no mass there: a zero with probability
    zi, else a beta of mean inv_logit(mu) and precision phi; the response lies in [0, 1) #}
{% import "families/hurdle_gamma.stan" as hurdle with context %}
{% macro data() %}
  vector<lower=0, upper=1>[N] Y;  // response variable, in [0, 1)
{%- endmacro %}
{% macro transformed_data() %}{{ hurdle.transformed_data() }}{% endmacro %}
{% macro parameters() %}{% endmacro %}
{% macro likelihood() %}
    mu += Xc * b;
    target += {{ hurdle.hurdle_rows("zi") }};
    target += beta_proportion_lpdf(Y[idx_pos] | inv_logit(mu[idx_pos]), {{ hurdle.over("phi", "idx_pos") }});
{%- endmacro %}
{% macro y_rep_type() %}array[N] real{% endmacro %}
{% macro predictions() %}
    for (n in 1:N) {
      log_lik[n] = {{ row_lpdf() }};
      y_rep[n] = bernoulli_rng({{ at("zi") }}) ? 0.0 : beta_proportion_rng(inv_logit(mu[n]), {{ at("phi") }});
    }
{%- endmacro %}
{#- row n's log-likelihood given its full linear predictor mu[n]: a weighted model's likelihood
    (weights[n] times it) #}
{% macro row_lpdf() %}
{%- set zi = at("zi") -%}
Y[n] == 0 ? log({{ zi }}) : log1m({{ zi }}) + beta_proportion_lpdf(Y[n] | inv_logit(mu[n]), {{ at("phi") }})
{%- endmacro %}

{#- zero-inflated negative binomial, log link: a zero is structural (probability zi) or a
    negative binomial zero #}
{% import "families/zero_inflated_poisson.stan" as zip with context %}
{% macro data() %}
  array[N] int<lower=0> Y;  // response variable
{%- endmacro %}
{% macro transformed_data() %}{{ zip.transformed_data() }}{% endmacro %}
{% macro parameters() %}{% endmacro %}
{% macro likelihood() %}
    mu += Xc * b;
    {
      // log of the negative binomial's probability of a zero: -shape * log(1 + mu / shape)
{% if "shape" in vectors %}
      vector[N_zero] lp_nb0 = -shape[idx_zero] .* log1p_exp(mu[idx_zero] - log(shape[idx_zero]));
{% else %}
      vector[N_zero] lp_nb0 = -shape * log1p_exp(mu[idx_zero] - log(shape));
{% endif %}
      target += sum(log1m({{ zip.zero_rows() }}) + lp_nb0 + log1p_exp(logit({{ zip.zero_rows() }}) - lp_nb0));
    }
    target += {{ zip.positive_rows() }} + neg_binomial_2_log_lpmf(Y[idx_pos] | mu[idx_pos], {{ "shape[idx_pos]" if "shape" in vectors else "shape" }});
{%- endmacro %}
{% macro y_rep_type() %}array[N] int{% endmacro %}
{% macro predictions() %}
    for (n in 1:N) {
      if (Y[n] == 0) {
        log_lik[n] = log_sum_exp(log({{ at("zi") }}), log1m({{ at("zi") }}) + neg_binomial_2_log_lpmf(0 | mu[n], {{ at("shape") }}));
      } else {
        log_lik[n] = log1m({{ at("zi") }}) + neg_binomial_2_log_lpmf(Y[n] | mu[n], {{ at("shape") }});
      }
      y_rep[n] = bernoulli_rng({{ at("zi") }}) ? 0 : neg_binomial_2_log_rng(mu[n], {{ at("shape") }});
    }
{%- endmacro %}
{#- row n's log-likelihood given its full linear predictor mu[n]: a weighted model's likelihood
    (weights[n] times it) #}
{% macro row_lpdf() %}
{%- set zi, shape = at("zi"), at("shape") -%}
Y[n] == 0 ? log_sum_exp(log({{ zi }}), log1m({{ zi }}) + neg_binomial_2_log_lpmf(0 | mu[n], {{ shape }})) : log1m({{ zi }}) + neg_binomial_2_log_lpmf(Y[n] | mu[n], {{ shape }})
{%- endmacro %}

{#- hurdle negative binomial (mean and shape), log link, as brms 2.18's
    hurdle_neg_binomial_log_lpmf: a zero with probability hu, else a negative binomial count
    truncated at 0 (its probabilities divided by 1 - P(0), P(0) = (shape / (mu + shape))^shape) #}
{% import "families/zero_inflated_poisson.stan" as zip with context %}
{% import "families/hurdle_poisson.stan" as hurdle with context %}
{% macro data() %}
  array[N] int<lower=0> Y;  // response variable
{%- endmacro %}
{% macro transformed_data() %}{{ zip.transformed_data() }}{% endmacro %}
{% macro parameters() %}{% endmacro %}
{% macro likelihood() %}
{% set shape = "shape[idx_pos]" if "shape" in vectors else "shape" %}
    mu += Xc * b;
    target += {{ hurdle.hurdle_rows() }};
    {
      // log of the negative binomial's probability of a zero: -shape * log(1 + mu / shape)
{% if "shape" in vectors %}
      vector[N - N_zero] lp_nb0 = -{{ shape }} .* log1p_exp(mu[idx_pos] - log({{ shape }}));
{% else %}
      vector[N - N_zero] lp_nb0 = -shape * log1p_exp(mu[idx_pos] - log(shape));
{% endif %}
      target += neg_binomial_2_log_lpmf(Y[idx_pos] | mu[idx_pos], {{ shape }}) - sum(log1m_exp(lp_nb0));
    }
{%- endmacro %}
{% macro y_rep_type() %}array[N] int{% endmacro %}
{% macro predictions() %}
    for (n in 1:N) {
      log_lik[n] = {{ row_lpdf() }};
      y_rep[n] = 0;
      if (!bernoulli_rng({{ at("hu") }})) {
        while (y_rep[n] == 0) {  // a negative binomial count above 0
          y_rep[n] = neg_binomial_2_log_rng(mu[n], {{ at("shape") }});
        }
      }
    }
{%- endmacro %}
{#- row n's log-likelihood given its full linear predictor mu[n]: a weighted model's likelihood
    (weights[n] times it) #}
{% macro row_lpdf() %}
{%- set hu, shape = at("hu"), at("shape") -%}
Y[n] == 0 ? log({{ hu }}) : log1m({{ hu }}) + neg_binomial_2_log_lpmf(Y[n] | mu[n], {{ shape }}) - log1m_exp(neg_binomial_2_log_lpmf(0 | mu[n], {{ shape }}))
{%- endmacro %}

{#- hurdle poisson, log link, as brms 2.18's hurdle_poisson_log_lpmf: a zero with probability hu,
    else a poisson count truncated at 0 (its probabilities divided by 1 - exp(-lambda)) #}
{% import "families/zero_inflated_poisson.stan" as zip with context %}
{% macro data() %}
  array[N] int<lower=0> Y;  // response variable
{%- endmacro %}
{#- the rows with a zero and the rest, as the zero-inflated families split them #}
{% macro transformed_data() %}{{ zip.transformed_data() }}{% endmacro %}
{% macro parameters() %}{% endmacro %}
{#- log(hu) of every zero row and log(1 - hu) of the others, shared with the negative binomial #}
{% macro hurdle_rows() %}
{%- if "hu" in vectors %}sum(log(hu[idx_zero])) + sum(log1m(hu[idx_pos]))
{%- else %}N_zero * log(hu) + (N - N_zero) * log1m(hu){% endif %}
{%- endmacro %}
{% macro likelihood() %}
    mu += Xc * b;
    target += {{ hurdle_rows() }};
    target += poisson_log_lpmf(Y[idx_pos] | mu[idx_pos]) - sum(log1m_exp(-exp(mu[idx_pos])));
{%- endmacro %}
{% macro y_rep_type() %}array[N] int{% endmacro %}
{% macro predictions() %}
    for (n in 1:N) {
      log_lik[n] = {{ row_lpdf() }};
      y_rep[n] = 0;
      if (!bernoulli_rng({{ at("hu") }})) {
        while (y_rep[n] == 0) {  // a poisson count above 0
          y_rep[n] = poisson_log_rng(mu[n]);
        }
      }
    }
{%- endmacro %}
{#- row n's log-likelihood given its full linear predictor mu[n]: a weighted model's likelihood
    (weights[n] times it) #}
{% macro row_lpdf() %}
{%- set hu = at("hu") -%}
Y[n] == 0 ? log({{ hu }}) : log1m({{ hu }}) + poisson_log_lpmf(Y[n] | mu[n]) - log1m_exp(-exp(mu[n]))
{%- endmacro %}

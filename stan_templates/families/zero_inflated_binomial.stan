{#- zero-inflated binomial, as brms 2.18's zero_inflated_binomial_lpmf (fun_zero_inflated_binomial.stan):
    a zero is structural (probability zi) or the binomial's; vectorised over the zero rows and the rest #}
{% import "families/zero_inflated_poisson.stan" as zip with context %}
{% macro data() %}
  array[N] int<lower=0> Y;  // number of successes
  array[N] int<lower=0> trials;  // number of trials
{%- endmacro %}
{#- the rows with a zero and the rest, as the zero-inflated poisson splits them #}
{% macro transformed_data() %}{{ zip.transformed_data() }}{% endmacro %}
{% macro parameters() %}{% endmacro %}
{#- log(1 - p) for the probability p = inverse link of eta, in each link's exact form (probit's
    1 - Phi(eta) as Phi(-eta), which keeps its precision in the upper tail) #}
{% macro log1m_p(eta) %}
{%- if link == "logit" %}log1m_inv_logit({{ eta }})
{%- elif link == "cloglog" %}-exp({{ eta }})
{%- else %}log(Phi(-{{ eta }})){% endif %}
{%- endmacro %}
{% macro likelihood() %}
    mu += Xc * b;
    // log(zi + (1 - zi) * (1 - p)^trials), written to stay finite for any zi and p
    {
      vector[N_zero] log_q = to_vector(trials[idx_zero]) .* {{ log1m_p("mu[idx_zero]") }};
      target += sum(log1m({{ zip.zero_rows() }}) + log_q + log1p_exp(logit({{ zip.zero_rows() }}) - log_q));
    }
{% if link == "logit" %}
    target += {{ zip.positive_rows() }} + binomial_logit_lpmf(Y[idx_pos] | trials[idx_pos], mu[idx_pos]);
{% else %}
    target += {{ zip.positive_rows() }} + binomial_lpmf(Y[idx_pos] | trials[idx_pos], {{ inverse_link.format("mu[idx_pos]") }});
{% endif %}
{%- endmacro %}
{% macro y_rep_type() %}array[N] int{% endmacro %}
{% macro predictions() %}
    for (n in 1:N) {
      log_lik[n] = {{ row_lpdf() }};
      y_rep[n] = bernoulli_rng({{ at("zi") }}) ? 0 : binomial_rng(trials[n], {{ inverse_link.format("mu[n]") }});
    }
{%- endmacro %}
{#- row n's log-likelihood given its full linear predictor mu[n]: a weighted model's likelihood
    (weights[n] times it) #}
{% macro row_lpdf() %}
{%- set zi = at("zi") -%}
Y[n] == 0 ? log_sum_exp(log({{ zi }}), log1m({{ zi }}) + trials[n] * {{ log1m_p("mu[n]") }}) : log1m({{ zi }}) + binomial_lpmf(Y[n] | trials[n], {{ inverse_link.format("mu[n]") }})
{%- endmacro %}

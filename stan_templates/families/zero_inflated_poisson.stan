{#- zero-inflated poisson, log link: a zero is structural (probability zi) or a poisson zero #}
{% macro data() %}
  array[N] int<lower=0> Y;  // response variable
{%- endmacro %}
{% macro transformed_data() %}
  // the rows with a zero and the rest, so the likelihood is vectorised over each
  int N_zero = 0;
  for (n in 1:N) {
    N_zero += Y[n] == 0;
  }
  array[N_zero] int idx_zero;
  array[N - N_zero] int idx_pos;
  {
    int z = 0;
    for (n in 1:N) {
      if (Y[n] == 0) {
        z += 1;
        idx_zero[z] = n;
      } else {
        idx_pos[n - z] = n;
      }
    }
  }
{%- endmacro %}
{% macro parameters() %}{% endmacro %}
{#- the structural-zero part of the likelihood, shared with the negative binomial: log(1 - zi) of
    every non-zero row #}
{% macro positive_rows() %}
{%- if "zi" in vectors %}sum(log1m(zi[idx_pos])){% else %}(N - N_zero) * log1m(zi){% endif %}
{%- endmacro %}
{% macro zero_rows() %}{{ "zi[idx_zero]" if "zi" in vectors else "zi" }}{% endmacro %}
{% macro likelihood() %}
    mu += Xc * b;
    // log(zi + (1 - zi) * exp(-lambda)), written to stay finite for any zi and lambda
    target += sum(log1m({{ zero_rows() }}) - exp(mu[idx_zero]) + log1p_exp(logit({{ zero_rows() }}) + exp(mu[idx_zero])));
    target += {{ positive_rows() }} + poisson_log_lpmf(Y[idx_pos] | mu[idx_pos]);
{%- endmacro %}
{% macro y_rep_type() %}array[N] int{% endmacro %}
{% macro predictions() %}
    for (n in 1:N) {
      if (Y[n] == 0) {
        log_lik[n] = log_sum_exp(log({{ at("zi") }}), log1m({{ at("zi") }}) + poisson_log_lpmf(0 | mu[n]));
      } else {
        log_lik[n] = log1m({{ at("zi") }}) + poisson_log_lpmf(Y[n] | mu[n]);
      }
      y_rep[n] = bernoulli_rng({{ at("zi") }}) ? 0 : poisson_log_rng(mu[n]);
    }
{%- endmacro %}
{#- row n's log-likelihood given its full linear predictor mu[n]: a weighted model's likelihood
    (weights[n] times it) #}
{% macro row_lpdf() %}
{%- set zi = at("zi") -%}
Y[n] == 0 ? log_sum_exp(log({{ zi }}), log1m({{ zi }}) + poisson_log_lpmf(0 | mu[n])) : log1m({{ zi }}) + poisson_log_lpmf(Y[n] | mu[n])
{%- endmacro %}

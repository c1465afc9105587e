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
{% macro parameters() %}
  real<lower=0, upper=1> zi;  // zero-inflation probability
{%- endmacro %}
{% macro likelihood() %}
    mu += Xc * b;
    // log(zi + (1 - zi) * exp(-lambda)), written to stay finite for any zi and lambda
    target += sum(log1m(zi) - exp(mu[idx_zero]) + log1p_exp(logit(zi) + exp(mu[idx_zero])));
    target += (N - N_zero) * log1m(zi) + poisson_log_lpmf(Y[idx_pos] | mu[idx_pos]);
{%- endmacro %}
{% macro y_rep_type() %}array[N] int{% endmacro %}
{% macro predictions() %}
    for (n in 1:N) {
      if (Y[n] == 0) {
        log_lik[n] = log_sum_exp(log(zi), log1m(zi) + poisson_log_lpmf(0 | mu[n]));
      } else {
        log_lik[n] = log1m(zi) + poisson_log_lpmf(Y[n] | mu[n]);
      }
      y_rep[n] = bernoulli_rng(zi) ? 0 : poisson_log_rng(mu[n]);
    }
{%- endmacro %}

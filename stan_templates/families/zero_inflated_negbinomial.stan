{#- zero-inflated negative binomial, log link: a zero is structural (probability zi) or a
    negative binomial zero #}
{% import "families/zero_inflated_poisson.stan" as zip %}
{% macro data() %}
  array[N] int<lower=0> Y;  // response variable
{%- endmacro %}
{% macro transformed_data() %}{{ zip.transformed_data() }}{% endmacro %}
{% macro parameters() %}
  real<lower=0> shape;  // shape: the variance of the count part is mu + mu^2 / shape
  real<lower=0, upper=1> zi;  // zero-inflation probability
{%- endmacro %}
{% macro likelihood() %}
    mu += Xc * b;
    {
      // log of the negative binomial's probability of a zero: -shape * log(1 + mu / shape)
      vector[N_zero] lp_nb0 = -shape * log1p_exp(mu[idx_zero] - log(shape));
      target += sum(log1m(zi) + lp_nb0 + log1p_exp(logit(zi) - lp_nb0));
    }
    target += (N - N_zero) * log1m(zi) + neg_binomial_2_log_lpmf(Y[idx_pos] | mu[idx_pos], shape);
{%- endmacro %}
{% macro y_rep_type() %}array[N] int{% endmacro %}
{% macro predictions() %}
    for (n in 1:N) {
      if (Y[n] == 0) {
        log_lik[n] = log_sum_exp(log(zi), log1m(zi) + neg_binomial_2_log_lpmf(0 | mu[n], shape));
      } else {
        log_lik[n] = log1m(zi) + neg_binomial_2_log_lpmf(Y[n] | mu[n], shape);
      }
      y_rep[n] = bernoulli_rng(zi) ? 0 : neg_binomial_2_log_rng(mu[n], shape);
    }
{%- endmacro %}

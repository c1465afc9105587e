{#- skew_normal, identity link, as brms 2.18: in its mean parameterisation mu is the mean and sigma
    the SD; the skew normal's location xi and scale omega come from them and the skewness alpha
    (delta = alpha / sqrt(1 + alpha^2), omega = sigma / sqrt(1 - 2 / pi() * delta^2),
    xi = mu - omega * delta * sqrt(2 / pi())) #}
{% macro functions() %}
  // the skew normal's scale from its SD sigma and skewness alpha (brms's mean parameterisation)
  real skew_normal_omega(real sigma, real alpha) {
    return sigma / sqrt(1 - 2 / pi() * square(alpha) / (1 + square(alpha)));
  }
  // its location from its mean mu
  real skew_normal_xi(real mu, real sigma, real alpha) {
    real delta = alpha / sqrt(1 + square(alpha));
    return mu - skew_normal_omega(sigma, alpha) * delta * sqrt(2 / pi());
  }
{%- endmacro %}
{% macro data() %}
  vector[N] Y;  // response variable
{%- endmacro %}
{% macro transformed_data() %}{% endmacro %}
{% macro parameters() %}{% endmacro %}
{#- omega and xi over all rows: vectors where alpha or sigma has a formula #}
{% macro location_scale() %}
{% set by_row = "alpha" in vectors %}
{% set div, mul = ("./", ".*") if by_row else ("/", "*") %}
      {{ "vector[N]" if by_row else "real" }} delta = alpha {{ div }} sqrt(1 + square(alpha));
      {{ "vector[N]" if by_row or "sigma" in vectors else "real" }} omega = sigma {{ div }} sqrt(1 - 2 / pi() * square(delta));
      vector[N] xi = mu - omega {{ mul }} delta * sqrt(2 / pi());
{%- endmacro %}
{% macro likelihood() %}
    mu += Xc * b;
    {
{{ location_scale() }}
      target += skew_normal_lpdf(Y | xi, omega, alpha);
    }
{%- endmacro %}
{% macro y_rep_type() %}array[N] real{% endmacro %}
{#- stanli has no skew_normal_rng: there numpy draws y_rep (mixfit/results/family_predictions.py) #}
{% macro predictions() %}
    for (n in 1:N) {
      log_lik[n] = {{ row_lpdf() }};
    }
    {
{{ location_scale() }}
      y_rep = skew_normal_rng(xi, omega, alpha);
    }
{%- endmacro %}
{#- row n's log-likelihood given its full linear predictor mu[n]: a weighted model's likelihood
    (weights[n] times it) #}
{% macro row_lpdf() %}skew_normal_lpdf(Y[n] | {{ args() }}){% endmacro %}
{#- the distribution and its arguments for row n, for a censored row's CDFs (terms/censoring.stan) #}
{% macro dist() %}skew_normal{% endmacro %}
{% macro args() %}
{%- set sigma, alpha = at("sigma"), at("alpha") -%}
skew_normal_xi(mu[n], {{ sigma }}, {{ alpha }}), skew_normal_omega({{ sigma }}, {{ alpha }}), {{ alpha }}
{%- endmacro %}

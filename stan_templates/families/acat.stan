{#- acat (adjacent category, ordinal): P(Y = k + 1) / (P(Y = k) + P(Y = k + 1)) =
    F(mu - Intercept[k]), F the link's inverse, as brms 2.18 (its acat_<link>_lpmf, disc fixed at
    1); the thresholds replace the population intercept and, as brms's, are not constrained to be
    ordered #}
{% set lpmf = "acat_" ~ link ~ "_lpmf" %}
{% set inverse = {"logit": "inv_logit", "probit": "Phi", "cloglog": "inv_cloglog"}[link] %}
{% macro functions() %}
  /* acat-{{ link }} log-PDF for a single response (brms 2.18)
   * Args:
   *   y: response category
   *   mu: latent mean parameter
   *   disc: discrimination parameter
   *   thres: ordinal thresholds
   * Returns:
   *   a scalar to be added to the log posterior
   */
  real {{ lpmf }}(int y, real mu, real disc, vector thres) {
    int nthres = num_elements(thres);
{% if link == "logit" %}
    vector[nthres + 1] p = append_row(0, cumulative_sum(disc * (mu - thres)));
    return p[y] - log_sum_exp(p);
{% else %}
    vector[nthres + 1] p;
    vector[nthres] q;
    for (k in 1:(nthres))
      q[k] = {{ inverse }}(disc * (mu - thres[k]));
    for (k in 1:(nthres + 1)) {
      p[k] = 1.0;
      for (kk in 1:(k - 1)) p[k] = p[k] * q[kk];
      for (kk in k:(nthres)) p[k] = p[k] * (1 - q[kk]);
    }
    return log(p[y]) - log(sum(p));
{% endif %}
  }
{%- endmacro %}
{% macro data() %}
  int<lower=1> nthres;  // number of thresholds: categories - 1
  array[N] int<lower=1, upper=nthres + 1> Y;  // response category
{%- endmacro %}
{% macro transformed_data() %}{% endmacro %}
{% macro parameters() %}
  vector[nthres] Intercept;  // thresholds on the centred predictors
{%- endmacro %}
{% macro likelihood() %}
    mu += Xc * b;
    for (n in 1:N) {
      target += {{ row_lpdf() }};  // disc fixed at 1, as brms
    }
{%- endmacro %}
{% macro y_rep_type() %}array[N] int{% endmacro %}
{% macro predictions() %}
    for (n in 1:N) {
      vector[nthres + 1] theta;  // the probability of each category
      for (k in 1:(nthres + 1)) {
        theta[k] = exp({{ lpmf }}(k | mu[n], 1, {{ thres() }}));
      }
      log_lik[n] = {{ row_lpdf() }};
      y_rep[n] = categorical_rng(theta / sum(theta));
    }
{%- endmacro %}
{#- row n's log-likelihood given its full linear predictor mu[n] and, with cs() terms, its own
    thresholds (brms's Intercept - mucs[n]'): a weighted model's likelihood (weights[n] times it) #}
{% macro row_lpdf() %}{{ lpmf }}(Y[n] | mu[n], 1, {{ thres() }}){% endmacro %}

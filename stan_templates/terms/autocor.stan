{#- Autocorrelated residuals of mu (brms 2.18's stan_ac): ARMA in brms's residual form (cov =
    FALSE), where each row's mean adds ar times the residuals of the rows before it in its series
    (Err; J_lag counts them, the rows sorted by series and time), and ma times their residuals
    after the MA part; or cosy, a compound-symmetry correlation of each series' residuals. ``a``
    is mixfit/model/terms/autocor.py's context. -#}
{% macro data(a) %}
{% if a.cls == "arma" %}
  // data needed for ARMA correlations
  int<lower=0> Kar;  // AR order
  int<lower=0> Kma;  // MA order
  array[N] int<lower=0> J_lag;  // number of lags per observation
{% else %}
  // the series of the compound-symmetry structure: rows begin_tg[i]..end_tg[i]
  int<lower=1> N_tg;
  array[N_tg] int<lower=1> begin_tg;
  array[N_tg] int<lower=1> end_tg;
  array[N_tg] int<lower=1> nobs_tg;
{% endif %}
{%- endmacro %}
{% macro transformed_data(a) %}
{% if a.cls == "arma" %}
  int max_lag = max(Kar, Kma);
{% else %}
  int max_nobs_tg = max(nobs_tg);  // maximum dimension of the autocorrelation matrix
{% endif %}
{%- endmacro %}
{% macro parameters(a) %}
{% if a.ar %}
  vector[Kar] ar;  // autoregressive coefficients
{% endif %}
{% if a.ma %}
  vector[Kma] ma;  // moving-average coefficients
{% endif %}
{% if a.cls == "cosy" %}
  real<lower=0, upper=1> cosy;  // compound symmetry correlation
{% endif %}
{%- endmacro %}
{#- the ARMA terms added to mu, row by row, after its other terms (brms's loop) #}
{% macro residuals(a) %}
    {
      // matrix storing lagged residuals
      matrix[N, max_lag] Err = rep_matrix(0, N, max_lag);
      vector[N] err;  // actual residuals
      // include ARMA terms
      for (n in 1:N) {
{% if a.ma %}
        mu[n] += Err[n, 1:Kma] * ma;
{% endif %}
        err[n] = Y[n] - mu[n];
        for (i in 1:J_lag[n]) {
          Err[n + 1, i] = err[n + 1 - i];
        }
{% if a.ar %}
        mu[n] += Err[n, 1:Kar] * ar;
{% endif %}
      }
    }
{%- endmacro %}
{#- cosy: each series' residuals correlated (brms's normal_time_hom / student_t_time_hom) #}
{% macro likelihood(a, family) %}
    // cholesky factor of the compound-symmetry correlation matrix
    matrix[max_nobs_tg, max_nobs_tg] chol_cor
      = cholesky_decompose(add_diag(rep_matrix(cosy, max_nobs_tg, max_nobs_tg), 1 - cosy));
    for (i in 1:N_tg) {
      int first = begin_tg[i];
      int last = end_tg[i];
      int m = nobs_tg[i];
{% if family == "gaussian" %}
      target += multi_normal_cholesky_lpdf(Y[first:last] | mu[first:last], sigma * chol_cor[1:m, 1:m]);
{% else %}
      target += multi_student_t_cholesky_lpdf(Y[first:last] | nu, mu[first:last], sigma * chol_cor[1:m, 1:m]);
{% endif %}
    }
{%- endmacro %}
{#- ARMA: the rows' own densities given the mean with the ARMA terms (so no GLM function) #}
{% macro arma_likelihood(family) %}
{% if family == "gaussian" %}
    target += normal_lpdf(Y | mu, sigma);
{% else %}
    target += student_t_lpdf(Y | nu, mu, sigma);
{% endif %}
{%- endmacro %}
{#- cosy's log_lik as brms's log_lik_gaussian_time / log_lik_student_time: each row's density
    given the other rows of its series (the leave-one-out predictive of a correlated normal or
    student-t), and y_rep a draw of each series as a whole. For the student-t (Shah et al. 2014,
    brms's student_t_cov_factor), the conditional has nu + m - 1 degrees of freedom and its scale
    grows with beta1 = e[-j]' inverse(C[-j, -j]) e[-j], which is e' C^-1 e - g[j]^2 / cbar[j]. #}
{% macro predictions(a, family) %}
    matrix[max_nobs_tg, max_nobs_tg] chol_cor
      = cholesky_decompose(add_diag(rep_matrix(cosy, max_nobs_tg, max_nobs_tg), 1 - cosy));
    for (i in 1:N_tg) {
      int first = begin_tg[i];
      int last = end_tg[i];
      int m = nobs_tg[i];
      matrix[m, m] L = sigma * chol_cor[1:m, 1:m];
      matrix[m, m] Cinv = inverse_spd(multiply_lower_tri_self_transpose(L));
      vector[m] e = Y[first:last] - mu[first:last];
      vector[m] g = Cinv * e;
      vector[m] cbar = diagonal(Cinv);
{% if family == "gaussian" %}
      for (j in 1:m) {
        log_lik[first + j - 1] = normal_lpdf(Y[first + j - 1] | Y[first + j - 1] - g[j] / cbar[j],
                                             sqrt(1 / cbar[j]));
      }
      y_rep[first:last] = to_array_1d(multi_normal_cholesky_rng(mu[first:last], L));
{% else %}
      real eCe = dot_product(e, g);
      real df_loo = nu + m - 1;
      for (j in 1:m) {
        real beta1 = eCe - square(g[j]) / cbar[j];
        log_lik[first + j - 1] = student_t_lpdf(Y[first + j - 1] | df_loo,
                                                Y[first + j - 1] - g[j] / cbar[j],
                                                sqrt((nu + beta1) / (df_loo * cbar[j])));
      }
      // a multivariate student-t draw (brms's rmulti_student_t): a correlated normal one with
      // its scale mixed by an inverse gamma (as Stan's multi_student_t_cholesky_rng)
      real w = inv_gamma_rng(nu / 2, nu / 2);
      y_rep[first:last] = to_array_1d(mu[first:last]
                                      + sqrt(w) * multi_normal_cholesky_rng(rep_vector(0, m), L));
{% endif %}
    }
{%- endmacro %}

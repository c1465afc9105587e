{#- A gaussian model with one grouping factor, its group-level effects integrated out.

    y_j ~ normal(X_j beta, sigma^2 I + Z_j Sigma Z_j') for each level j, with Sigma = C C' and
    C = diag(sd_1) L_1. The likelihood uses per-level sufficient statistics, so a gradient costs
    O(levels) rather than O(rows); the group-level effects are drawn from their exact conditional
    in generated quantities. Same parameters, priors and data names as model.stan, less z_1. -#}
{% import "priors.stan" as priors %}
// generated with mixfit: gaussian, group-level effects integrated out
data {
  int<lower=1> N;  // total number of observations
  vector[N] Y;  // response variable
  int<lower=0> K;  // number of population-level effects, intercept excluded
  matrix[N, K] X;  // population-level design matrix
{% if offset %}
  vector[N] offsets;
{% endif %}
  // data for group-level effects of ID 1
  int<lower=1> N_1;  // number of grouping levels
  int<lower=1> M_1;  // number of coefficients per level
  array[N] int<lower=1> J_1;  // grouping indicator per observation
  matrix[N, M_1] Z_1;  // group-level predictors
{{ priors.declarations(slots) }}}
transformed data {
{% if intercept %}
  int P = K + 1;  // population-level effects, intercept included
  // centre the predictors so the intercept is sampled apart from the slopes
  vector[K] means_X;
  matrix[N, K] Xc;
  for (i in 1:K) {
    means_X[i] = mean(X[:, i]);
    Xc[:, i] = X[:, i] - means_X[i];
  }
  matrix[N, P] XI = append_col(rep_vector(1.0, N), Xc);
{% else %}
  int P = K;
  matrix[N, K] Xc = X;
  matrix[N, P] XI = X;
{% endif %}
{% if offset %}
  vector[N] Yo = Y - offsets;
{% else %}
  vector[N] Yo = Y;
{% endif %}
  // sufficient statistics: over all rows, and per grouping level
  matrix[P, P] XtX = crossprod(XI);
  vector[P] Xty = XI' * Yo;
  real yty = dot_self(Yo);
  array[N_1] matrix[M_1, M_1] ZtZ;
  array[N_1] matrix[M_1, P] ZtX;
  array[N_1] vector[M_1] Zty;
  for (j in 1:N_1) {
    ZtZ[j] = rep_matrix(0.0, M_1, M_1);
    ZtX[j] = rep_matrix(0.0, M_1, P);
    Zty[j] = rep_vector(0.0, M_1);
  }
  for (n in 1:N) {
    int j = J_1[n];
    vector[M_1] z = Z_1[n]';
    ZtZ[j] += z * z';
    ZtX[j] += z * XI[n];
    Zty[j] += z * Yo[n];
  }
}
parameters {
  vector[K] b;  // population-level effects
{% if intercept %}
  real Intercept;  // intercept on the centred predictors
{% endif %}
  real<lower=0> sigma;  // residual standard deviation
  vector<lower=0>[M_1] sd_1;  // group-level standard deviations
{% if cor %}
  cholesky_factor_corr[M_1] L_1;  // Cholesky factor of the correlation matrix
{% endif %}
}
transformed parameters {
  // the group-level covariance is C_1 * C_1'
{% if cor %}
  matrix[M_1, M_1] C_1 = diag_pre_multiply(sd_1, L_1);
{% else %}
  matrix[M_1, M_1] C_1 = diag_matrix(sd_1);
{% endif %}
}
model {
  // marginal likelihood, by the matrix determinant lemma and the Woodbury identity per level
  {
{% if intercept %}
    vector[P] beta = append_row(Intercept, b);
{% else %}
    vector[P] beta = b;
{% endif %}
    real s2 = square(sigma);
    real log_det = 2 * N * log(sigma);
    real quad = (yty - 2 * dot_product(beta, Xty) + quad_form(XtX, beta)) / s2;
    for (j in 1:N_1) {
      matrix[M_1, M_1] B_L = cholesky_decompose(add_diag(quad_form_sym(ZtZ[j], C_1) / s2, 1));
      vector[M_1] w = mdivide_left_tri_low(B_L, C_1' * (Zty[j] - ZtX[j] * beta)) / s2;
      log_det += 2 * sum(log(diagonal(B_L)));
      quad -= dot_self(w);
    }
    target += -0.5 * (log_det + quad);
  }
  // priors
{{ priors.statements(slots) }}}
generated quantities {
{% if intercept %}
  // the intercept on the original scale of the predictors
  real b_Intercept = Intercept - dot_product(means_X, b);
{% endif %}
{% if cor %}
  // group-level correlations of ID 1
  corr_matrix[M_1] Cor_1 = multiply_lower_tri_self_transpose(L_1);
{% endif %}
  // group-level effects of ID 1, drawn from their exact conditional given the parameters
  matrix[N_1, M_1] r_1;
  {
{% if intercept %}
    vector[P] beta = append_row(Intercept, b);
{% else %}
    vector[P] beta = b;
{% endif %}
    real s2 = square(sigma);
    for (j in 1:N_1) {
      matrix[M_1, M_1] B_L = cholesky_decompose(add_diag(quad_form_sym(ZtZ[j], C_1) / s2, 1));
      vector[M_1] w = mdivide_left_tri_low(B_L, C_1' * (Zty[j] - ZtX[j] * beta)) / s2;
      vector[M_1] eta = mdivide_right_tri_low((w + to_vector(normal_rng(rep_vector(0, M_1), 1)))', B_L)';
      r_1[j] = (C_1 * eta)';
    }
  }
{% if predictions %}
  vector[N] log_lik;  // pointwise log-likelihood given the group-level effects, for LOO
  array[N] real y_rep;  // a replicated data set per draw
  {
    vector[N] mu = rep_vector({{ "Intercept" if intercept else "0.0" }}, N) + Xc * b;
{% if offset %}
    mu += offsets;
{% endif %}
    mu += rows_dot_product(r_1[J_1], Z_1);
    for (n in 1:N) {
      log_lik[n] = normal_lpdf(Y[n] | mu[n], sigma);
    }
    y_rep = normal_rng(mu, sigma);
  }
{% endif %}
}

{#- A gaussian model with one grouping factor, its group-level effects integrated out.

    y_j ~ normal(X_j beta, sigma^2 I + Z_j Sigma Z_j') for each level j, with Sigma = C C' and
    C = diag(sd_1) L_1. The likelihood uses per-level sufficient statistics, so a gradient costs
    O(levels) rather than O(rows), and the data are those statistics, not the rows. Same
    parameters and priors as model.stan, less z_1; the group-level effects r_1 (from their exact
    conditional), log_lik and y_rep are drawn from these draws afterwards
    (mixfit/results/marginal_draws.py). -#}
{% import "priors.stan" as priors %}
// generated with mixfit: gaussian, group-level effects integrated out
data {
  int<lower=1> N;  // total number of observations
  int<lower=0> K;  // number of population-level effects, intercept excluded
{% if intercept %}
  vector[K] means_X;  // column means of the population-level design matrix X
{% endif %}
  int<lower=K> P;  // population-level effects, intercept included
  // data for group-level effects of ID 1
  int<lower=1> N_1;  // number of grouping levels
  int<lower=1> M_1;  // number of coefficients per level
  // the rows' sufficient statistics, summed by mixfit (mixfit/model/marginal_data.py): of the
  // design XI (with an intercept: a column of ones, then X less means_X; else X), of the
  // response Yo (Y less any offsets) and of the group-level predictors Z_1, over all rows and
  // per grouping level
  matrix[P, P] XtX;  // XI' XI
  vector[P] Xty;  // XI' Yo
  real yty;  // Yo' Yo
  array[N_1] matrix[M_1, M_1] ZtZ;  // Z_1' Z_1 over the level's rows
  array[N_1] matrix[M_1, P] ZtX;  // Z_1' XI over the level's rows
  array[N_1] vector[M_1] Zty;  // Z_1' Yo over the level's rows
{{ priors.declarations(slots) }}}
{% if terms <= 2 %}
transformed data {
  // the same per-level statistics as vectors over levels, for the closed-form likelihood below
  array[M_1, M_1] vector[N_1] S;  // S[k, l][j] = ZtZ[j][k, l]
  array[M_1] matrix[N_1, P] ZtX_v;  // row j of ZtX_v[k] is row k of ZtX[j]
  array[M_1] vector[N_1] Zty_v;  // Zty_v[k][j] = Zty[j][k]
  for (j in 1:N_1) {
    for (k in 1:M_1) {
      for (l in 1:M_1) {
        S[k, l][j] = ZtZ[j][k, l];
      }
      ZtX_v[k][j] = ZtX[j][k];
      Zty_v[k][j] = Zty[j][k];
    }
  }
}
{% endif %}
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
{% if terms == 1 %}
    // per level: A = 1 + sd^2 S / s2 and u = sd r, with r = Z'y - Z'X beta
    vector[N_1] A = 1 + square(C_1[1, 1]) * S[1, 1] / s2;
    vector[N_1] u = C_1[1, 1] * (Zty_v[1] - ZtX_v[1] * beta);
    log_det += sum(log(A));
    quad -= sum(square(u) ./ A) / square(s2);
{% elif terms == 2 %}
    // per level, in closed form: A = I + C' S C / s2 (2 x 2, C lower triangular) and u = C' r,
    // with r = Z'y - Z'X beta; vectorised over levels, which autodiff handles far faster
    real c11 = C_1[1, 1];
    real c21 = C_1[2, 1];
    real c22 = C_1[2, 2];
    vector[N_1] A11 = 1 + (square(c11) * S[1, 1] + 2 * c11 * c21 * S[1, 2] + square(c21) * S[2, 2]) / s2;
    vector[N_1] A12 = c22 * (c11 * S[1, 2] + c21 * S[2, 2]) / s2;
    vector[N_1] A22 = 1 + square(c22) * S[2, 2] / s2;
    vector[N_1] det_A = A11 .* A22 - square(A12);
    vector[N_1] r2 = Zty_v[2] - ZtX_v[2] * beta;
    vector[N_1] u1 = c11 * (Zty_v[1] - ZtX_v[1] * beta) + c21 * r2;
    vector[N_1] u2 = c22 * r2;
    log_det += sum(log(det_A));
    quad -= sum((A22 .* square(u1) - 2 * A12 .* u1 .* u2 + A11 .* square(u2)) ./ det_A) / square(s2);
{% else %}
    for (j in 1:N_1) {
      matrix[M_1, M_1] B_L = cholesky_decompose(add_diag(quad_form_sym(ZtZ[j], C_1) / s2, 1));
      vector[M_1] w = mdivide_left_tri_low(B_L, C_1' * (Zty[j] - ZtX[j] * beta)) / s2;
      log_det += 2 * sum(log(diagonal(B_L)));
      quad -= dot_self(w);
    }
{% endif %}
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
}

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
  // the per-level statistics as matrices over levels, for the closed-form likelihood below:
  // each entry of D = s2 I + C' Z'Z C and of u = C' (Z'y - Z'X beta), per level, is then one
  // product of a data matrix with a few parameters, which autodiff handles fastest
{% if terms == 1 %}
  matrix[N_1, 2] S_1;  // [1, Z'Z]: D = S_1 * [s2, c^2]'
  matrix[N_1, 1 + P] U_1;  // [Z'y, Z'X]: u = U_1 * [c, -c beta]'
  for (j in 1:N_1) {
    S_1[j] = [1, ZtZ[j][1, 1]];
    U_1[j] = append_col(Zty[j][1], ZtX[j][1]);
  }
{% else %}
  matrix[N_1, 4] S_11;  // [1, (Z'Z)11, (Z'Z)12, (Z'Z)22]: D11 = S_11 * [s2, c11^2, 2 c11 c21, c21^2]'
  matrix[N_1, 2] S_12;  // [(Z'Z)12, (Z'Z)22]: D12 = S_12 * [c22 c11, c22 c21]'
  matrix[N_1, 2] S_22;  // [1, (Z'Z)22]: D22 = S_22 * [s2, c22^2]'
  matrix[N_1, 2 + 2 * P] U_1;  // [Z1'y, Z2'y, Z1'X, Z2'X]: u1 = U_1 * [c11, c21, -c11 beta, -c21 beta]'
  matrix[N_1, 1 + P] U_2;  // [Z2'y, Z2'X]: u2 = U_2 * [c22, -c22 beta]'
  for (j in 1:N_1) {
    S_11[j] = [1, ZtZ[j][1, 1], ZtZ[j][1, 2], ZtZ[j][2, 2]];
    S_12[j] = [ZtZ[j][1, 2], ZtZ[j][2, 2]];
    S_22[j] = [1, ZtZ[j][2, 2]];
    U_1[j] = append_col(Zty[j]', append_col(ZtX[j][1], ZtX[j][2]));
    U_2[j] = append_col(Zty[j][2], ZtX[j][2]);
  }
{% endif %}
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
    // per level, with c = sd_1: A = 1 + c^2 Z'Z / s2 = D / s2 and u = c (Z'y - Z'X beta)
    real c = C_1[1, 1];
    vector[N_1] D = S_1 * [s2, square(c)]';
    vector[N_1] u = U_1 * append_row(c, -c * beta);
    log_det += sum(log(D)) - N_1 * log(s2);
    quad -= sum(square(u) ./ D) / s2;
{% elif terms == 2 %}
    // per level, in closed form: A = I + C' S C / s2 = D / s2 (2 x 2, C lower triangular) and
    // u = C' r, with r = Z'y - Z'X beta; vectorised over levels, which autodiff handles far faster
    real c11 = C_1[1, 1];
    real c21 = C_1[2, 1];
    real c22 = C_1[2, 2];
    vector[N_1] D11 = S_11 * [s2, square(c11), 2 * c11 * c21, square(c21)]';
    vector[N_1] D12 = S_12 * [c22 * c11, c22 * c21]';
    vector[N_1] D22 = S_22 * [s2, square(c22)]';
    vector[N_1] det_D = D11 .* D22 - square(D12);
    vector[N_1] u1 = U_1 * append_row([c11, c21]', append_row(-c11 * beta, -c21 * beta));
    vector[N_1] u2 = U_2 * append_row(c22, -c22 * beta);
    log_det += sum(log(det_D)) - 2 * N_1 * log(s2);
    quad -= sum((D22 .* square(u1) - 2 * D12 .* u1 .* u2 + D11 .* square(u2)) ./ det_D) / s2;
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

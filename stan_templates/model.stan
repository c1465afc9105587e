{#- The Stan program for every mixfit model. Jinja fills in the family (families/*.stan), the group
    blocks and the prior statements; sizes and prior hyperparameters are data, never literals. -#}
{% import family.template as fam with context %}
{% import "priors.stan" as priors %}
{#- the linear predictor of every row, or with rows = "start:end" of those rows only #}
{% macro linear_predictor(rows="") %}
{% set take = "[" ~ rows ~ "]" if rows else "" %}
    vector[N] mu = rep_vector({{ "Intercept" if intercept else "0.0" }}, N);
{% if offset %}
    mu += offsets{{ take }};
{% endif %}
{% for block in blocks %}
{% if block.intercept %}
    mu += col(r_{{ block.id }}, 1)[J_{{ block.id }}{{ take }}];  // the intercept, whose predictor is 1
{% endif %}
    for (k in {{ 2 if block.intercept else 1 }}:{{ "cols(r_%d)" % block.id if rows else "M_%d" % block.id }}) {
      mu += col(r_{{ block.id }}, k)[J_{{ block.id }}{{ take }}] .* Z_{{ block.id }}[{{ rows or ":" }}, k];
    }
{% endfor %}
{% endmacro %}
{#- what the reduce_sum form shares with every slice, beyond the family's own arguments #}
{% macro shared(declare) %}
{{- "data matrix " if declare }}Xc, {{ "vector " if declare }}b
{%- if intercept %}, {{ "real " if declare }}Intercept{% endif %}
{%- if offset %}, {{ "data vector " if declare }}offsets{% endif %}
{%- for block in blocks %}, {{ "data array[] int " if declare }}J_{{ block.id }}, {{ "data matrix " if declare }}Z_{{ block.id }}, {{ "matrix " if declare }}r_{{ block.id }}{% endfor %}
{%- endmacro %}
// generated with mixfit
{% if threads %}
functions {
  // the log-likelihood of rows start..end: reduce_sum shares the rows among a chain's threads
  real partial_log_lik(array[] int rows, int start, int end, {{ fam.partial_arguments() }},
                       {{ shared(true) }}) {
    int N = end - start + 1;
{{ linear_predictor("start:end").rstrip() }}
    return {{ fam.partial_log_lik() }};
  }
}
{% endif %}
data {
  int<lower=1> N;  // total number of observations
{{ fam.data() }}
  int<lower=0, upper=1> prior_only;  // 1: leave the likelihood out and sample from the priors
{% if threads %}
  int<lower=1> grainsize;  // rows per slice of reduce_sum
{% endif %}
  int<lower=0> K;  // number of population-level effects, intercept excluded
  matrix[N, K] X;  // population-level design matrix
  int<lower=0> P;  // number of population-level effects, intercept included
{% if offset %}
  vector[N] offsets;
{% endif %}
{% for block in blocks %}
  // data for group-level effects of ID {{ block.id }}
  int<lower=1> N_{{ block.id }};  // number of grouping levels
  int<lower=1> M_{{ block.id }};  // number of coefficients per level
  array[N] int<lower=1> J_{{ block.id }};  // grouping indicator per observation
  matrix[N, M_{{ block.id }}] Z_{{ block.id }};  // group-level predictors
  int<lower=0, upper=1> centred_{{ block.id }};  // 1: sample each level's coefficients (mixfit/centring.py)
  matrix[M_{{ block.id }}, P] F_{{ block.id }};  // population effects -> centre of each term's coefficients
{% if nesting and block.intercept %}
  // 0, or the block whose levels hold these levels: the centred intercepts are centred on its effects too
  int<lower=0, upper={{ blocks | length }}> nest_{{ block.id }};
  array[N_{{ block.id }}] int<lower=0> nest_level_{{ block.id }};  // each level's level in that block
{% endif %}
{% endfor %}
{{ priors.declarations(slots) }}}
transformed data {
{{ fam.transformed_data() }}
{% if threads %}
  array[N] int rows = linspaced_int_array(N, 1, N);  // what reduce_sum slices
{% endif %}
{% if centred %}
  // centre the predictors so the intercept is sampled apart from the slopes
  vector[K] means_X;
  matrix[N, K] Xc;
  for (i in 1:K) {
    means_X[i] = mean(X[:, i]);
    Xc[:, i] = X[:, i] - means_X[i];
  }
{% else %}
  matrix[N, K] Xc = X;
{% endif %}
}
parameters {
  vector[K] b;  // population-level effects
{% if intercept %}
  real Intercept;  // intercept on the centred predictors
{% endif %}
{{ fam.parameters() }}
{% for block in blocks %}
  vector<lower=0>[M_{{ block.id }}] sd_{{ block.id }};  // group-level standard deviations
  // standardised group-level effects; centred: each level's coefficients
  matrix[M_{{ block.id }}, N_{{ block.id }}] z_{{ block.id }};
{% if block.cor %}
  cholesky_factor_corr[M_{{ block.id }}] L_{{ block.id }};  // Cholesky factor of the correlation matrix
{% endif %}
{% endfor %}
}
transformed parameters {
{% for block in blocks %}
  matrix[N_{{ block.id }}, M_{{ block.id }}] r_{{ block.id }};  // actual group-level effects of ID {{ block.id }}: one row per level
{% endfor %}
{% if blocks %}
  {
    // the population-level effects on the predictors' own scale, the intercept first
{% if intercept %}
    vector[P] b_pop = append_row(Intercept - dot_product(means_X, b), b);
{% else %}
    vector[P] b_pop = b;
{% endif %}
{% for block in blocks %}
    if (centred_{{ block.id }}) {
      r_{{ block.id }} = transpose(z_{{ block.id }} - rep_matrix(F_{{ block.id }} * b_pop, N_{{ block.id }}));
    } else {
{% if block.cor %}
      r_{{ block.id }} = transpose(diag_pre_multiply(sd_{{ block.id }}, L_{{ block.id }}) * z_{{ block.id }});
{% else %}
      r_{{ block.id }} = transpose(diag_pre_multiply(sd_{{ block.id }}, z_{{ block.id }}));
{% endif %}
    }
{% endfor %}
{% if nesting %}
    // a centred block nested in another: its intercepts are centred on that block's effects too,
    // which then reach the likelihood through them alone (mixfit/model/centring.py)
{% for block in blocks if block.intercept %}
{% for outer in blocks if outer.intercept and outer.id != block.id %}
    if (nest_{{ block.id }} == {{ outer.id }}) {
      r_{{ block.id }}[:, 1] -= r_{{ outer.id }}[nest_level_{{ block.id }}, 1];
    }
{% endfor %}
{% endfor %}
{% endif %}
  }
{% endif %}
}
model {
  // likelihood; the population-level part goes through Stan's GLM function where there is one
  if (!prior_only) {
{% if threads %}
    target += reduce_sum(partial_log_lik, rows, grainsize, {% for a in fam.partial_arguments().split(", ") %}{{ a.split()[-1] }}, {% endfor %}{{ shared(false) }});
{% else %}
{{ linear_predictor() }}
{{ fam.likelihood() }}
{% endif %}
  }
  // priors
{{ priors.statements(slots) }}{% for block in blocks %}
  if (centred_{{ block.id }}) {
    // each level's coefficients ~ multi_normal(centre, C C'), through the standardised effects
{% if block.cor %}
    matrix[M_{{ block.id }}, M_{{ block.id }}] C = diag_pre_multiply(sd_{{ block.id }}, L_{{ block.id }});
{% else %}
    matrix[M_{{ block.id }}, M_{{ block.id }}] C = diag_matrix(sd_{{ block.id }});
{% endif %}
    target += std_normal_lpdf(to_vector(mdivide_left_tri_low(C, r_{{ block.id }}')));
    target += -N_{{ block.id }} * sum(log(diagonal(C)));
  } else {
    target += std_normal_lpdf(to_vector(z_{{ block.id }}));
  }
{% endfor %}
}
generated quantities {
{% if intercept %}
  // the intercept on the original scale of the predictors
  real b_Intercept = Intercept - dot_product(means_X, b);
{% elif thresholds %}
  // the thresholds on the original scale of the predictors
  vector[nthres] b_Intercept = Intercept + dot_product(means_X, b);
{% endif %}
{% for block in blocks if block.cor %}
  // group-level correlations of ID {{ block.id }}
  corr_matrix[M_{{ block.id }}] Cor_{{ block.id }} = multiply_lower_tri_self_transpose(L_{{ block.id }});
{% endfor %}
{% if predictions %}
  vector[N] log_lik;  // pointwise log-likelihood, for LOO
  {{ fam.y_rep_type() }} y_rep;  // a replicated data set per draw
  {
{{ linear_predictor() }}
    mu += Xc * b;
{{ fam.predictions() }}
  }
{% endif %}
}

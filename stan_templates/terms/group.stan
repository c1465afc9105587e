{#- Group-level effects of one block (brms's stan_re): per level a vector of M coefficients, with
    SDs and, for a correlated block, the Cholesky factor of their correlations. Non-centred as
    brms (r = diag(sd) L z), or centred where each level's data pin it down
    (mixfit/model/centring.py): a data flag picks the form, so the choice never recompiles. A
    block may feed several predictors (brms's IDs: (1 | p | g) in mu's and sigma's formulas);
    b.columns says which of its columns feed which predictor. -#}
{% macro data(b) %}
  // data for group-level effects of ID {{ b.id }}
  int<lower=1> N_{{ b.id }};  // number of grouping levels
  int<lower=1> M_{{ b.id }};  // number of coefficients per level
  array[N] int<lower=1> J_{{ b.id }};  // grouping indicator per observation
{% if b.mo %}
  matrix[N, M_{{ b.id }} - {{ b.mo }}] Z_{{ b.id }};  // group-level predictors (none for its last {{ b.mo }}, mo() terms)
{% else %}
  matrix[N, M_{{ b.id }}] Z_{{ b.id }};  // group-level predictors
{% endif %}
{% if b.split %}
{% for dpar, c in b.columns.items() %}
  // its columns first_{{ b.id }}{{ c.s }}..last_{{ b.id }}{{ c.s }} feed {{ dpar }}'s predictor
  int<lower=1> first_{{ b.id }}{{ c.s }};
  int<lower=0> last_{{ b.id }}{{ c.s }};
{% endfor %}
{% endif %}
{% if b.centrable %}
  int<lower=0, upper=1> centred_{{ b.id }};  // 1: sample each level's coefficients (mixfit/centring.py)
  matrix[M_{{ b.id }}, P] F_{{ b.id }};  // population effects -> centre of each term's coefficients
{% endif %}
{% if b.nesting %}
  // 0, or the block whose levels hold these levels: the centred intercepts are centred on its effects too
  int<lower=0, upper={{ b.blocks }}> nest_{{ b.id }};
  array[N_{{ b.id }}] int<lower=0> nest_level_{{ b.id }};  // each level's level in that block
{% endif %}
{%- endmacro %}
{% macro parameters(b) %}
  vector<lower=0>[M_{{ b.id }}] sd_{{ b.id }};  // group-level standard deviations
{% if b.centrable %}
  // standardised group-level effects; centred: each level's coefficients
{% else %}
  // standardised group-level effects
{% endif %}
  matrix[M_{{ b.id }}, N_{{ b.id }}] z_{{ b.id }};
{% if b.cor %}
  cholesky_factor_corr[M_{{ b.id }}] L_{{ b.id }};  // Cholesky factor of the correlation matrix
{% endif %}
{%- endmacro %}
{% macro declare_r(b) %}
  matrix[N_{{ b.id }}, M_{{ b.id }}] r_{{ b.id }};  // actual group-level effects of ID {{ b.id }}: one row per level
{%- endmacro %}
{#- r from z, inside a scope where b_pop holds the population-level effects (centred blocks) #}
{% macro transformed_parameters(b) %}
{% if b.cor %}
{% set scaled = "diag_pre_multiply(sd_%d, L_%d) * z_%d" % (b.id, b.id, b.id) %}
{% else %}
{% set scaled = "diag_pre_multiply(sd_%d, z_%d)" % (b.id, b.id) %}
{% endif %}
{% if b.centrable %}
    if (centred_{{ b.id }}) {
      r_{{ b.id }} = transpose(z_{{ b.id }} - rep_matrix(F_{{ b.id }} * b_pop, N_{{ b.id }}));
    } else {
      r_{{ b.id }} = transpose({{ scaled }});
    }
{% else %}
    r_{{ b.id }} = transpose({{ scaled }});
{% endif %}
{%- endmacro %}
{% macro nest(b, outer) %}
    if (nest_{{ b.id }} == {{ outer.id }}) {
      r_{{ b.id }}[:, 1] -= r_{{ outer.id }}[nest_level_{{ b.id }}, 1];
    }
{%- endmacro %}
{#- A block in a nesting pair (nest_K): the inner block's rows take the outer block's intercepts
    through its levels, so the outer's need no gather over every row (a sixth of InstEval's
    gradient). Only the intercepts that reach the rows are folded: r_K, as reported, stays each
    level's own deviation. -#}
{% macro carried(b, others) %}
  // 1: its intercepts reach the rows through the block nested in it
  int carried_{{ b.id }} = {% for o in others %}{{ " || " if not loop.first }}nest_{{ o.id }} == {{ b.id }}{% endfor %};
{%- endmacro %}
{% macro folded_intercepts(b, others, p) %}
    if (!carried_{{ b.id }}) {
      // its intercepts, and those of the block it nests in (nest_{{ b.id }})
      vector[N_{{ b.id }}] reach = col(r_{{ b.id }}, 1);
{% for o in others %}
      if (nest_{{ b.id }} == {{ o.id }}) {
        reach += col(r_{{ o.id }}, 1)[nest_level_{{ b.id }}];
      }
{% endfor %}
      {{ p.eta }} += reach[J_{{ b.id }}];
    }
{%- endmacro %}
{#- the block's share of predictor p, for every row (rows "") or rows start:end; others: the
    blocks it may nest in or hold (see folded_intercepts) #}
{% macro predictor(b, p, rows, others=()) %}
{% set c = b.columns[p.dpar] %}
{% set take = "[" ~ rows ~ "]" if rows else "" %}
{#- a reduce_sum slice's function sees no data but its arguments #}
{% set last = ("cols(r_%d)" % b.id) if rows and not b.split else c.last %}
{#- a block with mo() columns (never split) has Z columns for the others only #}
{% set last = ("cols(Z_%d)" % b.id) if b.mo else last %}
{% if c.intercept and others and not rows %}
{{ folded_intercepts(b, others, p) }}
{% elif c.intercept %}
    {{ p.eta }} += col(r_{{ b.id }}, {{ c.first }})[J_{{ b.id }}{{ take }}];  // the intercept, whose predictor is 1
{% endif %}
    for (k in {{ c.rest }}:{{ last }}) {
      {{ p.eta }} += col(r_{{ b.id }}, k)[J_{{ b.id }}{{ take }}] .* Z_{{ b.id }}[{{ rows or ":" }}, k];
    }
{%- endmacro %}
{% macro model(b) %}
{% if b.centrable %}
  if (centred_{{ b.id }}) {
    // each level's coefficients ~ multi_normal(centre, C C'), through the standardised effects
{% if b.cor %}
    matrix[M_{{ b.id }}, M_{{ b.id }}] C = diag_pre_multiply(sd_{{ b.id }}, L_{{ b.id }});
{% else %}
    matrix[M_{{ b.id }}, M_{{ b.id }}] C = diag_matrix(sd_{{ b.id }});
{% endif %}
    target += std_normal_lpdf(to_vector(mdivide_left_tri_low(C, r_{{ b.id }}')));
    target += -N_{{ b.id }} * sum(log(diagonal(C)));
  } else {
    target += std_normal_lpdf(to_vector(z_{{ b.id }}));
  }
{% else %}
  target += std_normal_lpdf(to_vector(z_{{ b.id }}));
{% endif %}
{%- endmacro %}
{% macro generated(b) %}
{% if b.cor %}
  // group-level correlations of ID {{ b.id }}
  corr_matrix[M_{{ b.id }}] Cor_{{ b.id }} = multiply_lower_tri_self_transpose(L_{{ b.id }});
{% endif %}
{%- endmacro %}

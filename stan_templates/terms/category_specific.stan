{#- Category-specific effects of mu (brms's stan_cs): a coefficient per threshold for each column
    of Xcs, whose products with the rows (mucs) the ordinal family takes off its thresholds:
    brms's thres - mucs[n]'. bcs is brms's matrix[Kcs, nthres] flattened column by column, so
    that each element carries its own prior; Xcs is not centred, as brms's. -#}
{% macro data(p) %}
  // category-specific effects
  int<lower=1> Kcs;  // number of category-specific effects
  matrix[N, Kcs] Xcs;  // category-specific design matrix
{%- endmacro %}
{% macro parameters(p) %}
  vector[Kcs * nthres] bcs;  // category-specific effects: to_matrix(bcs, Kcs, nthres)
{%- endmacro %}
{#- for every row (rows "") or rows start:end of a reduce_sum slice #}
{% macro predictor(p, rows) %}
    // linear predictor for category-specific effects
    matrix[N, nthres] mucs = Xcs{{ ("[" ~ rows ~ "]") if rows }} * to_matrix(bcs, Kcs, nthres);
{%- endmacro %}

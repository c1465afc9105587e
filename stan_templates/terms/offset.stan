{#- An offset: a known term of the predictor, with no coefficient (brms's stan_offset) -#}
{% macro data(p) %}
  vector[N] offsets{{ p.s }};  // offset{{ p.of }}
{%- endmacro %}
{% macro predictor(p, rows) %}
    {{ p.eta }} += offsets{{ p.s }}{{ ("[" ~ rows ~ "]") if rows }};
{%- endmacro %}

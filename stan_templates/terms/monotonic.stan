{#- Monotonic effects of one predictor (brms's stan_sp): per term i its values Xmo_i in 0..Jmo[i],
    a simplex simo_i sharing the effect among the Jmo[i] steps (a Dirichlet prior of data
    concentration con_simo_i) and the mean step bsp[i]. ``p.s`` is the predictor's suffix;
    ``t.j`` a term's "_1", "_sigma_1". -#}
{% macro functions(p) %}
  /* compute monotonic effects (brms's mo())
   * Args:
   *   scale: a simplex parameter
   *   i: index to sum over the simplex
   * Returns:
   *   a scalar between 0 and rows(scale)
   */
  real mo(vector scale, int i) {
    if (i == 0) {
      return 0;
    } else {
      return rows(scale) * sum(scale[1:i]);
    }
  }
{%- endmacro %}
{% macro data(p) %}
  // data for monotonic effects{{ p.of }}
  int<lower=1> Ksp{{ p.s }};  // number of special effects terms
  int<lower=1> Imo{{ p.s }};  // number of monotonic variables
  array[Imo{{ p.s }}] int<lower=1> Jmo{{ p.s }};  // length of simplexes
{% for t in p.terms %}
  array[N] int Xmo{{ t.j }};  // monotonic variable {{ t.text }}
  vector[Jmo{{ p.s }}[{{ t.i }}]] con_simo{{ t.j }};  // prior concentration of monotonic simplex
{% endfor %}
{%- endmacro %}
{% macro parameters(p) %}
{% for t in p.terms %}
  simplex[Jmo{{ p.s }}[{{ t.i }}]] simo{{ t.j }};  // monotonic simplex of {{ t.text }}
{% endfor %}
  vector[Ksp{{ p.s }}] bsp{{ p.s }};  // special effects coefficients{{ p.of }}
{%- endmacro %}
{#- added to the predictor a row at a time, over every row (rows "") or a reduce_sum slice's
    rows start:end, n counting from 1 within the slice -#}
{% macro predictor(p, rows) %}
{% set at = "start + n - 1" if rows else "n" %}
    for (n in 1:N) {
{% for t in p.terms %}
{% if t.groups %}
{#- (mo(x) | g): each level's own mean step, its group-level effect added to bsp #}
      {{ p.eta }}[n] += (bsp{{ p.s }}[{{ t.i }}]
{%- for g in t.groups %} + r_{{ g.id }}[J_{{ g.id }}[{{ at }}], {{ g.k }}]{% endfor -%}
      ) * mo(simo{{ t.j }}, Xmo{{ t.j }}[{{ at }}]);
{% else %}
      {{ p.eta }}[n] += bsp{{ p.s }}[{{ t.i }}] * mo(simo{{ t.j }}, Xmo{{ t.j }}[{{ at }}]);
{% endif %}
{% endfor %}
    }
{%- endmacro %}
{% macro model(p) %}
{% for t in p.terms %}
  target += dirichlet_lpdf(simo{{ t.j }} | con_simo{{ t.j }});
{% endfor %}
{%- endmacro %}

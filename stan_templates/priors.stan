{#- Prior declarations and statements, shared by every program. Each slot is one Stan parameter;
    each distribution its elements use gets its hyperparameters as data, one row per element. -#}
{% macro declarations(slots) %}
  // prior hyperparameters, one row per prior-carrying element
{% for slot in slots %}
{% for dist in slot.distributions %}
{% if slot.scalar %}
  vector[{{ dist.params | length }}] prior_{{ slot.name }}_{{ dist.name }};  // {{ dist.name }}({{ dist.params | join(", ") }})
{% else %}
  int<lower=0> NP_{{ slot.name }}_{{ dist.name }};
  array[NP_{{ slot.name }}_{{ dist.name }}] int<lower=1> prior_{{ slot.name }}_{{ dist.name }}_idx;
  matrix[NP_{{ slot.name }}_{{ dist.name }}, {{ dist.params | length }}] prior_{{ slot.name }}_{{ dist.name }};  // {{ dist.name }}({{ dist.params | join(", ") }})
{% endif %}
{% endfor %}
{% endfor %}
{%- endmacro %}
{% macro statement(slot, dist) %}
{% set hp = "prior_" ~ slot.name ~ "_" ~ dist.name %}
{% if slot.scalar %}
{% set args = [] %}{% for i in range(dist.params | length) %}{% do args.append(hp ~ "[" ~ (i + 1) ~ "]") %}{% endfor %}
{% set target = slot.name %}
{% else %}
{% set args = [] %}{% for i in range(dist.params | length) %}{% do args.append(hp ~ "[:, " ~ (i + 1) ~ "]") %}{% endfor %}
{% set target = slot.name ~ "[" ~ hp ~ "_idx]" %}
{% endif %}
{% if dist.name == "lkj" %}
  target += lkj_corr_cholesky_lpdf({{ target }} | {{ args | join(", ") }});
{% elif dist.lower is not none and dist.upper is not none %}
  // {{ dist.name }} truncated to the parameter's bounds ({{ dist.lower }}, {{ dist.upper }})
  target += {{ dist.name }}_lpdf({{ target }} | {{ args | join(", ") }})
            - log_diff_exp({{ dist.name }}_lcdf({{ dist.upper }} | {{ args | join(", ") }}),
                           {{ dist.name }}_lcdf({{ dist.lower }} | {{ args | join(", ") }}));
{% elif dist.lower is not none %}
  // {{ "half " if dist.lower == "0" else "" }}{{ dist.name }}: truncated at the lower bound {{ dist.lower }}
  target += {{ dist.name }}_lpdf({{ target }} | {{ args | join(", ") }})
            - {{ dist.name }}_lccdf({{ dist.lower }} | {{ args | join(", ") }});
{% elif dist.upper is not none %}
  // {{ dist.name }}: truncated at the upper bound {{ dist.upper }}
  target += {{ dist.name }}_lpdf({{ target }} | {{ args | join(", ") }})
            - {{ dist.name }}_lcdf({{ dist.upper }} | {{ args | join(", ") }});
{% else %}
  target += {{ dist.name }}_lpdf({{ target }} | {{ args | join(", ") }});
{% endif %}
{% endmacro %}
{% macro statements(slots) %}
{% for slot in slots %}
{% for dist in slot.distributions %}
{{ statement(slot, dist) }}
{%- endfor %}
{% endfor %}
{%- endmacro %}

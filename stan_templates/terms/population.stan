{#- Population-level effects of one predictor (brms's stan_fe): X's columns, centred so that the
    intercept is sampled apart from the slopes. ``p.s`` is the suffix of the predictor's Stan
    names: "" for mu, "_sigma" for sigma's formula. mu leaves Xc * b to the family, which hands
    it to Stan's GLM function where there is one; every other predictor adds it here. -#}
{% macro data(p) %}
  // population-level effects{{ p.of }}
  int<lower=0> K{{ p.s }};  // number of population-level effects, intercept excluded
  matrix[N, K{{ p.s }}] X{{ p.s }};  // population-level design matrix
{%- endmacro %}
{% macro transformed_data(p) %}
{% if p.centred %}
  // centre the predictors{{ p.of }} so the intercept is sampled apart from the slopes
  vector[K{{ p.s }}] means_X{{ p.s }};
  matrix[N, K{{ p.s }}] Xc{{ p.s }};
  for (i in 1:K{{ p.s }}) {
    means_X{{ p.s }}[i] = mean(X{{ p.s }}[:, i]);
    Xc{{ p.s }}[:, i] = X{{ p.s }}[:, i] - means_X{{ p.s }}[i];
  }
{% else %}
  matrix[N, K{{ p.s }}] Xc{{ p.s }} = X{{ p.s }};
{% endif %}
{%- endmacro %}
{% macro parameters(p) %}
  vector[K{{ p.s }}] b{{ p.s }};  // population-level effects{{ p.of }}
{% if p.intercept %}
  real Intercept{{ p.s }};  // intercept{{ p.of }} on the centred predictors
{% endif %}
{%- endmacro %}
{#- the predictor's start, for every row (rows "") or rows start:end of a reduce_sum slice, whose
    function declares N as their number #}
{% macro predictor(p, rows) %}
{% if p.glm %}
    vector[N] {{ p.eta }} = rep_vector({{ ("Intercept" ~ p.s) if p.intercept else "0.0" }}, N);
{% else %}
    vector[N] {{ p.eta }} = {{ ("Intercept" ~ p.s ~ " + ") if p.intercept }}Xc{{ p.s }}{{ ("[" ~ rows ~ "]") if rows }} * b{{ p.s }};
{% endif %}
{%- endmacro %}
{% macro generated(p) %}
{% if p.intercept %}
  // the intercept{{ p.of }} on the original scale of the predictors
  real b{{ p.s }}_Intercept = Intercept{{ p.s }} - dot_product(means_X{{ p.s }}, b{{ p.s }});
{% elif p.thresholds %}
  // the thresholds on the original scale of the predictors
  vector[nthres] b_Intercept = Intercept + dot_product(means_X, b);
{% endif %}
{%- endmacro %}

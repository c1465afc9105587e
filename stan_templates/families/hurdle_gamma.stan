{#- hurdle gamma (mean and shape), log link, as brms 2.18's hurdle_gamma_lpdf: a zero with
    probability hu, else a gamma of rate shape / mu (which puts no mass at 0, so nothing is
    truncated) #}
{% import "families/zero_inflated_poisson.stan" as zip with context %}
{% macro data() %}
  vector<lower=0>[N] Y;  // response variable, zeros included
{%- endmacro %}
{#- the rows with a zero and the rest, as the zero-inflated families split them #}
{% macro transformed_data() %}{{ zip.transformed_data() }}{% endmacro %}
{% macro parameters() %}{% endmacro %}
{#- the sum over the rows ``idx`` (``count`` of them) of ``fn`` (log or log1m) of probability
    ``p``: an element per row if it has a formula; shared with the other point-mass families #}
{% macro mass(p, fn, idx, count) -%}
{%- if p in vectors %}sum({{ fn }}({{ p }}[{{ idx }}])){% else %}{{ count }} * {{ fn }}({{ p }}){% endif %}
{%- endmacro %}
{#- log(p) of every zero row and log(1 - p) of the others #}
{% macro hurdle_rows(p) -%}
{{ mass(p, "log", "idx_zero", "N_zero") }} + {{ mass(p, "log1m", "idx_pos", "(N - N_zero)") }}
{%- endmacro %}
{#- a parameter's values over the rows ``idx``: all of them if it has a formula, else the one #}
{% macro over(p, idx) %}{{ p ~ "[" ~ idx ~ "]" if p in vectors else p }}{% endmacro %}
{% macro likelihood() %}
{% set shape = over("shape", "idx_pos") %}
    mu += Xc * b;
    target += {{ hurdle_rows("hu") }};
    target += gamma_lpdf(Y[idx_pos] | {{ shape }}, {{ shape }} {{ "./" if "shape" in vectors else "*" }} exp({{ "" if "shape" in vectors else "-" }}mu[idx_pos]));
{%- endmacro %}
{% macro y_rep_type() %}array[N] real{% endmacro %}
{% macro predictions() %}
    for (n in 1:N) {
      log_lik[n] = {{ row_lpdf() }};
      y_rep[n] = bernoulli_rng({{ at("hu") }}) ? 0.0 : gamma_rng({{ at("shape") }}, {{ at("shape") }} * exp(-mu[n]));
    }
{%- endmacro %}
{#- row n's log-likelihood given its full linear predictor mu[n]: a weighted model's likelihood
    (weights[n] times it) #}
{% macro row_lpdf() %}
{%- set hu, shape = at("hu"), at("shape") -%}
Y[n] == 0 ? log({{ hu }}) : log1m({{ hu }}) + gamma_lpdf(Y[n] | {{ shape }}, {{ shape }} * exp(-mu[n]))
{%- endmacro %}

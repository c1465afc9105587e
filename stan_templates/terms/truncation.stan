{#- trunc(lb = , ub = ) and rate(n): brms 2.18's truncated likelihood and rate denominator, a row
    at a time. A truncated row's log-likelihood is its density less the log probability of its
    bounds (stan_log_lik_trunc): lccdf(lb) with a lower bound alone, lcdf(ub) with an upper bound
    alone, log_diff_exp(lcdf(ub), lcdf(lb)) with both; a count's lower bound is inclusive, so its
    term reads lb - 1. ``dist`` and ``args`` are the family's (families/NAME.stan: dist(), args());
    ``lower``, ``upper`` which bounds the model has, ``integer`` whether the response is a count.
    rate(n) adds log(n) to mu's predictor (and with negbinomial multiplies shape by n, in the
    family's args) #}
{% macro data(lower, upper, integer, rate) %}
{% if lower %}
  {{ "array[N] int" if integer else "vector[N]" }} lb;  // lower truncation bounds
{% endif %}
{% if upper %}
  {{ "array[N] int" if integer else "vector[N]" }} ub;  // upper truncation bounds
{% endif %}
{% if rate %}
  vector<lower=0>[N] denom;  // response denominator (rate())
{% endif %}
{%- endmacro %}
{% macro transformed_data(rate) %}
{% if rate %}
  vector[N] log_denom = log(denom);  // what rate() adds to mu's predictor
{% endif %}
{%- endmacro %}
{% macro predictor(rows) %}
    mu += log_denom{{ ("[" ~ rows ~ "]") if rows }};
{%- endmacro %}
{#- the log probability of row n's bounds, subtracted from its log-likelihood: " - ..." #}
{% macro term(dist, args, lower, upper, integer) %}
{%- set lb = "lb[n] - 1" if integer else "lb[n]" %}
{%- if lower and upper %} - log_diff_exp({{ dist }}_lcdf(ub[n] | {{ args }}), {{ dist }}_lcdf({{ lb }} | {{ args }}))
{%- elif lower %} - {{ dist }}_lccdf({{ lb }} | {{ args }})
{%- elif upper %} - {{ dist }}_lcdf(ub[n] | {{ args }})
{%- endif %}
{%- endmacro %}
{#- row n's log-likelihood into log_lik (the censoring's, if any, set after it), and a
    replicated response drawn from the truncated distribution: drawn again while outside the
    bounds (brms's posterior_predict rejects for counts too), at most MAX_TRIES times, after
    which it is the bound it fell beyond #}
{% macro predictions(row_lpdf, dist, args, lower, upper, integer) %}
    for (n in 1:N) {
      log_lik[n] = {{ row_lpdf }};
      y_rep[n] = {{ dist }}_rng({{ args }});
{% if lower or upper %}
{%- set outside = [] %}
{%- if lower %}{% do outside.append("y_rep[n] < lb[n]") %}{% endif %}
{%- if upper %}{% do outside.append("y_rep[n] > ub[n]") %}{% endif %}
      for (tries in 1:100) {
        if (!({{ outside | join(" || ") }})) {
          break;
        }
        y_rep[n] = {{ dist }}_rng({{ args }});
      }
{% if lower %}
      y_rep[n] = {{ "max" if integer else "fmax" }}(y_rep[n], lb[n]);
{% endif %}
{% if upper %}
      y_rep[n] = {{ "min" if integer else "fmin" }}(y_rep[n], ub[n]);
{% endif %}
{% endif %}
    }
{%- endmacro %}
{% macro adjust(term) %}
    for (n in 1:N) {
      log_lik[n] = log_lik[n]{{ term }};
    }
{%- endmacro %}

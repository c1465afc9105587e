{#- cens(c) and cens(c, y2): brms 2.18's censored likelihood, a row at a time. A censored row's
    log-likelihood is its distribution's log probability beyond its value (right: lccdf; left:
    lcdf) or between its value and rcens (interval: log_diff_exp of two lcdfs); ``dist`` and
    ``args`` are the family's (families/NAME.stan: dist(), args()), ``to`` what each row's value
    goes into ("target += " or "log_lik[n] = ", times the weight where the model has weights),
    ``tr`` what trunc() subtracts (terms/truncation.stan), outside the weight as in brms #}
{% macro data(interval) %}
  array[N] int<lower=-1, upper=2> cens;  // -1 left, 0 none, 1 right, 2 interval censored
{% if interval %}
  vector[N] rcens;  // the upper end of an interval-censored row
{% endif %}
{%- endmacro %}
{% macro rows(dist, args, to, interval, tr="") %}
      if (cens[n] == 0) {
        {{ to }}{{ dist }}_lpdf(Y[n] | {{ args }}){{ tr }};
      } else if (cens[n] == 1) {
        {{ to }}{{ dist }}_lccdf(Y[n] | {{ args }}){{ tr }};
      } else if (cens[n] == -1) {
        {{ to }}{{ dist }}_lcdf(Y[n] | {{ args }}){{ tr }};
{% if interval %}
      } else if (cens[n] == 2) {
        {{ to }}log_diff_exp({{ dist }}_lcdf(rcens[n] | {{ args }}), {{ dist }}_lcdf(Y[n] | {{ args }})){{ tr }};
{% endif %}
      }
{%- endmacro %}

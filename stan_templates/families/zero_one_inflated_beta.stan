{#- zero-one-inflated beta (mean and precision), logit link, as brms 2.18's
    zero_one_inflated_beta_lpdf: a 0 or a 1 with probability zoi (a 1 among them with probability
    coi), else a beta of mean inv_logit(mu) and precision phi; the response lies in [0, 1] #}
{% import "families/hurdle_gamma.stan" as hurdle with context %}
{% macro data() %}
  vector<lower=0, upper=1>[N] Y;  // response variable, in [0, 1]
{%- endmacro %}
{% macro transformed_data() %}
  // the rows at 0, at 1 and between, so the likelihood is vectorised over each
  int N_zero = 0;
  int N_one = 0;
  for (n in 1:N) {
    N_zero += Y[n] == 0;
    N_one += Y[n] == 1;
  }
  int N_mid = N - N_zero - N_one;
  array[N_zero] int idx_zero;
  array[N_one] int idx_one;
  array[N_mid] int idx_mid;
  {
    int z = 0;
    int o = 0;
    int m = 0;
    for (n in 1:N) {
      if (Y[n] == 0) {
        z += 1;
        idx_zero[z] = n;
      } else if (Y[n] == 1) {
        o += 1;
        idx_one[o] = n;
      } else {
        m += 1;
        idx_mid[m] = n;
      }
    }
  }
{%- endmacro %}
{% macro parameters() %}{% endmacro %}
{% macro likelihood() %}
    mu += Xc * b;
    // a 0: zoi and 1 - coi; a 1: zoi and coi; between: 1 - zoi and the beta's density
    target += {{ hurdle.mass("zoi", "log", "idx_zero", "N_zero") }} + {{ hurdle.mass("coi", "log1m", "idx_zero", "N_zero") }};
    target += {{ hurdle.mass("zoi", "log", "idx_one", "N_one") }} + {{ hurdle.mass("coi", "log", "idx_one", "N_one") }};
    target += {{ hurdle.mass("zoi", "log1m", "idx_mid", "N_mid") }};
    target += beta_proportion_lpdf(Y[idx_mid] | inv_logit(mu[idx_mid]), {{ hurdle.over("phi", "idx_mid") }});
{%- endmacro %}
{% macro y_rep_type() %}array[N] real{% endmacro %}
{% macro predictions() %}
    for (n in 1:N) {
      log_lik[n] = {{ row_lpdf() }};
      y_rep[n] = bernoulli_rng({{ at("zoi") }}) ? bernoulli_rng({{ at("coi") }}) : beta_proportion_rng(inv_logit(mu[n]), {{ at("phi") }});
    }
{%- endmacro %}
{#- row n's log-likelihood given its full linear predictor mu[n]: a weighted model's likelihood
    (weights[n] times it) #}
{% macro row_lpdf() %}
{%- set zoi, coi = at("zoi"), at("coi") -%}
Y[n] == 0 ? log({{ zoi }}) + log1m({{ coi }}) : (Y[n] == 1 ? log({{ zoi }}) + log({{ coi }}) : log1m({{ zoi }}) + beta_proportion_lpdf(Y[n] | inv_logit(mu[n]), {{ at("phi") }}))
{%- endmacro %}

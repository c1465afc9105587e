{#- exgaussian (exponentially modified normal), identity link, as brms 2.18: a normal of mean
    mu - beta and SD sigma plus an exponential of mean beta, so mu is the mean:
    exp_mod_normal(mu - beta, sigma, inv(beta)) #}
{% macro data() %}
  vector[N] Y;  // response variable
{%- endmacro %}
{% macro transformed_data() %}{% endmacro %}
{% macro parameters() %}{% endmacro %}
{% macro likelihood() %}
    mu += Xc * b;
    target += exp_mod_normal_lpdf(Y | mu - beta, sigma, inv(beta));
{%- endmacro %}
{% macro y_rep_type() %}array[N] real{% endmacro %}
{#- stanli has no exp_mod_normal_rng: there numpy draws y_rep (mixfit/results/family_predictions.py) #}
{% macro predictions() %}
    for (n in 1:N) {
      log_lik[n] = exp_mod_normal_lpdf(Y[n] | {{ args() }});
    }
    y_rep = exp_mod_normal_rng(mu - beta, sigma, inv(beta));
{%- endmacro %}
{#- row n's log-likelihood given its full linear predictor mu[n]: a weighted model's likelihood
    (weights[n] times it) #}
{% macro row_lpdf() %}exp_mod_normal_lpdf(Y[n] | {{ args() }}){% endmacro %}
{#- the distribution and its arguments for row n, for a censored row's CDFs (terms/censoring.stan) #}
{% macro dist() %}exp_mod_normal{% endmacro %}
{% macro args() %}mu[n] - {{ at("beta") }}, {{ at("sigma") }}, inv({{ at("beta") }}){% endmacro %}

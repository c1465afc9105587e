{#- The Stan program of every mixfit model but the gaussian marginal one, stitched from parts as
    brms's generator does: the family's likelihood (families/NAME.stan), each predictor's terms
    (terms/population.stan, terms/offset.stan), the group-level blocks (terms/group.stan) and the
    priors (priors.stan). mixfit/model/stancode.py renders each part's share of each block; here
    they are put in block order. Sizes and prior hyperparameters are data, never literals. -#}
// generated with mixfit
{% if threads or family.functions or term_functions %}
functions {
{% if family.functions %}
{{ family.functions }}
{% endif %}
{% if term_functions %}
{{ term_functions }}
{% endif %}
{% if threads %}
  // the log-likelihood of rows start..end: reduce_sum shares the rows among a chain's threads
  real partial_log_lik(array[] int rows, int start, int end,
                       {{ threads.arguments }}) {
    int N = end - start + 1;
{{ threads.predictors }}
    return {{ threads.log_lik }};
  }
{% endif %}
}
{% endif %}
data {
  int<lower=1> N;  // total number of observations
{{ family.data }}
{% if weighted %}
  vector<lower=0>[N] weights;  // model weights
{% endif %}
{% if censoring %}
{{ censoring.data }}
{% endif %}
{% if truncation %}
{{ truncation.data }}
{% endif %}
  int<lower=0, upper=1> prior_only;  // 1: leave the likelihood out and sample from the priors
{% if threads %}
  int<lower=1> grainsize;  // rows per slice of reduce_sum
{% endif %}
{{ data }}
}
{% if transformed_data %}
transformed data {
{{ transformed_data }}
}
{% endif %}
parameters {
{{ parameters }}
}
{% if transformed_parameters %}
transformed parameters {
{{ transformed_parameters }}
}
{% endif %}
model {
  // likelihood; mu's population-level part goes through Stan's GLM function where there is one
  if (!prior_only) {
{% if threads %}
    target += reduce_sum(partial_log_lik, rows, grainsize,
                         {{ threads.passed }});
{% elif autocor %}
{{ predictors }}
    mu += Xc * b;
{{ autocor.residuals }}
{{ autocor.likelihood }}
{% elif censoring %}
{{ predictors }}
{% if glm_mu %}
    mu += Xc * b;
{% endif %}
    // a censored row's probability beyond (or between) its values, as brms (so no GLM function)
    for (n in 1:N) {
{{ censoring.target }}
    }
{% elif row_target %}
{{ predictors }}
{% if glm_mu %}
    mu += Xc * b;
{% endif %}
    // each row's log-likelihood (times its weight; less the log probability of its truncation
    // bounds), as brms (so no GLM function)
    for (n in 1:N) {
      target += {{ row_target }};
    }
{% else %}
{{ predictors }}
{{ family.likelihood }}
{% endif %}
  }
  // priors
{{ model }}
}
generated quantities {
{% if generated %}
{{ generated }}
{% endif %}
{% if predictions %}
  vector[N] log_lik;  // pointwise log-likelihood, for LOO
  {{ family.y_rep_type }} y_rep;  // a replicated data set per draw
  {
{{ predictors }}
{% if glm_mu %}
    mu += Xc * b;
{% endif %}
{% if autocor %}
{{ autocor.residuals }}
{% endif %}
{% if autocor and autocor.predictions %}
{{ autocor.predictions }}
{% elif truncation and truncation.predictions %}
{{ truncation.predictions }}
{% else %}
{{ family.predictions }}
{% endif %}
{% if censoring %}
    for (n in 1:N) {
{{ censoring.log_lik }}
    }
{% endif %}
{% if truncation and truncation.adjust %}
{{ truncation.adjust }}
{% endif %}
{% if weighted %}
    log_lik = weights .* log_lik;  // brms's log_lik of a weighted model
{% endif %}
  }
{% endif %}
}

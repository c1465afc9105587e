# brms as its user runs it: read the CSV, fit with brms's default priors, look at the summary.
#
#     Rscript benchmarks/peers/brms_run.R DATA.csv FORMULA FAMILY RESULT.json [CHAINS ITER WARMUP SEED]
#
# Prints brms's summary and writes it to RESULT.json with the run's timings and versions, in the
# form benchmarks/peers/results.py reads (bambi_run.py writes the same).
started <- Sys.time()
args <- commandArgs(trailingOnly = TRUE)
given <- suppressWarnings(as.integer(args[5:8]))
settings <- ifelse(is.na(given), c(4, 2000, 1000, 1), given)  # chains, iter, warmup, seed
suppressPackageStartupMessages({
  library(brms)
  library(jsonlite)
})
imported <- Sys.time()

data <- read.csv(args[1])
fit <- brm(as.formula(args[2]), data = data, family = args[3], chains = settings[1],
           iter = settings[2], warmup = settings[3], seed = settings[4], refresh = 0)
fitted <- Sys.time()
s <- summary(fit)
print(s)

rows <- function(table, kind, group) {
  lapply(seq_len(nrow(table)), function(i) {
    name <- rownames(table)[i]
    list(kind = if (is.null(kind)) if (startsWith(name, "cor(")) "cor" else "sd" else kind,
         group = group, param = name, mean = table[i, "Estimate"], sd = table[i, "Est.Error"],
         ess_bulk = table[i, "Bulk_ESS"], ess_tail = table[i, "Tail_ESS"], r_hat = table[i, "Rhat"])
  })
}
summary_rows <- c(rows(s$fixed, "population", NULL),
                  unlist(lapply(names(s$random), function(g) rows(s$random[[g]], NULL, g)),
                         recursive = FALSE),
                  if (nrow(s$spec_pars)) rows(s$spec_pars, "family", "Residual"))
params <- nuts_params(fit)
elapsed <- rstan::get_elapsed_time(fit$fit)
result <- list(
  engine = "brms",
  versions = list(brms = as.character(packageVersion("brms")),
                  rstan = as.character(packageVersion("rstan")), R = R.version.string),
  chains = settings[1], tune = settings[3], draws = settings[2] - settings[3],
  seconds = list(
    imports = as.numeric(imported - started, units = "secs"),
    # brm() compiles the model's C++ and then samples; the chains run one after another by default
    fit = as.numeric(fitted - imported, units = "secs"),
    sampling = sum(elapsed),
    summary = as.numeric(Sys.time() - fitted, units = "secs")
  ),
  divergences = sum(params$Value[params$Parameter == "divergent__"]),
  mean_tree_depth = mean(params$Value[params$Parameter == "treedepth__"]),
  summary = summary_rows
)
write_json(result, args[4], auto_unbox = TRUE, digits = NA, null = "null", pretty = TRUE)

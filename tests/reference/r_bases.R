# Reference bases for tests/test_transforms.py, from R's stats::poly and splines::ns/bs.
# Run: Rscript r_bases.R > r_bases.json
library(splines)
num <- function(v) paste0("[", paste(sprintf("%.17g", v), collapse = ", "), "]")
mat <- function(m) paste0("[", paste(apply(unclass(m), 1, num), collapse = ", "), "]")
str_ <- function(v) paste0("[", paste0('"', v, '"', collapse = ", "), "]")
x <- c(0.5, 1.3, 2, 2, 3.7, 4.1, 5.6, 6, 7.2, 8.8, 9.5, 12)
newx <- c(-1, 0.5, 3, 10, 14)
ties <- c(0, 0, 0, 0, 0, 1, 2, 3)  # knots at quantiles fall on the lower boundary knot
cases <- list(
  list("poly(x, 3)", quote(poly(x, 3))),
  list("poly(x, 2, raw = TRUE)", quote(poly(x, 2, raw = TRUE))),
  list("poly(1:10, 2)", quote(poly(1:10, 2))),
  list("ns(x)", quote(ns(x))),
  list("ns(x, df = 4)", quote(ns(x, df = 4))),
  list("ns(x, df = 3, intercept = TRUE)", quote(ns(x, df = 3, intercept = TRUE))),
  list("ns(x, knots = c(3, 6), Boundary.knots = c(1, 10))",
       quote(ns(x, knots = c(3, 6), Boundary.knots = c(1, 10)))),
  list("bs(x)", quote(bs(x))),
  list("bs(x, df = 5)", quote(bs(x, df = 5))),
  list("bs(x, degree = 2, knots = 4, intercept = TRUE)",
       quote(bs(x, degree = 2, knots = 4, intercept = TRUE))),
  list("bs(x, df = 4, Boundary.knots = c(0, 13))", quote(bs(x, df = 4, Boundary.knots = c(0, 13)))),
  list("bs(x, 4, degree = 1)", quote(bs(x, 4, degree = 1))),
  list("ns(ties, df = 4)", quote(ns(ties, df = 4))),
  list("bs(ties, df = 5)", quote(bs(ties, df = 5)))
)
out <- c()
for (case in cases) {
  basis <- suppressWarnings(eval(case[[2]]))
  fields <- c(sprintf('"basis": %s', mat(basis)))
  if (!is.null(attr(basis, "coefs"))) {
    fields <- c(fields, sprintf('"alpha": %s', num(attr(basis, "coefs")$alpha)),
                sprintf('"norm2": %s', num(attr(basis, "coefs")$norm2)))
  }
  if (!is.null(attr(basis, "knots"))) {
    fields <- c(fields, sprintf('"knots": %s', num(attr(basis, "knots"))),
                sprintf('"Boundary.knots": %s', num(attr(basis, "Boundary.knots"))))
  }
  if (case[[1]] != "poly(1:10, 2)") {
    fields <- c(fields, sprintf('"new": %s', mat(suppressWarnings(predict(basis, newx)))))
  }
  out <- c(out, sprintf('    "%s": {%s}', case[[1]], paste(fields, collapse = ", ")))
}
# Column names as R's model.matrix writes them, and as brms renames them (brms's rename():
# these characters dropped or spelled out).
d <- data.frame(x = x)
columns <- colnames(model.matrix(~ poly(x, 2) + poly(x, 2, raw = TRUE) + ns(x, df = 3) + ns(x) +
  bs(x, 4) + ns(x, knots = c(3, 6), Boundary.knots = c(0, 13)) + I(x^2) + I(x * 1e5) +
  I(x * 2.5e-3) + I(x - 1) + I(x / 2) + log(x + 1), d))
renamed <- columns
patterns <- c(" ", "(", ")", "[", "]", ",", "\"", "'", "?", "+", "-", "*", "/", "^", "=", "$")
replacements <- c(rep("", 9), "P", "M", "MU", "D", "E", "EQ", "USD")
for (i in seq_along(patterns)) renamed <- gsub(patterns[i], replacements[i], renamed, fixed = TRUE)
# A regression on all of them: lm()'s estimates and standard errors, and its predictions for new
# rows (some beyond the fitted range), for a fit with flat priors to match.
set.seed(24)
n <- 60
fit_data <- data.frame(x = round(runif(n, 0, 10), 2), z = round(rnorm(n), 2),
                       w = round(runif(n, -1, 1), 2), v = round(runif(n, 1, 3), 2))
fit_data$y <- round(with(fit_data, 2 * sin(x / 2) + z^2 - 0.5 * z + 3 * abs(w) + 0.5 * v^2 +
                         rnorm(n, 0, 0.5)), 3)
new_data <- data.frame(x = c(-1, 2.5, 11), z = c(0, -3, 1.5), w = c(0.2, -1.2, 0.9),
                       v = c(2, 1, 4))
regression <- "y ~ poly(x, 2) + ns(z, df = 3) + bs(w, df = 4, degree = 2) + I(v^2) + I(v * 1e-1)"
model <- lm(as.formula(regression), data = fit_data)
table <- summary(model)$coefficients
lm_names <- rownames(table)
for (i in seq_along(patterns)) lm_names <- gsub(patterns[i], replacements[i], lm_names, fixed = TRUE)
column <- function(name) num(fit_data[[name]])
fit_json <- sprintf(paste0('  "fit": {"formula": "%s", "data": {"x": %s, "z": %s, "w": %s, "v": %s, ',
  '"y": %s}, "new": {"x": %s, "z": %s, "w": %s, "v": %s}, "coef": %s, "estimate": %s, "se": %s, ',
  '"sigma": %s, "predict": %s},\n'),
  regression, column("x"), column("z"), column("w"), column("v"), column("y"),
  num(new_data$x), num(new_data$z), num(new_data$w), num(new_data$v), str_(lm_names),
  num(table[, 1]), num(table[, 2]), num(summary(model)$sigma), num(suppressWarnings(predict(model, new_data))))
cat("{\n")
cat(sprintf('  "R": "%s",\n', R.version.string))
cat(sprintf('  "x": %s,\n  "newx": %s,\n  "ties": %s,\n', num(x), num(newx), num(ties)))
cat('  "cases": {\n', paste(out, collapse = ",\n"), "\n  },\n", sep = "")
cat(fit_json)
cat(sprintf('  "columns": %s,\n  "brms_names": %s\n}\n', str_(columns), str_(renamed)))

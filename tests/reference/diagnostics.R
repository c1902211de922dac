# Reference values for tests/analysis/test_diagnostics.py, computed once with R (Debian r-base-core,
# r-cran-sandwich). Run: Rscript tests/reference/diagnostics.R
# The small bundle is spelled out here and in the test module (VACANCIES, APPLICATIONS).
suppressMessages(library(sandwich))
show <- function(label, ...) cat(label, sprintf("%.15g", c(...)), "\n")

v <- data.frame(
  vacancy_id = sprintf("V%02d", 1:10),
  arm = c(rep("control", 6), rep("pilot", 4)),
  department = c("BZK", "BZK", "FIN", "FIN", "DEF", "BZK", "BZK", "FIN", "DEF", "DEF"),
  function_family = c("beleid", "ICT", "beleid", "juridisch", "ICT", "beleid",
                      "beleid", "ICT", "juridisch", "beleid"),
  salary_scale = c(10, 8, 11, 9, 7, 12, 10, 11, 13, 9),
  managerial = c(FALSE, FALSE, TRUE, FALSE, FALSE, TRUE, FALSE, TRUE, TRUE, NA)
)
v$arm <- factor(v$arm, levels = c("control", "pilot"))

# Balance: chi-square of arm x category without continuity correction (expected counts are
# small, so R warns that the approximation may be incorrect; the test only reproduces it).
for (col in c("department", "function_family")) {
  ct <- suppressWarnings(chisq.test(table(v$arm, v[[col]]), correct = FALSE))
  show(paste0("chisq_", col), ct$statistic, ct$parameter, ct$p.value)
}
# salary scale: Welch two-sample t-test, pilot minus control
tt <- t.test(v$salary_scale[v$arm == "pilot"], v$salary_scale[v$arm == "control"],
             var.equal = FALSE)
show("welch_salary_scale", tt$statistic, tt$parameter, tt$p.value)
# managerial (missing excluded): chi-square and Fisher's exact test
m <- table(v$arm, v$managerial)
ct <- suppressWarnings(chisq.test(m, correct = FALSE))
show("chisq_managerial", ct$statistic, ct$parameter, ct$p.value)
show("fisher_managerial_p", fisher.test(m)$p.value)

# Missingness of origin: per vacancy (applications, of which origin not reported)
n_app <- c(5, 4, 6, 3, 5, 4, 6, 5, 4, 3)
n_mis <- c(1, 0, 3, 1, 2, 1, 0, 1, 1, 0)
a <- do.call(rbind, lapply(1:10, function(i) data.frame(
  vacancy_id = v$vacancy_id[i], arm = v$arm[i],
  missing = c(rep(1, n_mis[i]), rep(0, n_app[i] - n_mis[i])))))
fit <- lm(missing ~ arm, data = a)
V <- vcovCL(fit, cluster = ~vacancy_id, type = "HC1")  # G/(G-1) * (N-1)/(N-K)
est <- coef(fit)["armpilot"]
se <- sqrt(V["armpilot", "armpilot"])
G <- length(unique(a$vacancy_id))
show("lpm_origin_missing", est, se, est / se, G - 1, 2 * pt(-abs(est / se), G - 1))
ct <- suppressWarnings(chisq.test(table(a$arm, a$missing), correct = FALSE))
show("chisq_origin_missing", ct$statistic, ct$parameter, ct$p.value)

# Reference values for tests/analysis/test_evidence.py, computed once with R 4.2.2 (Debian
# r-cran-psych 2.2.9, r-cran-survey 4.1-1). Run: Rscript tests/reference/evidence.R
# (from the repository root; part D writes tests/reference/survey_small.csv).
suppressMessages({library(psych); library(survey)})
show <- function(label, x) cat(label, sprintf("%.15g", x), "\n")

# A. ICC, Shrout & Fleiss (1979) Table 2: 6 targets (rows) x 4 judges (columns).
sf <- matrix(c(9, 2, 5, 8,
               6, 1, 3, 2,
               8, 4, 6, 8,
               7, 1, 2, 6,
               10, 5, 6, 9,
               6, 2, 4, 7), ncol = 4, byrow = TRUE)
icc <- psych::ICC(sf, lmer = FALSE, alpha = 0.05)$results
for (i in seq_len(nrow(icc))) {
  ty <- icc$type[i]
  show(paste0("icc_", ty, "_value"), icc$ICC[i])
  show(paste0("icc_", ty, "_F"), icc$F[i])
  show(paste0("icc_", ty, "_df1"), icc$df1[i])
  show(paste0("icc_", ty, "_df2"), icc$df2[i])
  show(paste0("icc_", ty, "_p"), icc$p[i])
  show(paste0("icc_", ty, "_lower"), icc[["lower bound"]][i])
  show(paste0("icc_", ty, "_upper"), icc[["upper bound"]][i])
}

# B. Cronbach's alpha, 10 subjects x 4 items; Feldt 95% interval from psych ($feldt,
# computed by psych::alpha.ci) and by hand.
items <- matrix(c(3, 4, 3, 5,
                  2, 2, 3, 2,
                  4, 5, 4, 4,
                  1, 2, 1, 2,
                  5, 4, 5, 5,
                  3, 3, 2, 3,
                  4, 4, 4, 5,
                  2, 1, 2, 1,
                  3, 4, 4, 3,
                  5, 5, 4, 5), ncol = 4, byrow = TRUE)
al <- psych::alpha(items)
a <- al$total$raw_alpha
show("alpha_raw", a)
show("alpha_std", al$total$std.alpha)
show("alpha_feldt_lower", al$feldt$lower.ci$raw_alpha)
show("alpha_feldt_alpha", al$feldt$alpha$raw_alpha)
show("alpha_feldt_upper", al$feldt$upper.ci$raw_alpha)
n <- nrow(items); k <- ncol(items)
show("alpha_feldt_hand_lower", 1 - (1 - a) * qf(0.975, n - 1, (n - 1) * (k - 1)))
show("alpha_feldt_hand_upper", 1 - (1 - a) * qf(0.025, n - 1, (n - 1) * (k - 1)))

# C. Cohen's kappa, two coders, theme present (1) / absent (0) in 20 answers.
coder1 <- c(1, 1, 0, 0, 1, 0, 1, 1, 0, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 0)
coder2 <- c(1, 0, 0, 0, 1, 0, 1, 1, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0)
tab <- table(coder1, coder2)
show("kappa_table_00", tab["0", "0"])
show("kappa_table_01", tab["0", "1"])
show("kappa_table_10", tab["1", "0"])
show("kappa_table_11", tab["1", "1"])
# psych warns (and clips) because the Wald upper bound exceeds 1.
ck <- suppressWarnings(psych::cohen.kappa(cbind(coder1, coder2)))
show("kappa_value", ck$kappa)
show("kappa_var", ck$var.kappa)
show("kappa_lower", ck$confid["unweighted kappa", "lower"])
show("kappa_upper", ck$confid["unweighted kappa", "upper"])
# The same Wald interval without psych's clipping to [-1, 1].
show("kappa_wald_lower_unclipped", ck$kappa + qnorm(0.025) * sqrt(ck$var.kappa))
show("kappa_wald_upper_unclipped", ck$kappa + qnorm(0.975) * sqrt(ck$var.kappa))

# D. Raking and a survey-weighted comparison on a small simulated dataset.
set.seed(20241201)
N <- 80
d <- data.frame(
  application_id = sprintf("A%02d", 1:N),
  vacancy_id = rep(sprintf("V%02d", 1:10), each = 8),
  stringsAsFactors = FALSE)
d$arm <- ifelse(d$vacancy_id <= "V05", "control", "pilot")
d$origin <- sample(c("netherlands", "outside_europe", "unknown"), N, replace = TRUE,
                   prob = c(0.55, 0.35, 0.10))
d$stage <- sample(c("applied", "invited", "interviewed"), N, replace = TRUE,
                  prob = c(0.60, 0.25, 0.15))
# Fix-up of the population: at least 3 applications in every arm x origin and arm x
# stage cell (relabel the last applications of the arm's largest category).
for (v in c("origin", "stage")) {
  for (ar in c("control", "pilot")) {
    for (lev in sort(unique(d[[v]]))) {
      while (sum(d$arm == ar & d[[v]] == lev) < 3) {
        big <- names(which.max(table(d[[v]][d$arm == ar])))
        j <- max(which(d$arm == ar & d[[v]] == big))
        d[[v]][j] <- lev
      }
    }
  }
}
# Response probability depends on arm, origin and stage.
lp <- -0.1 + 0.3 * (d$arm == "pilot") +
  c(netherlands = 0.4, outside_europe = -0.5, unknown = -1.0)[d$origin] +
  c(applied = -0.3, invited = 0.4, interviewed = 0.9)[d$stage]
u <- runif(N)
d$responded <- u < plogis(lp)
# Fix-up: at least 2 respondents in every arm x origin and arm x stage cell (turn the
# non-respondents with the smallest u in the cell into respondents).
for (v in c("origin", "stage")) {
  for (ar in c("control", "pilot")) {
    for (lev in sort(unique(d[[v]]))) {
      cell <- which(d$arm == ar & d[[v]] == lev)
      while (sum(d$responded[cell]) < 2) {
        nr <- cell[!d$responded[cell]]
        d$responded[nr[which.min(u[nr])]] <- TRUE
      }
    }
  }
}
# Fairness: mean of two Likert items (1..5), pilot about 0.4 higher; respondents only.
latent <- 3.0 + 0.4 * (d$arm == "pilot") + rnorm(N, 0, 0.6)
item1 <- pmin(5, pmax(1, round(latent + rnorm(N, 0, 0.6))))
item2 <- pmin(5, pmax(1, round(latent + rnorm(N, 0, 0.6))))
d$fairness <- (item1 + item2) / 2
d$fairness[!d$responded] <- NA
write.csv(d, "tests/reference/survey_small.csv", row.names = FALSE)

# Descriptives of the dataset.
show("data_n", N)
show("data_respondents", sum(d$responded))
for (ar in c("control", "pilot")) {
  show(paste0("data_response_rate_", ar), mean(d$responded[d$arm == ar]))
  show(paste0("data_fairness_mean_", ar), mean(d$fairness[d$arm == ar], na.rm = TRUE))
}

# Population margins: all 80 applications.
pop1 <- as.data.frame(table(arm = d$arm, origin = d$origin), stringsAsFactors = FALSE)
pop2 <- as.data.frame(table(arm = d$arm, stage = d$stage), stringsAsFactors = FALSE)
for (i in seq_len(nrow(pop1))) {
  show(paste0("pop_", pop1$arm[i], "_", pop1$origin[i]), pop1$Freq[i])
  show(paste0("resp_", pop1$arm[i], "_", pop1$origin[i]),
       sum(d$responded & d$arm == pop1$arm[i] & d$origin == pop1$origin[i]))
}
for (i in seq_len(nrow(pop2))) {
  show(paste0("pop_", pop2$arm[i], "_", pop2$stage[i]), pop2$Freq[i])
  show(paste0("resp_", pop2$arm[i], "_", pop2$stage[i]),
       sum(d$responded & d$arm == pop2$arm[i] & d$stage == pop2$stage[i]))
}

resp <- d[d$responded, ]
resp$w0 <- 1
d0 <- svydesign(ids = ~vacancy_id, weights = ~w0, data = resp)
rd <- rake(d0, sample.margins = list(~arm + origin, ~arm + stage),
           population.margins = list(pop1, pop2),
           control = list(maxit = 1000, epsilon = 1e-12, verbose = FALSE))
wr <- weights(rd)
for (i in seq_len(nrow(resp))) show(paste0("rake_weight_", resp$application_id[i]), wr[i])
show("rake_weight_sum", sum(wr))
m1 <- svytable(~arm + origin, rd)
m2 <- svytable(~arm + stage, rd)
dev1 <- mapply(function(a, o, f) m1[a, o] - f, pop1$arm, pop1$origin, pop1$Freq)
dev2 <- mapply(function(a, s, f) m2[a, s] - f, pop2$arm, pop2$stage, pop2$Freq)
show("rake_margin_max_abs_dev", max(abs(c(dev1, dev2))))

# Trimming at 1.3 times the mean raked weight (strict: iterate until none exceed).
upper <- 1.3 * mean(weights(rd))
tw <- trimWeights(rd, upper = upper, strict = TRUE)
show("trim_upper", upper)
wt <- weights(tw)
for (i in seq_len(nrow(resp))) show(paste0("trim_weight_", resp$application_id[i]), wt[i])
show("trim_weight_sum", sum(wt))
show("trim_weight_max", max(wt))

# Weighted comparison with the raked weights treated as fixed.
resp$wr <- wr
df <- svydesign(ids = ~vacancy_id, weights = ~wr, data = resp)
m <- svyglm(fairness ~ arm, design = df)
se <- sqrt(diag(vcov(m)))
show("fixed_coef_intercept", coef(m)[["(Intercept)"]])
show("fixed_coef_armpilot", coef(m)[["armpilot"]])
show("fixed_se_intercept", se[["(Intercept)"]])
show("fixed_se_armpilot", se[["armpilot"]])
show("fixed_df_residual", m$df.residual)
show("fixed_p_armpilot", summary(m)$coefficients["armpilot", "Pr(>|t|)"])

# The same with the calibrated design (SEs account for the raking).
mc <- svyglm(fairness ~ arm, design = rd)
sec <- sqrt(diag(vcov(mc)))
show("calibrated_coef_intercept", coef(mc)[["(Intercept)"]])
show("calibrated_coef_armpilot", coef(mc)[["armpilot"]])
show("calibrated_se_intercept", sec[["(Intercept)"]])
show("calibrated_se_armpilot", sec[["armpilot"]])
show("calibrated_df_residual", mc$df.residual)
show("calibrated_p_armpilot", summary(mc)$coefficients["armpilot", "Pr(>|t|)"])

# Weighted mean of fairness by arm (fixed-weights design).
sb <- svyby(~fairness, ~arm, df, svymean)
for (ar in c("control", "pilot")) {
  show(paste0("svyby_mean_", ar), sb[sb$arm == ar, "fairness"])
  show(paste0("svyby_se_", ar), sb[sb$arm == ar, "se"])
}

# Kish design effect of the raked weights and the largest weight.
show("kish_deff", length(wr) * sum(wr^2) / sum(wr)^2)
show("rake_weight_max", max(wr))

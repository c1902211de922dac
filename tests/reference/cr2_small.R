# Reference values for tests/analysis/test_cr2.py, computed once with R (Debian r-base-core 4.2,
# r-cran-estimatr 1.0). Run: Rscript tests/reference/cr2_small.R
suppressMessages({library(estimatr)})
d <- read.csv("tests/reference/lpm_small.csv")
d$treated <- as.integer(d$arm == "pilot")
d$ft <- d$focal * d$treated
d$vnum <- as.integer(sub("V", "", d$vacancy_id))
d$score <- 50 + 4 * d$focal + (d$vnum %% 5) * 2 + (seq_len(nrow(d)) %% 7) - 3 * d$success
show <- function(label, est, se, df) cat(sprintf("%s %.15g %.15g %.15g\n", label, est, se, df))
c0 <- subset(d, arm == "control")
p1 <- subset(d, arm == "pilot")
e <- lm_robust(success ~ focal, fixed_effects = ~vacancy_id, data = c0, clusters = vacancy_id, se_type = "CR2")
show("stage_gap_control", coef(e)["focal"], e$std.error["focal"], e$df["focal"])
e <- lm_robust(success ~ focal + ft, fixed_effects = ~vacancy_id, data = d, clusters = vacancy_id, se_type = "CR2")
show("gap_difference", coef(e)["ft"], e$std.error["ft"], e$df["ft"])
e <- lm_robust(focal ~ treated, fixed_effects = ~block, data = d, clusters = block, se_type = "CR2")
show("pool_share_block", coef(e)["treated"], e$std.error["treated"], e$df["treated"])
e <- lm_robust(focal ~ treated + factor(family) + scale, data = d, clusters = vacancy_id, se_type = "CR2")
show("pool_share_adjusted", coef(e)["treated"], e$std.error["treated"], e$df["treated"])
d$w <- 1 + d$vnum %% 3
c0 <- subset(d, arm == "control")
e <- lm_robust(success ~ focal + factor(vacancy_id), data = c0, weights = w, clusters = vacancy_id, se_type = "CR2")
show("weighted_stage_gap_control", coef(e)["focal"], e$std.error["focal"], e$df["focal"])
# pooled difference of rates in the control arm
e <- lm_robust(success ~ focal, data = c0, clusters = vacancy_id, se_type = "CR2")
show("difference_pooled_control", coef(e)["focal"], e$std.error["focal"], e$df["focal"])
# impact ratio in the pilot arm: reparametrised so that the first coefficient is the
# delta-method contrast of log(p1 / p0), gradient (1/p1, -1/p0)
r1 <- mean(p1$success[p1$focal == 1]); r0 <- mean(p1$success[p1$focal == 0])
p1$z1 <- r1 * p1$focal
p1$z2 <- p1$focal * r1 / r0 + (1 - p1$focal)
e <- lm_robust(success ~ 0 + z1 + z2, data = p1, clusters = vacancy_id, se_type = "CR2")
show("impact_ratio_pilot", r1 / r0, e$std.error["z1"], e$df["z1"])
cat(sprintf("log_ratio_coef %.15g %.15g\n", coef(e)["z1"], log(r1 / r0)))
# mean score difference in the pilot arm, and Hedges' g factor J / pooled SD
e <- lm_robust(score ~ focal, data = p1, clusters = vacancy_id, se_type = "CR2")
show("score_difference_pilot", coef(e)["focal"], e$std.error["focal"], e$df["focal"])
x1 <- p1$score[p1$focal == 1]; x0 <- p1$score[p1$focal == 0]
n1 <- length(x1); n0 <- length(x0)
sp <- sqrt(((n1 - 1) * var(x1) + (n0 - 1) * var(x0)) / (n1 + n0 - 2))
J <- 1 - 3 / (4 * (n1 + n0) - 9)
cat(sprintf("hedges_g %.15g factor %.15g\n", J * (mean(x1) - mean(x0)) / sp, J / sp))

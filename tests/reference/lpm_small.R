# Reference values for tests/analysis/test_linear.py, computed once with R (Debian r-base-core,
# r-cran-sandwich, r-cran-estimatr). Run: Rscript tests/reference/lpm_small.R
suppressMessages({library(sandwich); library(estimatr)})
d <- read.csv("tests/reference/lpm_small.csv")
d$treated <- as.integer(d$arm == "pilot")
d$ft <- d$focal * d$treated
show <- function(label, est, se) cat(sprintf("%s %.15g %.15g\n", label, est, se))

# stage_gap in the control arm: success ~ focal | vacancy, CR1 with K = 1.
# Within transformation by hand, then lm without intercept: vcovCL's HC1 uses
# G/(G-1) * (N-1)/(N-K) with K = 1, the contract's CR1 (vacancy effects nested).
c0 <- subset(d, arm == "control")
dm <- function(x, g) x - ave(x, g)
fit <- lm(dm(success, vacancy_id) ~ 0 + dm(focal, vacancy_id), data = c0)
V <- vcovCL(fit, cluster = ~vacancy_id, type = "HC1", cadjust = TRUE)
show("stage_gap_control", coef(fit)[1], sqrt(V[1, 1]))

# gap_difference: success ~ focal + focal:treated | vacancy, K = 2.
fit2 <- lm(dm(success, vacancy_id) ~ 0 + dm(focal, vacancy_id) + dm(ft, vacancy_id), data = d)
V2 <- vcovCL(fit2, cluster = ~vacancy_id, type = "HC1", cadjust = TRUE)
show("gap_difference", coef(fit2)[2], sqrt(V2[2, 2]))

# pool_share with block fixed effects, clustered by block (the blocks are nested in the
# clusters, so K = 1): within-block transformation by hand, then vcovCL HC1.
fit3 <- lm(dm(focal, block) ~ 0 + dm(treated, block), data = d)
V3 <- vcovCL(fit3, cluster = ~block, type = "HC1", cadjust = TRUE)
show("pool_share_block", coef(fit3)[1], sqrt(V3[1, 1]))

# pool_share without blocks, adjusting for family (indicators) and scale (linear).
fit4 <- lm(focal ~ treated + factor(family) + scale, data = d)
V4 <- vcovCL(fit4, cluster = ~vacancy_id, type = "HC1", cadjust = TRUE)
show("pool_share_adjusted", coef(fit4)["treated"], sqrt(V4["treated", "treated"]))

# estimatr with se_type = "stata" on the dummy-variable form, as a second opinion
# for the point estimate (its K counts the vacancy dummies, so its SE differs).
e1 <- lm_robust(success ~ focal + factor(vacancy_id), data = c0, clusters = vacancy_id, se_type = "stata")
show("estimatr_stage_gap_control", coef(e1)["focal"], e1$std.error["focal"])
cat(sprintf("df_stata %d\n", e1$df["focal"]))

# Analysis weights constant within a vacancy (reweighting): w = 1, 2, 3 by vacancy number.
d$w <- 1 + as.integer(sub("V", "", d$vacancy_id)) %% 3
c0 <- subset(d, arm == "control")
fit5 <- lm(dm(success, vacancy_id) ~ 0 + dm(focal, vacancy_id), data = c0, weights = w)
V5 <- vcovCL(fit5, cluster = ~vacancy_id, type = "HC1", cadjust = TRUE)
show("weighted_stage_gap_control", coef(fit5)[1], sqrt(V5[1, 1]))
wdm <- function(x, g, w) x - ave(x * w, g, FUN = sum) / ave(w, g, FUN = sum)
fit6 <- lm(wdm(focal, block, w) ~ 0 + wdm(treated, block, w), data = d, weights = w)
V6 <- vcovCL(fit6, cluster = ~block, type = "HC1", cadjust = TRUE)
show("weighted_pool_share_block", coef(fit6)[1], sqrt(V6[1, 1]))

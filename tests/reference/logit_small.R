# Reference values for tests/analysis/test_models.py, computed once with R (Debian r-base-core,
# r-cran-sandwich). Run: Rscript tests/reference/logit_small.R
suppressMessages(library(sandwich))
d <- read.csv("tests/reference/lpm_small.csv")
d$treated <- as.integer(d$arm == "pilot")
show <- function(label, est, se) cat(sprintf("%s %.15g %.15g\n", label, est, se))
# stage_gap in the control arm: success ~ focal, clustered by vacancy, HC1 + G/(G-1)
c0 <- subset(d, arm == "control")
m1 <- glm(success ~ focal, family = binomial, data = c0)
V1 <- vcovCL(m1, cluster = ~vacancy_id, type = "HC1", cadjust = TRUE)
show("logit_stage_gap", coef(m1)["focal"], sqrt(V1["focal", "focal"]))
# gap_difference: success ~ focal * treated
m2 <- glm(success ~ focal * treated, family = binomial, data = d)
V2 <- vcovCL(m2, cluster = ~vacancy_id, type = "HC1", cadjust = TRUE)
show("logit_gap_difference", coef(m2)["focal:treated"], sqrt(V2["focal:treated", "focal:treated"]))
# pool_share: focal ~ treated + family (indicators) + scale
m3 <- glm(focal ~ treated + factor(family) + scale, family = binomial, data = d)
V3 <- vcovCL(m3, cluster = ~vacancy_id, type = "HC1", cadjust = TRUE)
show("logit_pool_share", coef(m3)["treated"], sqrt(V3["treated", "treated"]))

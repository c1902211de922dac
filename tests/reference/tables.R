# Reference values for tests/analysis/test_tables.py, computed once with R (Debian r-base-core).
# Run: Rscript tests/reference/tables.R
show <- function(label, x) cat(label, sprintf("%.15g", x), "\n")
# Per vacancy a 2x2 table: rows focal, reference; columns passed, not passed.
# Within each vacancy the focal group passes more often, pooled it passes less often.
v1 <- matrix(c(18, 140, 2, 60), 2, 2)   # focal 18/20, reference 140/200
v2 <- matrix(c(40, 2, 160, 18), 2, 2)   # focal 40/200, reference 2/20
v3 <- matrix(c(9, 20, 21, 40), 2, 2)    # focal 9/30, reference 20/60
x <- array(c(v1, v2, v3), dim = c(2, 2, 3))
m <- mantelhaen.test(x, correct = FALSE)
show("mh_estimate", m$estimate)
show("mh_conf_int", m$conf.int)
show("mh_statistic", m$statistic)
show("mh_p_two_sided", m$p.value)
show("mh_p_greater", mantelhaen.test(x, correct = FALSE, alternative = "greater")$p.value)
show("mh_p_less", mantelhaen.test(x, correct = FALSE, alternative = "less")$p.value)
# Small sample where Fisher's exact test and the z-test fall on opposite sides of 0.05:
# focal 1 of 8 passed, reference 9 of 15.
f <- matrix(c(1, 9, 7, 6), 2, 2)
show("fisher_p_two_sided", fisher.test(f)$p.value)
show("fisher_p_less", fisher.test(f, alternative = "less")$p.value)
z <- suppressWarnings(prop.test(c(1, 9), c(8, 15), correct = FALSE))
show("z_chisq", z$statistic)
show("z_p_two_sided", z$p.value)

"""Worst-case (Manski) bounds for missing group membership, by hand on small frames."""

from __future__ import annotations

import itertools
import math
import random
from pathlib import Path

import pandas as pd
import pytest

from pilot_eval.analysis.missing_bounds import Cells, manski_bounds, trimmed_gap, verdict_at
from pilot_eval.plan.model import AnalysisPlan, Hypothesis

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "analysis_plans" / "breed-werven-2024.yaml"


@pytest.fixture(scope="module")
def plan(plan_min_cell_1: AnalysisPlan) -> AnalysisPlan:
    """Tiny frames on purpose: a minimum cell of 1."""
    return plan_min_cell_1


def frame(rows: list[tuple[str, str | None, bool]]) -> pd.DataFrame:
    """Applications (arm, origin, invited); every one applied."""
    out = pd.DataFrame(rows, columns=["arm", "origin", "reached_invited"])
    out["origin"] = out["origin"].astype("category")
    out["reached_applied"] = True
    return out


def hypothesis(kind: str, **extra: object) -> Hypothesis:
    spec = {"id": "X", "family": "primary", "kind": kind, "group": "origin", **extra}
    if kind != "pool_share":
        spec["stage"] = {"from": "applied", "to": "invited"}
    return Hypothesis.model_validate(spec)


OUT, NL, EU = "outside_europe", "netherlands", "europe"


def test_pool_share_bounds_by_hand(plan: AnalysisPlan) -> None:
    # control: 2 outside Europe of 8, 2 missing -> share in [2/8, 4/8], complete case 2/6
    # pilot: 3 outside Europe of 6, 1 missing -> [3/6, 4/6], complete case 3/5
    control = [("control", OUT, True)] * 2 + [("control", NL, True)] * 3
    control += [("control", EU, True)] + [("control", None, True)] * 2
    pilot = [("pilot", OUT, True)] * 3 + [("pilot", NL, False)] * 2 + [("pilot", None, True)]
    got = manski_bounds(frame(control + pilot), plan, hypothesis("pool_share", arm="pilot"))
    assert got is not None
    assert got["lower"] == pytest.approx(3 / 6 - 4 / 8)
    assert got["upper"] == pytest.approx(4 / 6 - 2 / 8)
    assert got["complete_case"] == pytest.approx(3 / 5 - 2 / 6)
    assert got["missing"] == {"control": 2, "pilot": 1}
    # criterion: any difference; at the lower bound 0 it is not met, at the upper it is
    assert got["verdicts"] == {"lower": "none", "upper": "above"}
    assert got["depends_on_missing"] is True


def test_stage_gap_bounds_by_hand(plan: AnalysisPlan) -> None:
    # control: focal 1 of 4 invited, reference 3 of 5, missing: 2 invited, 1 not
    rows = [("control", OUT, True)] + [("control", OUT, False)] * 3
    rows += [("control", NL, True)] * 3 + [("control", NL, False)] * 2
    rows += [("control", None, True)] * 2 + [("control", None, False)]
    h = hypothesis("stage_gap", arm="control", alternative="less")
    got = manski_bounds(frame(rows), plan, h)
    assert got is not None
    # largest gap: missing passers focal (3/6), missing non-passer reference (3/6): 0
    assert got["upper"] == pytest.approx(3 / 6 - 3 / 6)
    # smallest: missing non-passer focal (1/5), missing passers reference (5/7)
    assert got["lower"] == pytest.approx(1 / 5 - 5 / 7)
    assert got["complete_case"] == pytest.approx(1 / 4 - 3 / 5)
    # the largest possible gap is 0: no difference, so 'less than 0' holds at one end only
    assert got["verdicts"] == {"lower": "reached", "upper": "none"}
    assert got["depends_on_missing"] is True
    stricter = hypothesis(
        "stage_gap", arm="control", alternative="less", criterion={"min_effect": -0.1}
    )
    assert manski_bounds(frame(rows), plan, stricter)["depends_on_missing"] is True  # type: ignore[index]
    ratio = manski_bounds(frame(rows), plan, hypothesis("impact_ratio", arm="control"))
    assert ratio is not None
    assert ratio["lower"] == pytest.approx((1 / 5) / (5 / 7))
    assert ratio["upper"] == pytest.approx((3 / 6) / (3 / 6))


def test_gap_difference_takes_the_arms_extremes_against_each_other(plan: AnalysisPlan) -> None:
    control = [("control", OUT, True), ("control", OUT, False), ("control", NL, True)]
    control += [("control", NL, False), ("control", None, True)]
    pilot = [("pilot", OUT, True), ("pilot", NL, True), ("pilot", NL, False)]
    pilot += [("pilot", None, False)]
    h = hypothesis("gap_difference", arm="pilot", alternative="greater")
    got = manski_bounds(frame(control + pilot), plan, h)
    stage = {
        a: manski_bounds(frame(control + pilot), plan, hypothesis("stage_gap", arm=a))
        for a in ("control", "pilot")
    }
    assert got is not None
    assert stage["control"] is not None
    assert stage["pilot"] is not None
    assert got["lower"] == pytest.approx(stage["pilot"]["lower"] - stage["control"]["upper"])
    assert got["upper"] == pytest.approx(stage["pilot"]["upper"] - stage["control"]["lower"])


def test_no_bounds_without_missing_values_or_with_few(plan: AnalysisPlan) -> None:
    rows = [("control", OUT, True), ("control", NL, False), ("pilot", OUT, True)]
    rows += [("pilot", NL, True)]
    assert manski_bounds(frame(rows), plan, hypothesis("pool_share", arm="pilot")) is None
    strict = plan.model_copy(
        update={"disclosure": plan.disclosure.model_copy(update={"min_cell": 10})}
    )
    got = manski_bounds(frame([*rows, ("pilot", None, True)]), strict, hypothesis("pool_share"))
    assert got is not None
    assert got["lower"] is None
    assert got["missing"] is None
    assert "not published" in got["reason"]


def test_lee_trimming_bounds_by_hand(plan: AnalysisPlan) -> None:
    # control: 10 applicants, 6 answered (q 0.6), 2 outside Europe among them
    # pilot: 10 applicants, 8 answered (q 0.8), 4 outside Europe among them
    control = [("control", OUT, True)] * 2 + [("control", NL, True)] * 4
    control += [("control", None, True)] * 4
    pilot = [("pilot", OUT, True)] * 4 + [("pilot", NL, True)] * 4 + [("pilot", None, True)] * 2
    got = manski_bounds(frame(control + pilot), plan, hypothesis("pool_share", arm="pilot"))
    assert got is not None
    lee = got["lee"]
    # trim p = (0.8 - 0.6) / 0.8 = 0.25 of the pilot's 8 respondents: 6 kept
    assert lee["trim"] == pytest.approx(0.25)
    assert lee["trimmed_arm"] == "pilot"
    # upper: drop 2 non-focal, 4/6; lower: drop 2 focal, 2/6; control share 2/6
    assert lee["upper"] == pytest.approx(4 / 6 - 2 / 6)
    assert lee["lower"] == pytest.approx(2 / 6 - 2 / 6)
    # inside the worst-case bounds
    assert got["lower"] <= lee["lower"] <= lee["upper"] <= got["upper"]
    assert lee["verdicts"] == {"lower": "none", "upper": "above"}
    # not within one arm: there is no other arm to trim against
    within = manski_bounds(frame(control + pilot), plan, hypothesis("stage_gap", arm="pilot"))
    assert within is not None
    assert within["lee"] is None


def test_response_weights_are_inverse_cell_response_rates(plan: AnalysisPlan) -> None:
    from pilot_eval.analysis.missing_bounds import response_weighted

    # origin answered: control women 4 of 5, men 2 of 4; pilot women 2 of 3, men 1 of 2. With
    # one column the model of each arm is saturated: its probabilities are the cell rates
    data = [("control", OUT, True, "female")] * 2 + [("control", NL, True, "female")] * 2
    data += [("control", None, True, "female")]
    data += [("control", OUT, True, "male"), ("control", NL, True, "male")]
    data += [("control", None, True, "male")] * 2
    data += [("pilot", OUT, True, "female"), ("pilot", NL, True, "female")]
    data += [("pilot", None, True, "female")]
    data += [("pilot", OUT, True, "male"), ("pilot", None, True, "male")]
    rows = frame([(a, o, i) for a, o, i, _ in data])
    rows["gender"] = [g for *_, g in data]
    h = hypothesis("pool_share", arm="pilot")
    weighted, summary = response_weighted(rows, plan, h, ("gender",))
    w = weighted["weight"].to_numpy()
    answered = rows["origin"].notna().to_numpy()
    # control respondents: women 1/0.8 = 1.25 (4 of them), men 1/0.5 = 2 (2): mean 1.5
    control = (rows["arm"] == "control").to_numpy() & answered
    female = (rows["gender"] == "female").to_numpy()
    assert w[control & female] == pytest.approx([1.25 / 1.5] * 4, rel=1e-6)
    assert w[control & ~female] == pytest.approx([2 / 1.5] * 2, rel=1e-6)
    # pilot respondents: women 1/(2/3) = 1.5 (2), men 1/0.5 = 2 (1): mean 5/3
    pilot = (rows["arm"] == "pilot").to_numpy() & answered
    assert w[pilot & female] == pytest.approx([1.5 / (5 / 3)] * 2, rel=1e-6)
    assert w[pilot & ~female] == pytest.approx([2 / (5 / 3)], rel=1e-6)
    assert w[~answered] == pytest.approx([1.0] * int((~answered).sum()))
    assert summary["largest_weight"] == pytest.approx(2 / 1.5, rel=1e-6)


def brute_force_gaps(cells: Cells, k: int) -> tuple[float, float]:
    """Every way of dropping ``k`` respondents, counted by kind."""
    sizes = (
        cells.focal_pass,
        cells.focal_fail,
        cells.reference_pass,
        cells.reference_fail,
        cells.neither,
    )
    gaps = []
    for drop in itertools.product(*(range(min(k, n) + 1) for n in sizes)):
        if sum(drop) == k:
            value = cells.gap((drop[0], drop[1], drop[2], drop[3]))
            if value is not None:
                gaps.append(value)
    return min(gaps), max(gaps)


@pytest.mark.parametrize("seed", range(40))
def test_trimmed_gap_agrees_with_every_way_of_dropping(seed: int) -> None:
    rng = random.Random(seed)
    cells = Cells(*(rng.randint(1, 7) for _ in range(4)), rng.randint(0, 3))
    k = rng.randint(1, 6)
    low, high = trimmed_gap(cells, k)
    if low is None or high is None:
        # only when the drop must empty a group or take the kinds that work against it
        return
    assert (low, high) == pytest.approx(brute_force_gaps(cells, k))


def test_trimmed_gap_of_a_small_table_by_hand() -> None:
    # focal 3 of 5 pass, reference 2 of 4, one of neither group; drop 2
    cells = Cells(3, 2, 2, 2, 1)
    low, high = trimmed_gap(cells, 2)
    # largest: drop the 2 focal non-passers: 3/3 - 2/4 = 0.5, or 1 + 1: 3/4 - 1/3 = 0.417,
    # or 2 reference passers: 3/5 - 0/2 = 0.6
    assert high == pytest.approx(0.6)
    # smallest: drop 2 focal passers: 1/3 - 2/4; 1 + 1: 2/4 - 2/3; 2 reference non-passers:
    # 3/5 - 2/2 = -0.4
    assert low == pytest.approx(-0.4)


def test_lee_bounds_of_a_gap_change_by_hand(plan: AnalysisPlan) -> None:
    # control: 8 applicants, 4 answered (q 0.5): focal 1 of 2 invited, reference 1 of 2
    control = [("control", OUT, True), ("control", OUT, False)]
    control += [("control", NL, True), ("control", NL, False)] + [("control", None, True)] * 4
    # pilot: 8 applicants, 6 answered (q 0.75): focal 2 of 3, reference 1 of 3
    pilot = [("pilot", OUT, True)] * 2 + [("pilot", OUT, False)]
    pilot += [("pilot", NL, True)] + [("pilot", NL, False)] * 2 + [("pilot", None, True)] * 2
    h = hypothesis("gap_difference", arm="pilot", alternative="greater")
    got = manski_bounds(frame(control + pilot), plan, h)
    assert got is not None
    lee = got["lee"]
    # trim p = (0.75 - 0.5) / 0.75 = 1/3 of the pilot's 6 respondents: drop 2
    assert lee["trim"] == pytest.approx(1 / 3)
    assert lee["trimmed_arm"] == "pilot"
    # pilot gap after dropping 2: largest 2/2 - 1/3 (focal non-passer and reference passer:
    # 2/2 - 0/2 = 1), so 1; smallest dropping 2 focal passers 0/1 - 1/3, or 1 focal passer
    # and 1 reference non-passer 1/2 - 1/2 = 0, or 2 reference non-passers 2/3 - 1/1 = -1/3
    # control gap 1/2 - 1/2 = 0
    assert lee["upper"] == pytest.approx(1.0)
    assert lee["lower"] == pytest.approx(-1 / 3)
    # they concern those who would answer either way, not all applicants, and can reach
    # beyond the worst-case bounds: here [-0.267, 0.8]
    assert got["lower"] == pytest.approx((2 / 3 - 3 / 5) - (5 / 6 - 1 / 2))
    assert lee["lower"] < got["lower"]


@pytest.mark.parametrize(
    ("spec", "value", "word"),
    [
        ({"alternative": "greater", "criterion": {"min_effect": 0.02}}, 0.03, "reached"),
        ({"alternative": "greater", "criterion": {"min_effect": 0.02}}, 0.01, "short"),
        ({"alternative": "greater"}, 0.0, "none"),
        ({"alternative": "greater"}, -0.01, "opposite"),
        ({"alternative": "greater", "criterion": {"margin": 0.03}}, -0.02, "within_margin"),
        ({"alternative": "greater", "criterion": {"margin": 0.03}}, -0.04, "opposite"),
        ({"alternative": "less", "criterion": {"min_effect": -0.02}}, -0.03, "reached"),
        ({"alternative": "less"}, 0.01, "opposite"),
        ({"alternative": "two-sided", "criterion": {"min_effect": 0.05}}, -0.06, "below"),
        ({"alternative": "two-sided"}, 0.01, "above"),
        ({"alternative": "two-sided", "criterion": {"min_effect": 0.05}}, 0.04, "short"),
    ],
)
def test_the_verdict_at_a_bound(spec: dict[str, object], value: float, word: str) -> None:
    h = hypothesis("gap_difference", arm="pilot", **spec)
    assert verdict_at(h, value) == word


def test_tipping_share_of_a_pool_share_by_hand(plan: AnalysisPlan) -> None:
    # control: 20 outside Europe of 80 who answered, 20 missing; pilot: 32 of 80, 20 missing.
    # Complete case 32/80 - 20/80 = 0.15, criterion at least 0.05. Filling a share s of the
    # missing the extreme way (pilot: none outside Europe, control: all) gives
    # 32/(80+20s) - (20+20s)/(80+20s) = (12-20s)/(80+20s), below 0.05 from s > 8/21.
    control = [("control", OUT, True)] * 20 + [("control", NL, True)] * 60
    control += [("control", None, True)] * 20
    pilot = [("pilot", OUT, True)] * 32 + [("pilot", NL, True)] * 48
    pilot += [("pilot", None, True)] * 20
    h = hypothesis("pool_share", arm="pilot", criterion={"min_effect": 0.05})
    got = manski_bounds(frame(control + pilot), plan, h)
    assert got is not None
    assert got["depends_on_missing"] is True
    assert got["tipping_share"] == pytest.approx(math.ceil(8 / 21 * 1000) / 1000)


def test_tipping_share_of_a_stage_gap_by_hand(plan: AnalysisPlan) -> None:
    # control only: outside Europe 10 of 40 invited, Netherlands 20 of 40; 10 missing, of
    # whom 5 invited. Gap -0.25, criterion: at most -0.1. The end towards no gap puts the
    # missing passers with outside Europe and the non-passers with the Netherlands:
    # (10+5s)/(40+5s) - 20/(40+5s) = (5s-10)/(40+5s), above -0.1 from s > 6/5.5.
    # That is more than all of them: the conclusion holds whoever did not answer.
    rows = [("control", OUT, True)] * 10 + [("control", OUT, False)] * 30
    rows += [("control", NL, True)] * 20 + [("control", NL, False)] * 20
    rows += [("control", None, True)] * 5 + [("control", None, False)] * 5
    h = hypothesis("stage_gap", arm="control", alternative="less", criterion={"min_effect": -0.1})
    got = manski_bounds(frame(rows), plan, h)
    assert got is not None
    assert got["depends_on_missing"] is False
    assert got["tipping_share"] is None
    # with a stricter criterion, at most -0.2: (5s-10)/(40+5s) > -0.2 from s > 2/6
    strict = hypothesis(
        "stage_gap", arm="control", alternative="less", criterion={"min_effect": -0.2}
    )
    got = manski_bounds(frame(rows), plan, strict)
    assert got is not None
    assert got["depends_on_missing"] is True
    assert got["tipping_share"] == pytest.approx(math.ceil(2 / 6 * 1000) / 1000)


def test_the_words_that_agree_with_a_verdict_are_words_of_a_bound() -> None:
    from pilot_eval.analysis.missing_bounds import AGREES_WITH, BOUND_VERDICTS

    assert set().union(*AGREES_WITH.values()) <= set(BOUND_VERDICTS)
    # a harm and a success never agree on a bound
    assert not AGREES_WITH["harm"] & AGREES_WITH["met"]

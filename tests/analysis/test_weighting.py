"""Reweighting reference-arm vacancies to the arm's profile."""

from __future__ import annotations

import pandas as pd
import pytest

from pilot_eval.analysis.weighting import profile_weights


def test_post_stratification_weights_by_hand() -> None:
    vac = pd.DataFrame(
        {
            "vacancy_id": [f"V{i}" for i in range(9)],
            "department": ["A", "A", "A", "B", "B", "B", "C", "C", "D"],
            "salary_scale": [8, 8, 8, 11, 12, 11, 9, 9, 14],
            "arm": ["pilot", "control", "control", "pilot", "pilot", "control", "control",
                    "control", "pilot"],
        }
    )  # fmt: skip
    w, summary = profile_weights(vac, "pilot", "control", ["department", "salary_scale"])
    # cell A|1-8: 1 pilot, 2 control -> control weight 1/2
    # cell B|11-12: 2 pilot, 1 control -> control weight 2
    # cell C|9-10: no pilot -> control weight 0; cell D|13-18: no control -> pilot weight 0
    assert w.to_dict() == {
        "V0": 1.0,
        "V1": 0.5,
        "V2": 0.5,
        "V3": 1.0,
        "V4": 1.0,
        "V5": 2.0,
        "V6": 0.0,
        "V7": 0.0,
        "V8": 0.0,
    }
    assert summary["cells"] == 4
    assert summary["arm_vacancies_off_support"] == 1
    assert summary["reference_vacancies_off_support"] == 2
    # Kish: (0.5 + 0.5 + 2)^2 / (0.25 + 0.25 + 4) = 9 / 4.5
    assert summary["reference_effective_n"] == pytest.approx(2.0)
    assert summary["max_weight"] == 2.0


def test_weighted_control_profile_equals_pilot_profile() -> None:
    vac = pd.DataFrame(
        {
            "vacancy_id": [f"V{i}" for i in range(6)],
            "department": ["A", "A", "B", "B", "B", "A"],
            "arm": ["pilot", "control", "pilot", "control", "control", "control"],
        }
    )
    w, _ = profile_weights(vac, "pilot", "control", ["department"])
    frame = vac.assign(w=vac["vacancy_id"].map(w))
    shares = frame.groupby(["arm", "department"])["w"].sum().unstack()
    shares = shares.div(shares.sum(axis=1), axis=0)
    assert shares.loc["control"].to_dict() == pytest.approx(shares.loc["pilot"].to_dict())

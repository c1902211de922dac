"""Synthetic optional tables with known truth: ratings, survey, training, population.

Each table has its own child stream of the bundle's seed, so the vacancies and
applications stay exactly as without them. The generating model, in short:

* ``interview_ratings``: every interviewed application is rated by the three members of
  its vacancy's panel (rater ids per vacancy) on four criteria. A rating is the
  application's interview score, plus the rater's severity (normal, sd by arm), plus noise
  per criterion (sd by arm), minus a bias against applicants of origin outside Europe (by
  arm). The structured interview (pilot) has less rater spread, less noise and less bias.
  Pilot applications with the anonymous questionnaire also get its five items, each the
  questionnaire score / 20 plus noise, rated by one assessor.
* ``survey``: every applicant is invited; response is logistic in arm, origin and stage
  reached. The perceived-fairness and clarity latents depend on arm, origin and stage;
  Likert answers are the latent plus noise, rounded and clipped to 1..5. Respondents write
  an open answer with probability 0.4; themes are present with probabilities by arm and
  origin, and two coders each find a present theme with probability 0.9 and mark an
  absent one with probability 0.03.
* ``committee_training``: per department and year 2019-2024 the members required and
  trained; compliance rises on the logit scale by year, with a department effect.
* ``population``: all vacancies of the period, the bundle's own plus nineteen times as
  many others drawn with another department mix (Defensie more, Belastingdienst fewer),
  counted per department, function family and salary scale.

The truth (``truth.json``, key ``evidence``) holds the model's values and, where the
finite population is what the estimators aim at, values computed from the generated data
before anything is hidden (all applicants' answers, every answer's true themes).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]

ARMS: Final = ("control", "pilot")
RATERS: Final = 3
CRITERIA: Final = ("C1", "C2", "C3", "C4")
QUESTIONNAIRE_ITEMS: Final = ("Q1", "Q2", "Q3", "Q4", "Q5")
RATER_SD: Final = {"control": 0.8, "pilot": 0.3}
CRITERION_NOISE_SD: Final = {"control": 1.2, "pilot": 0.6}
RATING_BIAS_OUTSIDE_EUROPE: Final = {"control": 0.5, "pilot": 0.1}
ITEM_NOISE_SD: Final = 0.8
# Variance of the interview score: vacancy sd^2 + latent_weight^2 * pi^2/3 + noise sd^2
INTERVIEW_SCORE_VARIANCE: Final = 0.3**2 + 0.6**2 * math.pi**2 / 3 + 0.6**2
QUESTIONNAIRE_SCORE_VARIANCE: Final = 4.0**2 + 7.0**2 * math.pi**2 / 3 + 6.0**2

RESPONSE_LOGIT: Final = {
    "base": math.log(0.35 / 0.65),
    "pilot": 0.3,
    "outside_europe": -0.5,
    "invited_or_later": 0.4,
    "interviewed_or_later": 0.4,
}
FAIRNESS_OUTSIDE_EUROPE: Final = {"control": -0.6, "pilot": -0.1}
FAIRNESS: Final[dict[str, float]] = {
    "base": 3.0,
    "pilot": 0.3,
    "invited_or_later": 0.5,
    "interviewed_or_later": 0.3,
    "person_sd": 0.6,
    "item_sd": 0.7,
}
CLARITY: Final[dict[str, float]] = {"base": 3.2, "pilot": 0.5, "person_sd": 0.6, "item_sd": 0.7}
FAIRNESS_ITEMS: Final = ("fairness_1", "fairness_2", "fairness_3")
CLARITY_ITEMS: Final = ("clarity_1", "clarity_2")
OPEN_ANSWER_RATE: Final = 0.4
THEMES: Final = ("clarity", "anonymity", "contact", "speed", "bias")
# theme -> (control, pilot) probability; bias also by origin (outside Europe, other)
THEME_P: Final = {
    "clarity": (0.30, 0.35),
    "anonymity": (0.03, 0.35),
    "contact": (0.25, 0.25),
    "speed": (0.20, 0.20),
}
BIAS_THEME_P: Final = {"control": (0.25, 0.08), "pilot": (0.10, 0.05)}
CODER_SENSITIVITY: Final = 0.9
CODER_FALSE_POSITIVE: Final = 0.03
CODERS: Final = ("coder_a", "coder_b")

TRAINING_YEARS: Final = tuple(range(2019, 2025))
TRAINING_LOGIT: Final = {"base_2019": math.log(0.45 / 0.55), "per_year": 0.35, "dept_sd": 0.3}
POPULATION_MULTIPLE: Final = 19
POPULATION_DEPARTMENT_TILT: Final = {"DEF": 2.5, "Belastingdienst": 0.7}


def _stage_codes(applications: pd.DataFrame) -> npt.NDArray[np.int64]:
    return np.asarray(applications["stage_reached"].cat.codes, dtype=np.int64)


def _ratings(
    application_id: npt.NDArray[Any],
    rater_id: list[str],
    criterion: str,
    value: FloatArray,
    bounds: tuple[float, float],
    instrument: str,
) -> pd.DataFrame:
    """Rows of interview_ratings: the value clipped to the bounds, to one decimal."""
    return pd.DataFrame(
        {
            "application_id": application_id,
            "rater_id": rater_id,
            "criterion": criterion,
            "score": np.rint(np.clip(value, *bounds) * 10) / 10,
            "instrument": instrument,
        }
    )


def interview_ratings(
    rng: np.random.Generator, vacancies: pd.DataFrame, applications: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Interview ratings of the interviewed and questionnaire items of the pilot.

    Kept whole: the draws follow one another in a fixed order from the generator (rater
    severities, the interview ratings per rater and criterion, the questionnaire items), so
    that a bundle is the same for a seed.
    """
    arm_of = vacancies.set_index("vacancy_id")["arm"]
    arm = applications["vacancy_id"].map(arm_of).to_numpy(dtype=str)
    outside = (applications["origin"] == "outside_europe").fillna(False).to_numpy(bool)
    score = applications["interview_score"].to_numpy(dtype=np.float64)
    rated = np.flatnonzero(~np.isnan(score))
    vac_codes, vac_ids = pd.factorize(applications["vacancy_id"], sort=True)
    app_ids = applications["application_id"].to_numpy()
    severity = np.column_stack([rng.normal(0.0, 1.0, size=len(vac_ids)) for _ in range(RATERS)])
    parts = []
    for j in range(RATERS):
        for c in CRITERIA:
            in_pilot = arm[rated] == "pilot"
            sd_b = np.where(in_pilot, RATER_SD["pilot"], RATER_SD["control"])
            sd_e = np.where(in_pilot, CRITERION_NOISE_SD["pilot"], CRITERION_NOISE_SD["control"])
            bias = np.where(
                in_pilot,
                RATING_BIAS_OUTSIDE_EUROPE["pilot"],
                RATING_BIAS_OUTSIDE_EUROPE["control"],
            )
            value = (
                score[rated]
                + sd_b * severity[vac_codes[rated], j]
                + sd_e * rng.normal(0.0, 1.0, size=rated.size)
                - bias * outside[rated]
            )
            rater = [f"{v}-R{j + 1}" for v in vac_ids[vac_codes[rated]]]
            parts.append(_ratings(app_ids[rated], rater, c, value, (1.0, 10.0), "interview"))
    q = applications["questionnaire_score"].to_numpy(dtype=np.float64)
    answered = np.flatnonzero(~np.isnan(q))
    for item in QUESTIONNAIRE_ITEMS:
        value = q[answered] / 20 + ITEM_NOISE_SD * rng.normal(0.0, 1.0, size=answered.size)
        assessor = [f"{v}-A" for v in vac_ids[vac_codes[answered]]]
        parts.append(
            _ratings(app_ids[answered], assessor, item, value, (0.0, 5.0), "questionnaire")
        )
    table = pd.concat(parts, ignore_index=True)
    order = np.lexsort(
        (table["criterion"].to_numpy(), table["rater_id"].to_numpy(), table["application_id"])
    )
    table = table.iloc[order].reset_index(drop=True)
    truth: dict[str, Any] = {"icc1_single_rater": {}, "icc1k": {}}
    for a in ARMS:
        error = RATER_SD[a] ** 2 + CRITERION_NOISE_SD[a] ** 2 / len(CRITERIA)
        single = INTERVIEW_SCORE_VARIANCE / (INTERVIEW_SCORE_VARIANCE + error)
        truth["icc1_single_rater"][a] = single
        truth["icc1k"][a] = RATERS * single / (1 + (RATERS - 1) * single)
    rho = (QUESTIONNAIRE_SCORE_VARIANCE / 400) / (
        QUESTIONNAIRE_SCORE_VARIANCE / 400 + ITEM_NOISE_SD**2
    )
    k = len(QUESTIONNAIRE_ITEMS)
    truth["questionnaire_alpha"] = k * rho / (1 + (k - 1) * rho)
    truth["rating_gap_outside_europe_points"] = {
        a: -v for a, v in RATING_BIAS_OUTSIDE_EUROPE.items()
    }
    truth["rating_gap_outside_europe_hedges_g"] = {
        a: -RATING_BIAS_OUTSIDE_EUROPE[a]
        / math.sqrt(
            INTERVIEW_SCORE_VARIANCE
            + RATER_SD[a] ** 2 / RATERS
            + CRITERION_NOISE_SD[a] ** 2 / (RATERS * len(CRITERIA))
        )
        for a in ARMS
    }
    truth["notes"] = [
        "ICC values are for the one-way model (raters differ per vacancy) and ignore the "
        "clipping to 1..10, the rounding to one decimal and the small variance the bias "
        "against origin outside Europe adds between applications.",
        "The interview score itself has no gap by origin; the rating gap is the raters' bias.",
    ]
    return table, truth


def survey(
    rng: np.random.Generator, vacancies: pd.DataFrame, applications: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The applicant survey: response, Likert items and coded open answers."""
    n = len(applications)
    arm = applications["vacancy_id"].map(vacancies.set_index("vacancy_id")["arm"]).to_numpy(str)
    pilot = arm == "pilot"
    outside = (applications["origin"] == "outside_europe").fillna(False).to_numpy(bool)
    stage = _stage_codes(applications)
    later = (stage >= 1).astype(float)
    interviewed = (stage >= 2).astype(float)
    r = RESPONSE_LOGIT
    logit = (
        r["base"]
        + r["pilot"] * pilot
        + r["outside_europe"] * outside
        + r["invited_or_later"] * later
        + r["interviewed_or_later"] * interviewed
    )
    responded = rng.random(n) < 1 / (1 + np.exp(-logit))
    items = _likert_items(rng, pilot, outside, later, interviewed)
    answered = responded & (rng.random(n) < OPEN_ANSWER_RATE)
    present, coder_text = _open_answers(rng, pilot, outside, answered)
    table = pd.DataFrame(
        {
            "application_id": applications["application_id"].to_numpy(),
            "responded": responded,
            "answered": answered,
            **{
                k: pd.array(np.where(responded, v, np.nan), dtype="Float64").astype("Int64")
                for k, v in items.items()
            },
            **coder_text,
        }
    )
    origin = applications["origin"].astype("object").to_numpy()
    return table, _survey_truth(items, origin, pilot, present, answered)


def _likert_items(
    rng: np.random.Generator,
    pilot: npt.NDArray[np.bool_],
    outside: npt.NDArray[np.bool_],
    later: FloatArray,
    interviewed: FloatArray,
) -> dict[str, FloatArray]:
    """Every applicant's answers on the fairness and clarity items (1-5), from a latent
    score per person and scale plus noise per item."""
    n = len(pilot)
    f = FAIRNESS
    gap = np.where(pilot, FAIRNESS_OUTSIDE_EUROPE["pilot"], FAIRNESS_OUTSIDE_EUROPE["control"])
    fair_latent = (
        f["base"]
        + f["pilot"] * pilot
        + gap * outside
        + f["invited_or_later"] * later
        + f["interviewed_or_later"] * interviewed
        + rng.normal(0.0, f["person_sd"], size=n)
    )
    clear_latent = (
        CLARITY["base"] + CLARITY["pilot"] * pilot + rng.normal(0.0, CLARITY["person_sd"], size=n)
    )
    items: dict[str, FloatArray] = {}
    for name in FAIRNESS_ITEMS:
        items[name] = np.clip(np.rint(fair_latent + rng.normal(0, f["item_sd"], n)), 1, 5)
    for name in CLARITY_ITEMS:
        items[name] = np.clip(np.rint(clear_latent + rng.normal(0, CLARITY["item_sd"], n)), 1, 5)
    return items


def _open_answers(
    rng: np.random.Generator,
    pilot: npt.NDArray[np.bool_],
    outside: npt.NDArray[np.bool_],
    answered: npt.NDArray[np.bool_],
) -> tuple[dict[str, npt.NDArray[np.bool_]], dict[str, npt.NDArray[Any]]]:
    """The themes truly present in each open answer, and each coder's codes of them
    (themes joined by ";", None without an answer)."""
    n = len(pilot)
    present: dict[str, npt.NDArray[np.bool_]] = {}
    for theme in THEMES:
        if theme == "bias":
            p = np.where(
                pilot,
                np.where(outside, *BIAS_THEME_P["pilot"]),
                np.where(outside, *BIAS_THEME_P["control"]),
            )
        else:
            p = np.where(pilot, THEME_P[theme][1], THEME_P[theme][0])
        present[theme] = rng.random(n) < p
    coder_text = {}
    for coder in CODERS:
        marks = {
            t: np.where(
                present[t],
                rng.random(n) < CODER_SENSITIVITY,
                rng.random(n) < CODER_FALSE_POSITIVE,
            )
            for t in THEMES
        }
        text = np.full(n, "", dtype=object)
        for t in THEMES:
            text = np.where(marks[t], np.where(text == "", t, text + ";" + t), text)
        coder_text[coder] = np.where(answered, text, np.array(None, dtype=object))
    return present, coder_text


def _survey_truth(
    items: Mapping[str, FloatArray],
    origin: npt.NDArray[Any],
    pilot: npt.NDArray[np.bool_],
    present: Mapping[str, npt.NDArray[np.bool_]],
    answered: npt.NDArray[np.bool_],
) -> dict[str, Any]:
    """What the survey's analysis should find: the differences before non-response and the
    agreement the coders' error rates imply."""
    n = len(pilot)
    fairness_all = np.mean([items[i] for i in FAIRNESS_ITEMS], axis=0)
    clarity_all = np.mean([items[i] for i in CLARITY_ITEMS], axis=0)
    population: dict[str, dict[str, float]] = {}
    for scale, values in (("fairness", fairness_all), ("clarity", clarity_all)):
        population[scale] = {}
        for label, mask in (
            ("all", np.ones(n, bool)),
            ("outside_europe", origin == "outside_europe"),
            ("netherlands", origin == "netherlands"),
        ):
            population[scale][label] = float(
                values[mask & pilot].mean() - values[mask & ~pilot].mean()
            )
    se, fp = CODER_SENSITIVITY, CODER_FALSE_POSITIVE
    kappa_truth = {}
    for t in THEMES:
        prevalence = float(present[t][answered].mean())
        yes = prevalence * se + (1 - prevalence) * fp
        agree = prevalence * (se**2 + (1 - se) ** 2) + (1 - prevalence) * (fp**2 + (1 - fp) ** 2)
        chance = yes**2 + (1 - yes) ** 2
        kappa_truth[t] = (agree - chance) / (1 - chance)
    return {
        "response_logit": dict(RESPONSE_LOGIT),
        "fairness": {**FAIRNESS, "outside_europe": dict(FAIRNESS_OUTSIDE_EUROPE)},
        "clarity": dict(CLARITY),
        "difference_pilot_minus_control_all_applicants": population,
        "open_answer_rate": OPEN_ANSWER_RATE,
        "coder_sensitivity": se,
        "coder_false_positive": fp,
        "expected_cohen_kappa": kappa_truth,
        "notes": [
            "difference_pilot_minus_control_all_applicants is computed on every invited "
            "applicant's answers before non-response hides them: what the weighted "
            "comparison estimates. Non-response depends on origin and stage, which also "
            "move perceived fairness.",
            "expected_cohen_kappa uses the share of answers with each theme in the data.",
        ],
    }


def committee_training(
    rng: np.random.Generator, departments: list[str], weights: list[float]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Members required and trained per department and year."""
    t = TRAINING_LOGIT
    effect = rng.normal(0.0, t["dept_sd"], size=len(departments))
    rows = []
    rates: dict[str, dict[str, float]] = {}
    for d, (dept, weight) in enumerate(zip(departments, weights, strict=True)):
        rates[dept] = {}
        for year in TRAINING_YEARS:
            p = 1 / (1 + math.exp(-(t["base_2019"] + t["per_year"] * (year - 2019) + effect[d])))
            required = 10 + int(rng.poisson(300 * weight))
            trained = int(rng.binomial(required, p))
            rows.append((dept, year, required, trained))
            rates[dept][str(year)] = p
    table = pd.DataFrame(
        rows, columns=["department", "year", "members_required", "members_trained"]
    )
    return table, {"logit": dict(t), "compliance_probability": rates}


def population(
    rng: np.random.Generator,
    vacancies: pd.DataFrame,
    department_weights: dict[str, float],
    family_given_department: FloatArray,
    families: list[str],
    scales: tuple[int, ...],
    scale_weights: tuple[float, ...],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """All vacancies of the period, counted per department, function family and scale."""
    depts = list(department_weights)
    w = np.array([department_weights[d] * POPULATION_DEPARTMENT_TILT.get(d, 1.0) for d in depts])
    w = w / w.sum()
    n_other = POPULATION_MULTIPLE * len(vacancies)
    d = rng.choice(len(depts), size=n_other, p=w)
    fam = np.array([rng.choice(len(families), p=family_given_department[i]) for i in d])
    sp = np.array(scale_weights) / np.sum(scale_weights)
    scale = rng.choice(np.array(scales), size=n_other, p=sp)
    other = pd.DataFrame(
        {
            "department": np.array(depts)[d],
            "function_family": np.array(families)[fam],
            "salary_scale": scale,
        }
    )
    own = vacancies[["department", "function_family", "salary_scale"]]
    both = pd.concat([own, other], ignore_index=True)
    table = (
        both.groupby(["department", "function_family", "salary_scale"], sort=True)
        .size()
        .rename("vacancies")
        .reset_index()
    )
    return table, {
        "other_vacancies": n_other,
        "department_shares_of_other_vacancies": dict(zip(depts, w.tolist(), strict=True)),
        "department_tilt": dict(POPULATION_DEPARTMENT_TILT),
        "notes": [
            "The bundle's vacancies over-represent Belastingdienst and under-represent "
            "Defensie relative to all vacancies; salary scales of the others are drawn "
            "without the function-family shift."
        ],
    }

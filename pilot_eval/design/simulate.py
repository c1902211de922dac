"""Synthetic data bundles with known true effects.

The bundle follows section 1 of the contract (``vacancies`` and ``applications``) and comes with
``truth.json``: the effects the generating model declares, so that every estimator of the package
can be checked against a known answer.

Generating model, in short:

* Vacancies come in matched blocks of three (same department and function family, similar
  salary scale); within each block one vacancy is assigned to the pilot at random.
* Applications per vacancy are gamma-Poisson (overdispersed) with a minimum of five.
* Origin, gender, age band and disability are drawn per applicant; each is then masked at random
  (questionnaire nonresponse, lower in the pilot, plus item nonresponse), independently of its
  value.
* An application moves through applied -> invited -> interviewed -> offered -> hired by four
  sequential Bernoulli transitions. Each vacancy has its own base probability per transition
  (random intercept on the logit scale); group and arm effects are *additive shifts on the
  probability scale* around that base, clipped to [0.01, 0.99]. The declared effects are
  therefore simple differences of probabilities.
* Effects act by arm (intention to treat): the fidelity flags are recorded but do not change the
  generating probabilities.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import special

from pilot_eval.data.files import csv_text
from pilot_eval.design import simulate_evidence as evidence
from pilot_eval.errors import PilotEvalError

__all__ = ["SyntheticBundle", "simulate_bundle", "write_bundle"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

DEFAULT_SEED: Final = 20240901
DEFAULT_N_VACANCIES: Final = 240

ARMS: Final = ("control", "pilot")
STAGES: Final = ("applied", "invited", "interviewed", "offered", "hired")
TRANSITIONS: Final = tuple(itertools.pairwise(STAGES))
ORIGINS: Final = ("netherlands", "europe", "outside_europe")
GENDERS: Final = ("female", "male", "other")
AGE_BANDS: Final = ("<30", "30-44", "45-54", "55+")

# Big agencies recruit far more than the small policy ministries.
DEPARTMENT_WEIGHTS: Final[dict[str, float]] = {
    "AZ": 0.01,
    "BZ": 0.05,
    "BZK": 0.06,
    "DEF": 0.10,
    "EZK": 0.05,
    "FIN": 0.05,
    "IenW": 0.05,
    "JenV": 0.07,
    "LNV": 0.04,
    "OCW": 0.04,
    "SZW": 0.04,
    "VWS": 0.04,
    "Belastingdienst": 0.18,
    "DJI": 0.10,
    "Rijkswaterstaat": 0.12,
}
FAMILY_WEIGHTS: Final[dict[str, float]] = {
    "beleid": 0.22,
    "uitvoering": 0.25,
    "ICT": 0.14,
    "juridisch": 0.09,
    "financieel": 0.08,
    "toezicht": 0.08,
    "bedrijfsvoering": 0.14,
}
_POLICY_TILT: Final[dict[str, float]] = {"beleid": 2.0, "uitvoering": 0.5}
# Multipliers on FAMILY_WEIGHTS: ministries mostly hire policy staff, agencies execution staff.
FAMILY_TILT: Final[dict[str, dict[str, float]]] = {
    "AZ": _POLICY_TILT,
    "BZ": _POLICY_TILT,
    "BZK": _POLICY_TILT,
    "DEF": {"uitvoering": 1.5, "ICT": 1.5, "beleid": 0.5},
    "EZK": _POLICY_TILT,
    "FIN": {"beleid": 2.0, "financieel": 2.0, "uitvoering": 0.5},
    "IenW": _POLICY_TILT,
    "JenV": {"beleid": 1.5, "juridisch": 2.5},
    "LNV": _POLICY_TILT,
    "OCW": _POLICY_TILT,
    "SZW": _POLICY_TILT,
    "VWS": _POLICY_TILT,
    "Belastingdienst": {"uitvoering": 2.0, "ICT": 1.5, "beleid": 0.3},
    "DJI": {"uitvoering": 3.0, "beleid": 0.2},
    "Rijkswaterstaat": {"uitvoering": 2.0, "toezicht": 1.5, "beleid": 0.5},
}
SCALES: Final = tuple(range(4, 15))
SCALE_WEIGHTS: Final = (0.02, 0.03, 0.05, 0.08, 0.12, 0.16, 0.18, 0.15, 0.10, 0.07, 0.04)
FAMILY_SCALE_SHIFT: Final[dict[str, float]] = {
    "beleid": 1.0,
    "uitvoering": -1.5,
    "ICT": 0.5,
    "juridisch": 1.0,
    "financieel": 0.0,
    "toezicht": 0.0,
    "bedrijfsvoering": -0.5,
}
MANAGERIAL_RATE: Final = {"scale_11_plus": 0.25, "below_11": 0.03}
OPEN_FIRST: Final = "2023-10-01"
OPEN_DAYS: Final = 366  # 2023-10-01 .. 2024-09-30 (2024 is a leap year)
BLOCK_OPEN_SPREAD_DAYS: Final = 60
FIDELITY_MISSING_ONE: Final = 0.05
COMMITTEE_TRAINED_MEAN: Final = 0.70
COMMITTEE_TRAINED_DEPT_SD: Final = 0.10

APPLICATIONS_MIN: Final = 5
APPLICATIONS_EXTRA_MEAN: Final = 99.0
APPLICATIONS_GAMMA_SHAPE: Final = 1.5
FAMILY_APPLICATION_MULTIPLIER: Final[dict[str, float]] = {
    "beleid": 1.1,
    "uitvoering": 1.4,
    "ICT": 0.6,
    "juridisch": 0.8,
    "financieel": 0.8,
    "toezicht": 0.9,
    "bedrijfsvoering": 1.2,
}

ORIGIN_SHARES_CONTROL: Final[dict[str, float]] = {
    "netherlands": 0.75,
    "europe": 0.08,
    "outside_europe": 0.17,
}
POOL_SHARE_EFFECT_OUTSIDE_EUROPE: Final = 0.03
# Centred before use, so they move single vacancies without moving the overall control share.
DEPARTMENT_OUTSIDE_EUROPE_SHIFT: Final[dict[str, float]] = {
    "AZ": -0.03,
    "BZ": 0.01,
    "BZK": 0.0,
    "DEF": -0.03,
    "EZK": 0.0,
    "FIN": 0.0,
    "IenW": -0.01,
    "JenV": 0.02,
    "LNV": -0.03,
    "OCW": 0.0,
    "SZW": 0.02,
    "VWS": 0.01,
    "Belastingdienst": 0.02,
    "DJI": 0.04,
    "Rijkswaterstaat": -0.02,
}
FAMILY_OUTSIDE_EUROPE_SHIFT: Final[dict[str, float]] = {
    "beleid": 0.0,
    "uitvoering": 0.01,
    "ICT": 0.03,
    "juridisch": -0.01,
    "financieel": 0.0,
    "toezicht": -0.02,
    "bedrijfsvoering": 0.0,
}
VACANCY_OUTSIDE_EUROPE_SD: Final = 0.02
FEMALE_SHARE_BY_FAMILY: Final[dict[str, float]] = {
    "beleid": 0.55,
    "uitvoering": 0.45,
    "ICT": 0.25,
    "juridisch": 0.62,
    "financieel": 0.45,
    "toezicht": 0.40,
    "bedrijfsvoering": 0.60,
}
OTHER_GENDER_SHARE: Final = 0.01
AGE_BAND_SHARES: Final = (0.32, 0.40, 0.17, 0.11)
DISABILITY_SHARE: Final = 0.08
# The anonymous procedure makes more applicants fill in the voluntary diversity questionnaire.
QUESTIONNAIRE_NONRESPONSE: Final[dict[str, float]] = {"control": 0.15, "pilot": 0.11}
ITEM_NONRESPONSE: Final[dict[str, float]] = {
    "origin": 0.06,
    "gender": 0.05,
    "age_band": 0.05,
    "disability": 0.07,
}

# Reference transition probabilities at a vacancy with random intercept 0.
BASE_TRANSITION: Final = (0.25, 0.85, 0.30, 0.85)
TRANSITION_LOGIT_SD: Final = (0.5, 0.4, 0.4, 0.4)
# Additive shifts (probability scale) for origin outside Europe, per arm and transition.
OUTSIDE_EUROPE_SHIFT: Final[dict[str, tuple[float, float, float, float]]] = {
    "control": (-0.08, 0.0, -0.06, 0.0),
    "pilot": (-0.01, 0.0, -0.02, 0.0),
}
EUROPE_SHIFT_FRACTION: Final = 0.5
PROBABILITY_CLIP: Final = (0.01, 0.99)
# Share of applicants who stopped at a stage and did so voluntarily, by that stage.
WITHDRAWAL_AT_STAGE: Final = (0.03, 0.25, 0.06, 0.50)

QUESTIONNAIRE_SCORE: Final = {
    "mean": 60.0,
    "latent_weight": 7.0,
    "noise_sd": 6.0,
    "vacancy_sd": 4.0,
}
INTERVIEW_SCORE: Final = {"mean": 6.5, "latent_weight": 0.6, "noise_sd": 0.6, "vacancy_sd": 0.3}

# Groups as the shipped analysis plan defines them; every effect other than origin is zero.
TRUTH_GROUPS: Final[dict[str, dict[str, Any]]] = {
    "origin": {"column": "origin", "focal": ["outside_europe"], "reference": ["netherlands"]},
    "gender": {"column": "gender", "focal": ["female"], "reference": ["male"]},
    "age": {"column": "age_band", "focal": ["55+"], "reference": ["30-44"]},
    "disability": {"column": "disability", "focal": [True], "reference": [False]},
}

VACANCY_COLUMNS: Final = (
    "vacancy_id",
    "department",
    "function_family",
    "salary_scale",
    "managerial",
    "opened_on",
    "block",
    "arm",
    "inclusive_text",
    "anonymous_questionnaire",
    "structured_interview",
    "committee_trained",
)
APPLICATION_COLUMNS: Final = (
    "application_id",
    "vacancy_id",
    "origin",
    "gender",
    "age_band",
    "disability",
    "stage_reached",
    "withdrew",
    "questionnaire_score",
    "interview_score",
)
TRUTH_DECIMALS: Final = 6


@dataclass(frozen=True)
class SyntheticBundle:
    """A synthetic data bundle and the truth it was generated from.

    Attributes
    ----------
    vacancies : pandas.DataFrame
        One row per vacancy, columns as in section 1 of the contract plus ``block``.
    applications : pandas.DataFrame
        One row per application, columns as in section 1 of the contract.
    truth : dict of str to Any
        JSON-serialisable description of the generating model and its declared effects.
    optional : dict of str to pandas.DataFrame
        The optional tables (interview_ratings, survey, committee_training, population);
        empty when generated without them.
    """

    vacancies: pd.DataFrame
    applications: pd.DataFrame
    truth: dict[str, Any]
    optional: dict[str, pd.DataFrame] = field(default_factory=dict)


def simulate_bundle(
    seed: int = DEFAULT_SEED,
    n_vacancies: int = DEFAULT_N_VACANCIES,
    optional: bool = True,
    gap_sd: float = 0.0,
    stage_correlation: float = 0.0,
    selective_nonresponse: float = 0.0,
) -> SyntheticBundle:
    """Generate a synthetic bundle with known true effects.

    Parameters
    ----------
    seed : int, default 20240901
        Non-negative seed of :class:`numpy.random.SeedSequence`; the only source of randomness.
    n_vacancies : int, default 240
        Number of vacancies; applications scale with it (about 104 per vacancy).
    optional : bool, default True
        Also generate the optional tables (``pilot_eval.design.simulate_evidence``).
    gap_sd : float, default 0
        Standard deviation across vacancies of every origin gap in progression (each
        vacancy's shift for applicants of origin outside Europe, and half of it for Europe,
        deviates from the arm's declared shift by a normal draw); the declared shifts stay the
        mean. 0 keeps the bundle of earlier versions byte for byte.
    stage_correlation : float, default 0
        Correlation across an applicant's transitions of the latent that decides them (a
        Gaussian copula; each transition keeps its probability): whoever passes an earlier
        stage despite a penalty is stronger at the next one. 0 keeps the earlier bundle.
    selective_nonresponse : float, default 0
        Extra probability that a control applicant of origin outside Europe leaves origin
        open: non-response that depends on the value and differs by arm, so that complete
        cases are biased. 0 keeps the earlier bundle.

    Returns
    -------
    SyntheticBundle
        Vacancies, applications and the truth (see :func:`write_bundle` for the files).

    Raises
    ------
    PilotEvalError
        If ``seed`` is negative or ``n_vacancies`` is smaller than 1.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise PilotEvalError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(n_vacancies, bool) or not isinstance(n_vacancies, int) or n_vacancies < 1:
        raise PilotEvalError(f"n_vacancies must be a positive integer, got {n_vacancies!r}")
    if not 0 <= gap_sd <= 0.3:
        raise PilotEvalError(f"gap_sd must lie in [0, 0.3], got {gap_sd!r}")
    if not 0 <= stage_correlation < 1:
        raise PilotEvalError(f"stage_correlation must lie in [0, 1), got {stage_correlation!r}")
    if not 0 <= selective_nonresponse <= 1:
        raise PilotEvalError(
            f"selective_nonresponse must lie in [0, 1], got {selective_nonresponse!r}"
        )
    variation = Variation(gap_sd, stage_correlation, selective_nonresponse)

    # Separate child streams keep the vacancy table unchanged when application code changes.
    rng_vacancies, rng_applications = (
        np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(2)
    )
    vac = _simulate_vacancies(rng_vacancies, n_vacancies)
    vacancies = _vacancy_frame(vac)
    applications = _simulate_applications(rng_applications, vac, variation)
    truth = _truth(
        seed=seed,
        n_vacancies=n_vacancies,
        n_applications=len(applications),
        n_pilot_vacancies=int(vac.pilot.sum()),
    )
    if gap_sd:
        truth["gap_sd_across_vacancies"] = gap_sd
    if stage_correlation:
        truth["stage_correlation"] = stage_correlation
    if selective_nonresponse:
        truth["selective_nonresponse"] = {
            "arm": ARMS[0],
            "origin": "outside_europe",
            "extra_probability": selective_nonresponse,
        }
    tables: dict[str, pd.DataFrame] = {}
    if optional:
        tables, truth["evidence"] = _optional_tables(seed, vacancies, applications)
        truth = _round_floats(truth)
    return SyntheticBundle(
        vacancies=vacancies, applications=applications, truth=truth, optional=tables
    )


def _optional_tables(
    seed: int, vacancies: pd.DataFrame, applications: pd.DataFrame
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    # children 2.. of the seed: the first two (vacancies, applications) stay as they were
    rngs = [np.random.default_rng(c) for c in np.random.SeedSequence(seed).spawn(6)[2:]]
    ratings, t_ratings = evidence.interview_ratings(rngs[0], vacancies, applications)
    answers, t_survey = evidence.survey(rngs[1], vacancies, applications)
    training, t_training = evidence.committee_training(
        rngs[2], list(DEPARTMENT_WEIGHTS), list(DEPARTMENT_WEIGHTS.values())
    )
    population, t_population = evidence.population(
        rngs[3],
        vacancies,
        DEPARTMENT_WEIGHTS,
        _family_given_department(),
        list(FAMILY_WEIGHTS),
        SCALES,
        SCALE_WEIGHTS,
    )
    tables = {
        "interview_ratings": ratings,
        "survey": answers,
        "committee_training": training,
        "population": population,
    }
    truth = {
        "interview_ratings": t_ratings,
        "survey": t_survey,
        "committee_training": t_training,
        "population": t_population,
    }
    return tables, truth


def write_bundle(bundle: SyntheticBundle, out: Path) -> list[Path]:
    """Write ``vacancies.csv``, ``applications.csv`` and ``truth.json`` into the folder ``out``.

    The files are byte-identical for the same bundle: UTF-8, ``\\n`` line endings, no index,
    booleans as ``true``/``false``, missing values as empty cells, scores with one decimal.
    Each file is written to a temporary name first and then renamed, so an interrupted write
    leaves no truncated file under the final name.

    Parameters
    ----------
    bundle : SyntheticBundle
        The bundle to write.
    out : pathlib.Path
        An existing folder.

    Returns
    -------
    list of pathlib.Path
        The paths written, in the order vacancies, applications, truth, then the optional
        tables.

    Raises
    ------
    PilotEvalError
        If ``out`` is not an existing folder.
    """
    out = Path(out)
    if not out.is_dir():
        raise PilotEvalError(f"output folder does not exist or is not a folder: {out}")
    targets = [out / "vacancies.csv", out / "applications.csv", out / "truth.json"]
    contents: list[str] = [
        csv_text(bundle.vacancies),
        csv_text(bundle.applications),
        json.dumps(_round_floats(bundle.truth), indent=2, sort_keys=True, ensure_ascii=False)
        + "\n",
    ]
    for name, table in bundle.optional.items():
        targets.append(out / f"{name}.csv")
        contents.append(csv_text(table))
    for target, text in zip(targets, contents, strict=True):
        temporary = target.with_name(target.name + ".tmp")
        temporary.write_bytes(text.encode("utf-8"))
        os.replace(temporary, target)
    return targets


@dataclass(frozen=True)
class _Vacancies:
    """Vacancy attributes as arrays, the input of the application model."""

    ids: npt.NDArray[np.str_]
    department: IntArray
    family: IntArray
    scale: IntArray
    managerial: BoolArray
    opened_on: npt.NDArray[np.str_]
    block: IntArray
    pilot: BoolArray
    interventions: BoolArray  # shape (n, 3): inclusive text, questionnaire, interview
    committee_trained: BoolArray


def _simulate_vacancies(rng: np.random.Generator, n: int) -> _Vacancies:
    departments = list(DEPARTMENT_WEIGHTS)
    families = list(FAMILY_WEIGHTS)
    sizes = _block_sizes(n)
    n_blocks = len(sizes)
    block = np.repeat(np.arange(n_blocks, dtype=np.int64), sizes)

    dept_p = np.array(list(DEPARTMENT_WEIGHTS.values()))
    block_dept = rng.choice(len(departments), size=n_blocks, p=dept_p / dept_p.sum())
    block_family = np.zeros(n_blocks, dtype=np.int64)
    family_given_dept = _family_given_department()
    for d in range(len(departments)):
        members = np.flatnonzero(block_dept == d)
        block_family[members] = rng.choice(len(families), size=members.size, p=family_given_dept[d])

    scale_p = np.array(SCALE_WEIGHTS)
    shift = np.array([FAMILY_SCALE_SHIFT[f] for f in families])
    block_scale = rng.choice(np.array(SCALES), size=n_blocks, p=scale_p / scale_p.sum())
    block_scale = np.clip(np.rint(block_scale + shift[block_family]), SCALES[0], SCALES[-1])
    # Matched, not identical: members of a block may differ by one scale.
    step = rng.choice(np.array([-1, 0, 1]), size=n, p=[0.25, 0.5, 0.25])
    scale = np.clip(block_scale[block] + step, SCALES[0], SCALES[-1]).astype(np.int64)

    managerial = rng.random(n) < np.where(
        scale >= 11, MANAGERIAL_RATE["scale_11_plus"], MANAGERIAL_RATE["below_11"]
    )

    block_start = rng.integers(0, OPEN_DAYS - BLOCK_OPEN_SPREAD_DAYS, size=n_blocks)
    day = block_start[block] + rng.integers(0, BLOCK_OPEN_SPREAD_DAYS, size=n)
    opened_on = (np.datetime64(OPEN_FIRST, "D") + day).astype(np.str_)

    pilot = _assign_pilot(rng, block, sizes)

    missing_one = pilot & (rng.random(n) < FIDELITY_MISSING_ONE)
    which = rng.integers(0, 3, size=n)
    interventions = pilot[:, None] & ~(missing_one[:, None] & (which[:, None] == np.arange(3)))

    dept_rate = np.clip(
        rng.normal(COMMITTEE_TRAINED_MEAN, COMMITTEE_TRAINED_DEPT_SD, size=len(departments)),
        0.35,
        0.95,
    )
    department = block_dept[block].astype(np.int64)
    committee_trained = rng.random(n) < dept_rate[department]

    return _Vacancies(
        ids=_ids("V", n, 4),
        department=department,
        family=block_family[block].astype(np.int64),
        scale=scale,
        managerial=managerial,
        opened_on=opened_on,
        block=block,
        pilot=pilot,
        interventions=interventions,
        committee_trained=committee_trained,
    )


def _block_sizes(n: int) -> IntArray:
    sizes = np.full(n // 3, 3, dtype=np.int64)
    remainder = n % 3
    if remainder == 2:
        sizes = np.append(sizes, 2)
    elif remainder == 1:
        # A block of one has no comparison vacancy, so it joins the previous block.
        if sizes.size:
            sizes[-1] += 1
        else:
            sizes = np.array([1], dtype=np.int64)
    return sizes


def _assign_pilot(rng: np.random.Generator, block: IntArray, sizes: IntArray) -> BoolArray:
    n_pilot = np.maximum(1, np.floor(sizes / 3 + 0.5)).astype(np.int64)
    # Complete randomisation within blocks: rank random keys within each block.
    order = np.lexsort((rng.random(block.size), block))
    position = np.empty(block.size, dtype=np.int64)
    position[order] = np.arange(block.size)
    start = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    rank = position - start[block]
    result: BoolArray = rank < n_pilot[block]
    return result


def _family_given_department() -> FloatArray:
    base = np.array(list(FAMILY_WEIGHTS.values()))
    rows = []
    for dept in DEPARTMENT_WEIGHTS:
        tilt = FAMILY_TILT.get(dept, {})
        row = base * np.array([tilt.get(f, 1.0) for f in FAMILY_WEIGHTS])
        rows.append(row / row.sum())
    return np.array(rows)


def _vacancy_frame(vac: _Vacancies) -> pd.DataFrame:
    departments = np.array(list(DEPARTMENT_WEIGHTS))
    families = np.array(list(FAMILY_WEIGHTS))
    width = max(3, len(str(int(vac.block.max()) + 1)))
    frame = pd.DataFrame(
        {
            "vacancy_id": vac.ids,
            "department": departments[vac.department],
            "function_family": families[vac.family],
            "salary_scale": vac.scale,
            "managerial": vac.managerial,
            "opened_on": vac.opened_on,
            "block": _ids("B", int(vac.block.max()) + 1, width)[vac.block],
            "arm": np.where(vac.pilot, ARMS[1], ARMS[0]),
            "inclusive_text": vac.interventions[:, 0],
            "anonymous_questionnaire": vac.interventions[:, 1],
            "structured_interview": vac.interventions[:, 2],
            "committee_trained": vac.committee_trained,
        }
    )
    return frame.loc[:, list(VACANCY_COLUMNS)]


@dataclass(frozen=True)
class Variation:
    """Departures from the default generator (``simulate_bundle``); all 0 by default."""

    gap_sd: float = 0.0
    stage_correlation: float = 0.0
    selective_nonresponse: float = 0.0


def _simulate_applications(
    rng: np.random.Generator, vac: _Vacancies, variation: Variation = Variation()
) -> pd.DataFrame:
    n_vac = vac.ids.size
    families = list(FAMILY_WEIGHTS)

    multiplier = np.array([FAMILY_APPLICATION_MULTIPLIER[f] for f in families])
    family_p = _family_given_department().T @ np.array(list(DEPARTMENT_WEIGHTS.values()))
    # Normalised so the expected count per vacancy does not depend on the family mix.
    mean_extra = APPLICATIONS_EXTRA_MEAN * multiplier[vac.family] / (multiplier @ family_p)
    lam = rng.gamma(APPLICATIONS_GAMMA_SHAPE, mean_extra / APPLICATIONS_GAMMA_SHAPE)
    counts = APPLICATIONS_MIN + rng.poisson(lam)
    v = np.repeat(np.arange(n_vac, dtype=np.int64), counts)
    n = v.size
    pilot = vac.pilot[v]
    arm = pilot.astype(np.int64)

    origin_code, gender_code, age_code, disability, missing = _backgrounds(
        rng, vac, v, arm, family_p
    )

    stage, latent = _simulate_stages(rng, vac, v, arm, origin_code, variation)
    if variation.selective_nonresponse > 0:  # drawn only then: the earlier stream otherwise
        # after the stages: these applicants progress as of their origin, unreported
        leaves = rng.random(n) < variation.selective_nonresponse
        selective = (origin_code == ORIGINS.index("outside_europe")) & (arm == 0) & leaves
        origin_code = np.where(selective, -1, origin_code)
    stopped = stage < len(TRANSITIONS)
    withdraw_p = np.array(WITHDRAWAL_AT_STAGE)[np.minimum(stage, len(TRANSITIONS) - 1)]
    withdrew = stopped & (rng.random(n) < withdraw_p)

    questionnaire = _score(rng, latent[:, 0], v, n_vac, QUESTIONNAIRE_SCORE, (0.0, 100.0))
    questionnaire[~vac.interventions[v, 1]] = np.nan
    interview = _score(rng, latent[:, 2], v, n_vac, INTERVIEW_SCORE, (1.0, 10.0))
    interview[stage < STAGES.index("interviewed")] = np.nan

    frame = pd.DataFrame(
        {
            "application_id": _ids("A", n, 6),
            "vacancy_id": vac.ids[v],
            "origin": _categorical(origin_code, ORIGINS),
            "gender": _categorical(gender_code, GENDERS),
            "age_band": _categorical(age_code, AGE_BANDS),
            "disability": pd.arrays.BooleanArray(disability, missing["disability"]),
            "stage_reached": _categorical(stage, STAGES, ordered=True),
            "withdrew": withdrew,
            "questionnaire_score": questionnaire,
            "interview_score": interview,
        }
    )
    return frame.loc[:, list(APPLICATION_COLUMNS)]


def _backgrounds(
    rng: np.random.Generator,
    vac: _Vacancies,
    v: npt.NDArray[np.int64],
    arm: npt.NDArray[np.int64],
    family_p: FloatArray,
) -> tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.bool_],
    dict[str, npt.NDArray[np.bool_]],
]:
    """Each application's origin, gender and age band (codes, -1 not reported), disability,
    and which voluntary answers are missing, drawn in this order from ``rng``."""
    n = v.size
    families = list(FAMILY_WEIGHTS)
    origin = _origin_probabilities(rng, vac, family_p)[v]
    u = rng.random(n)
    origin_code = np.where(u < origin[:, 2], 2, np.where(u < origin[:, 2] + origin[:, 1], 1, 0))
    female = np.array([FEMALE_SHARE_BY_FAMILY[f] for f in families])[vac.family][v]
    u = rng.random(n)
    gender_code = np.where(
        u < OTHER_GENDER_SHARE, 2, np.where(u < OTHER_GENDER_SHARE + female, 0, 1)
    )
    age_p = np.array(AGE_BAND_SHARES)
    age_code = rng.choice(len(AGE_BANDS), size=n, p=age_p / age_p.sum())
    disability = rng.random(n) < DISABILITY_SHARE

    nonresponse = np.array([QUESTIONNAIRE_NONRESPONSE[a] for a in ARMS])[arm]
    skipped = rng.random(n) < nonresponse
    missing = {item: skipped | (rng.random(n) < rate) for item, rate in ITEM_NONRESPONSE.items()}
    origin_code = np.where(missing["origin"], -1, origin_code)
    gender_code = np.where(missing["gender"], -1, gender_code)
    age_code = np.where(missing["age_band"], -1, age_code)

    return origin_code, gender_code, age_code, disability, missing


def _origin_probabilities(
    rng: np.random.Generator, vac: _Vacancies, family_p: FloatArray
) -> FloatArray:
    """Return per-vacancy origin probabilities, shape (n_vacancies, 3) in ORIGINS order."""
    dept_shift = np.array(list(DEPARTMENT_OUTSIDE_EUROPE_SHIFT.values()))
    family_shift = np.array(list(FAMILY_OUTSIDE_EUROPE_SHIFT.values()))
    dept_w = np.array(list(DEPARTMENT_WEIGHTS.values()))
    centre = dept_shift @ dept_w / dept_w.sum() + family_shift @ family_p
    outside = (
        ORIGIN_SHARES_CONTROL["outside_europe"]
        + dept_shift[vac.department]
        + family_shift[vac.family]
        - centre
        + rng.normal(0.0, VACANCY_OUTSIDE_EUROPE_SD, size=vac.ids.size)
    )
    # The clip keeps shares valid; with these settings it binds essentially never.
    outside = np.clip(outside, 0.02, 0.60) + POOL_SHARE_EFFECT_OUTSIDE_EUROPE * vac.pilot
    europe = np.full_like(outside, ORIGIN_SHARES_CONTROL["europe"])
    return np.column_stack((1.0 - outside - europe, europe, outside))


def _simulate_stages(
    rng: np.random.Generator,
    vac: _Vacancies,
    v: IntArray,
    arm: IntArray,
    origin_code: IntArray,
    variation: Variation = Variation(),
) -> tuple[IntArray, FloatArray]:
    """Return the stage reached (code into STAGES) and the uniform latent of each transition."""
    n_vac = vac.ids.size
    intercept = rng.normal(0.0, 1.0, size=(n_vac, len(TRANSITIONS))) * np.array(TRANSITION_LOGIT_SD)
    base = _expit(_logit(np.array(BASE_TRANSITION)) + intercept)

    # shift[arm, origin, transition]; index 3 is missing origin, which behaves as netherlands.
    shift = np.zeros((len(ARMS), len(ORIGINS) + 1, len(TRANSITIONS)))
    for a, arm_name in enumerate(ARMS):
        outside = np.array(OUTSIDE_EUROPE_SHIFT[arm_name])
        shift[a, ORIGINS.index("outside_europe")] = outside
        shift[a, ORIGINS.index("europe")] = EUROPE_SHIFT_FRACTION * outside
    # origin_code -1 (missing) wraps to index 3 on purpose.
    applicant_shift = shift[arm, origin_code]
    gap_sd = variation.gap_sd
    if gap_sd > 0:  # drawn only then: without it the random stream is that of earlier versions
        deviation = rng.normal(0.0, gap_sd, size=(n_vac, len(TRANSITIONS)))[v]
        weight = np.select(
            [
                origin_code == ORIGINS.index("outside_europe"),
                origin_code == ORIGINS.index("europe"),
            ],
            [1.0, EUROPE_SHIFT_FRACTION],
            0.0,
        )
        applicant_shift = applicant_shift + deviation * weight[:, None]
    probability = np.clip(base[v] + applicant_shift, *PROBABILITY_CLIP)

    latent = rng.random((v.size, len(TRANSITIONS)))
    rho = variation.stage_correlation
    if rho > 0:  # one ability shared by the transitions, uniform margins (Gaussian copula)
        ability = rng.standard_normal((v.size, 1))
        own = special.ndtri(np.clip(latent, 1e-12, 1 - 1e-12))
        latent = special.ndtr(math.sqrt(rho) * ability + math.sqrt(1 - rho) * own)
    passed = latent < probability
    stage: IntArray = np.cumprod(passed, axis=1, dtype=np.int64).sum(axis=1)
    return stage, latent


def _score(
    rng: np.random.Generator,
    latent: FloatArray,
    v: IntArray,
    n_vac: int,
    spec: dict[str, float],
    bounds: tuple[float, float],
) -> FloatArray:
    """Return a score tied to the transition's latent uniform but independent of group.

    A low latent means passing, so the score falls with the logit of the latent; the latent is
    drawn independently of origin, hence the score has no true difference by origin.
    """
    vacancy_mean = rng.normal(0.0, spec["vacancy_sd"], size=n_vac)
    noise = rng.normal(0.0, spec["noise_sd"], size=v.size)
    clipped = np.clip(latent, 1e-9, 1.0 - 1e-9)
    raw = spec["mean"] + vacancy_mean[v] - spec["latent_weight"] * _logit(clipped) + noise
    bounded: FloatArray = np.clip(raw, bounds[0], bounds[1])
    # Same as np.round(bounded, 1), spelled so the numpy stubs keep the float64 dtype.
    result: FloatArray = np.rint(bounded * 10.0) / 10.0
    return result


def _ids(prefix: str, n: int, min_width: int) -> npt.NDArray[np.str_]:
    """Return ``prefix`` + zero-padded 1..n, built digit by digit to avoid a Python loop."""
    width = max(min_width, len(str(n)))
    number = np.arange(1, n + 1, dtype=np.int64)
    chars = np.empty((n, width + len(prefix)), dtype=np.uint32)
    chars[:, : len(prefix)] = [ord(c) for c in prefix]
    for k in range(width):
        chars[:, -1 - k] = number % 10 + ord("0")
        number //= 10
    result: npt.NDArray[np.str_] = chars.view(f"<U{width + len(prefix)}").ravel()
    return result


def _categorical(
    codes: npt.NDArray[np.integer[Any]], categories: Sequence[str], *, ordered: bool = False
) -> pd.Categorical:
    """Return a categorical from integer codes; code -1 is missing."""
    dtype = pd.CategoricalDtype(list(categories), ordered=ordered)
    return pd.Categorical.from_codes(codes.astype(np.int64), dtype=dtype)


def _logit(p: FloatArray) -> FloatArray:
    result: FloatArray = np.log(p) - np.log1p(-p)
    return result


def _expit(x: FloatArray) -> FloatArray:
    result: FloatArray = 1.0 / (1.0 + np.exp(-x))
    return result


def _mean_over_vacancies(base: float, sd: float) -> float:
    """Mean of expit(logit(base) + sd * Z), Z standard normal, by Gauss-Hermite quadrature."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(60)
    values = _expit(_logit(np.array(base)) + sd * np.asarray(nodes, dtype=np.float64))
    return float(values @ weights / math.sqrt(2.0 * math.pi))


def _truth(
    *, seed: int, n_vacancies: int, n_applications: int, n_pilot_vacancies: int
) -> dict[str, Any]:
    effects = _effects()
    truth: dict[str, Any] = {
        "seed": seed,
        "n_vacancies": n_vacancies,
        "n_applications": n_applications,
        "n_pilot_vacancies": n_pilot_vacancies,
        "arms": {"reference": ARMS[0], "treated": ARMS[1]},
        "definition": (
            "Each effect value is the generating model's average difference in probabilities "
            "(focal minus reference group; for pool_share and gap_difference pilot minus "
            "control). Group and arm effects are additive shifts of each applicant's transition "
            "probability around the vacancy-specific base probability, clipped to "
            f"[{PROBABILITY_CLIP[0]}, {PROBABILITY_CLIP[1]}]; clipping and vacancy heterogeneity "
            "make finite-sample estimands differ slightly from these values."
        ),
        "notes": [
            "Effects act by arm (intention to treat); the fidelity flags inclusive_text, "
            "anonymous_questionnaire and structured_interview are recorded but do not change "
            "the generating probabilities.",
            "Transition rates are over all applications that reached the from-stage, "
            "withdrawals included; withdrawal only labels applicants who stopped.",
            "Applicants with missing origin behave as netherlands; origin europe has half the "
            "outside_europe shift.",
            "Demographics are missing independently of their value (questionnaire nonresponse "
            "by arm plus item nonresponse), so shares among known values equal the generating "
            "shares.",
            "score_gap effects are standardised mean differences (Hedges' g); scores depend on "
            "the latent of their transition, drawn independently of every group.",
            "pool_share base for outside_europe varies by department and function family "
            "around the control share; the pilot adds the same amount in every vacancy.",
        ],
        "base_rates": _base_rates(),
        "effects": effects,
        "nulls": [e["id"] for e in effects if e["value"] == 0.0],
    }
    rounded: dict[str, Any] = _round_floats(truth)
    return rounded


def _base_rates() -> dict[str, Any]:
    pilot_shares = dict(ORIGIN_SHARES_CONTROL)
    pilot_shares["outside_europe"] += POOL_SHARE_EFFECT_OUTSIDE_EUROPE
    pilot_shares["netherlands"] -= POOL_SHARE_EFFECT_OUTSIDE_EUROPE
    return {
        "transitions": [
            {
                "from": start,
                "to": end,
                "reference_probability": base,
                "reference_probability_mean_over_vacancies": _mean_over_vacancies(base, sd),
                "vacancy_logit_sd": sd,
                "shift_outside_europe": {a: OUTSIDE_EUROPE_SHIFT[a][i] for a in ARMS},
                "shift_europe": {
                    a: EUROPE_SHIFT_FRACTION * OUTSIDE_EUROPE_SHIFT[a][i] for a in ARMS
                },
                "withdrawal_share_if_stopped_here": WITHDRAWAL_AT_STAGE[i],
            }
            for i, ((start, end), base, sd) in enumerate(
                zip(TRANSITIONS, BASE_TRANSITION, TRANSITION_LOGIT_SD, strict=True)
            )
        ],
        "origin_shares": {ARMS[0]: dict(ORIGIN_SHARES_CONTROL), ARMS[1]: pilot_shares},
        "origin_outside_europe_vacancy_sd": VACANCY_OUTSIDE_EUROPE_SD,
        "female_share_by_function_family": dict(FEMALE_SHARE_BY_FAMILY),
        "other_gender_share": OTHER_GENDER_SHARE,
        "age_band_shares": dict(zip(AGE_BANDS, AGE_BAND_SHARES, strict=True)),
        "disability_share": DISABILITY_SHARE,
        "missing": {
            "questionnaire_nonresponse": dict(QUESTIONNAIRE_NONRESPONSE),
            "item_nonresponse": dict(ITEM_NONRESPONSE),
            "expected_missing_share": {
                item: {
                    a: QUESTIONNAIRE_NONRESPONSE[a] + (1 - QUESTIONNAIRE_NONRESPONSE[a]) * rate
                    for a in ARMS
                }
                for item, rate in ITEM_NONRESPONSE.items()
            },
        },
        "applications_per_vacancy": {
            "minimum": APPLICATIONS_MIN,
            "mean": APPLICATIONS_MIN + APPLICATIONS_EXTRA_MEAN,
            "gamma_shape": APPLICATIONS_GAMMA_SHAPE,
        },
        "pilot_share_of_vacancies": 1 / 3,
        "pilot_missing_one_intervention": FIDELITY_MISSING_ONE,
        "committee_trained": COMMITTEE_TRAINED_MEAN,
        "managerial_rate": dict(MANAGERIAL_RATE),
        "probability_clip": list(PROBABILITY_CLIP),
    }


def _effects() -> list[dict[str, Any]]:
    """Return every declared effect; only origin has non-zero values."""
    control, pilot = ARMS
    effects: list[dict[str, Any]] = []

    def add(kind: str, group: str, arm: str, value: float, **extra: Any) -> None:
        stage = extra.get("stage")
        parts = [kind, group, arm]
        if stage is not None:
            parts.append(f"{stage['from']}->{stage['to']}")
        if "score" in extra:
            parts.append(extra["score"])
        spec = TRUTH_GROUPS[group]
        effects.append(
            {
                "id": "/".join(parts),
                "kind": kind,
                "group": group,
                "column": spec["column"],
                "focal": spec["focal"],
                "reference": spec["reference"],
                "arm": arm,
                "reference_arm": control,
                "value": value,
                "null": value == 0.0,
                **extra,
            }
        )

    for group in TRUTH_GROUPS:
        is_origin = group == "origin"
        add("pool_share", group, pilot, POOL_SHARE_EFFECT_OUTSIDE_EUROPE if is_origin else 0.0)
        for i, (start, end) in enumerate(TRANSITIONS):
            stage = {"from": start, "to": end}
            gaps = {a: OUTSIDE_EUROPE_SHIFT[a][i] if is_origin else 0.0 for a in ARMS}
            add("stage_gap", group, control, gaps[control], stage=stage)
            add("stage_gap", group, pilot, gaps[pilot], stage=stage)
            add("gap_difference", group, pilot, gaps[pilot] - gaps[control], stage=stage)
    add("score_gap", "origin", pilot, 0.0, score="questionnaire_score")
    add("score_gap", "origin", control, 0.0, score="interview_score")
    add("score_gap", "origin", pilot, 0.0, score="interview_score")
    return effects


def _round_floats(value: Any) -> Any:
    """Round every float in a JSON-like structure; ``+ 0.0`` turns ``-0.0`` into ``0.0``."""
    if isinstance(value, float):
        return round(value, TRUTH_DECIMALS) + 0.0
    if isinstance(value, dict):
        return {k: _round_floats(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_round_floats(v) for v in value]
    return value

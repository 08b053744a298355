"""The proctor's exam form: read every field, report every problem, build `ExamRules`.

A form with problems goes back to the proctor with each field marked and its values kept;
nothing here raises on bad input. The rules' bounds and checks are `ExamRules`' own
(exams/policy.py): this module only reads the text and names the field of each error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast, get_args

import annotated_types
from pydantic import BaseModel, ValidationError

from sandbox.exams.policy import BandFloor, ExamRules
from sandbox.scenarios.library import PackLibrary
from sandbox.storage.exams import Exam, ExamScenario
from sandbox.web.i18n import N_, Translate

NAME_MAX = 120
COHORT_MAX = 64
LIMIT_MIN_S, LIMIT_MAX_S = 10, 3 * 3600
BAND_NAMES = ("excellent", "good", "pass")


class ExamFormInput(BaseModel):
    """The exam form as posted (`Annotated[ExamFormInput, Form()]`): every field as typed,
    the scenarios and candidates ticked as lists; `read_exam_form` checks them."""

    name: str = ""
    scenario: list[str] = []
    time_limit_s: str = ""
    opens_at: str = ""
    opens_at_utc: str = ""
    closes_at: str = ""
    closes_at_utc: str = ""
    cohort: str = ""
    candidate: list[str] = []
    exam_only: str = ""
    provisional: str = ""
    attempts_allowed: str = ""
    on_timeout: str = ""
    grace_s: str = ""
    open_book: str = ""
    written_pass: str = ""
    practical_pass: str = ""
    written_weight: str = ""
    practical_weight: str = ""
    band_excellent: str = ""
    band_good: str = ""
    band_pass: str = ""
    retake_days: str = ""
    pass_rate_target: str = ""


@dataclass
class ExamForm:
    """The form's values as typed, the problems by field, and what they mean once valid."""

    values: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    name: str = ""
    scenarios: list[tuple[str, str]] = field(default_factory=list)
    time_limit_s: float | None = None  # None: each scenario's own time_limit_s
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    cohort: str | None = None
    candidate_ids: set[int] = field(default_factory=set)
    new_cohort: bool = False
    exam_only: bool = False  # the scenarios are never offered for practice (web/practice.py)
    rules: ExamRules | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


def blank_values(now: datetime) -> dict[str, Any]:
    """A new exam's form: the policies' defaults, a window from now (to the minute) for a
    day: an exam is most often made to be sat at once."""
    rules = ExamRules()
    opens = now.replace(second=0, microsecond=0)
    return _rule_values(rules) | {
        "name": "",
        "scenario": [],
        "time_limit_s": "",  # each scenario's own limit, as the pack sets it
        "opens_at": _local_text(opens),
        "closes_at": _local_text(opens + timedelta(days=1)),
        "cohort": "",
        "candidate": [],
        "exam_only": "",
    }


def exam_values(
    exam: Exam, scenarios: Sequence[ExamScenario], candidate_ids: Sequence[int]
) -> dict[str, Any]:
    """An existing exam's form."""
    return _rule_values(exam.exam_rules) | {
        "name": exam.name,
        "scenario": [s.key for s in scenarios],
        "time_limit_s": "" if exam.limit_s is None else _number_text(exam.limit_s),
        "opens_at": _local_text(exam.opens_at),
        "closes_at": _local_text(exam.closes_at),
        "cohort": exam.cohort or "",
        "candidate": [str(i) for i in candidate_ids],
        "exam_only": "1" if exam.exam_only else "",
    }


def _rule_values(rules: ExamRules) -> dict[str, Any]:
    floors = dict((name, floor) for floor, name in rules.bands)
    return {
        "attempts_allowed": str(rules.attempts_allowed),
        "on_timeout": rules.on_timeout,
        "open_book": "1" if rules.open_book else "",
        "grace_s": _number_text(rules.grace_s or 30),
        "written_pass": _number_text(rules.written_pass),
        "practical_pass": _number_text(rules.practical_pass),
        "written_weight": _number_text(round(rules.written_weight * 100, 4)),
        "practical_weight": _number_text(round(rules.practical_weight * 100, 4)),
        "retake_days": str(rules.retake_days),
        "pass_rate_target": _number_text(rules.pass_rate_target),
        "provisional": "on" if rules.provisional else "off",
    } | {f"band_{name}": _number_text(floors.get(name, 0)) for name in BAND_NAMES}


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _local_text(moment: datetime) -> str:
    """A `datetime-local` value in UTC (exam_form.js shows it in the browser's zone)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def read_exam_form(
    form: Mapping[str, Any],
    lists: Mapping[str, list[str]],
    *,
    t: Translate,
    library: PackLibrary,
    trainee_ids: set[int],
    cohorts: Mapping[str, list[int]],
) -> ExamForm:
    """Check every field of a submitted exam form."""
    values: dict[str, Any] = {key: str(form.get(key, "")).strip() for key in form}
    values["scenario"] = [v.strip() for v in lists.get("scenario", [])]
    values["candidate"] = [v.strip() for v in lists.get("candidate", [])]
    result = ExamForm(values)
    errors = result.errors
    result.exam_only = values.get("exam_only", "") not in ("", "0")
    values["exam_only"] = "1" if result.exam_only else ""
    values["open_book"] = "1" if values.get("open_book", "") not in ("", "0") else ""

    result.name = values.get("name", "")
    if not result.name:
        errors["name"] = t("exam.error.name_required")
    elif len(result.name) > NAME_MAX:
        errors["name"] = t("exam.error.too_long", limit=NAME_MAX)

    for key in values["scenario"]:
        pack_id, _, scenario_id = key.partition("/")
        if library.find(pack_id, scenario_id) is None:
            errors["scenario"] = t("exam.error.unknown_scenario", scenario=key)
            break
        if (pack_id, scenario_id) not in result.scenarios:
            result.scenarios.append((pack_id, scenario_id))
    if not values["scenario"]:
        errors["scenario"] = t("exam.error.scenario_required")

    # Blank: each scenario's own time_limit_s ("in practice and exams alike").
    if str(values.get("time_limit_s", "")).strip():
        result.time_limit_s = _number(values, "time_limit_s", LIMIT_MIN_S, LIMIT_MAX_S, errors, t)

    result.opens_at = read_moment(form, "opens_at", errors, t)
    result.closes_at = read_moment(form, "closes_at", errors, t)
    if result.opens_at and result.closes_at and result.closes_at <= result.opens_at:
        errors["closes_at"] = t("exam.error.closes_before_opens")

    _read_candidates(result, t, trainee_ids, cohorts)
    _read_rules(result, t)
    return result


def _read_candidates(
    result: ExamForm, t: Translate, trainee_ids: set[int], cohorts: Mapping[str, list[int]]
) -> None:
    values, errors = result.values, result.errors
    picked: set[int] = set()
    for raw in values["candidate"]:
        if not raw.isdigit() or int(raw) not in trainee_ids:
            errors["candidate"] = t("exam.error.unknown_trainee")
            break
        picked.add(int(raw))
    cohort = values.get("cohort", "")
    if len(cohort) > COHORT_MAX:
        errors["cohort"] = t("exam.error.too_long", limit=COHORT_MAX)
        return
    if "/" in cohort:  # a cohort's report lives at /proctor/cohorts/NAME/report
        errors["cohort"] = t("exam.error.cohort_slash")
        return
    result.cohort = cohort or None
    members = set(cohorts.get(cohort, [])) if cohort else set()
    result.new_cohort = bool(cohort) and cohort not in cohorts
    result.candidate_ids = picked | members
    if not result.candidate_ids and "candidate" not in errors:
        key = N_("exam.error.cohort_empty") if cohort else N_("exam.error.candidates_required")
        errors["candidate"] = t(key, cohort=cohort)


#: The form's rule fields and the `ExamRules` field each sets: the form shows the weights
#: in percent, the model holds fractions. Their bounds are the model's.
PERCENT_FIELDS = ("written_weight", "practical_weight")
RULE_FIELDS = (
    "attempts_allowed",
    "grace_s",
    "written_pass",
    "practical_pass",
    *PERCENT_FIELDS,
    "retake_days",
    "pass_rate_target",
)
RANGE_ERRORS = frozenset(
    {
        "greater_than_equal",
        "less_than_equal",
        "greater_than",
        "less_than",
        "int_from_float",
        "finite_number",
        "int_parsing",
        "float_parsing",
    }
)


def _bounds(metadata: Sequence[Any], scale: float = 1) -> tuple[float, float]:
    """The lowest and highest value a model field takes (`ge`, `le`), in the form's unit."""
    low = next((m.ge for m in metadata if isinstance(m, annotated_types.Ge)), 0)
    high = next((m.le for m in metadata if isinstance(m, annotated_types.Le)), math.inf)
    return float(cast(float, low)) * scale, float(cast(float, high)) * scale


def rule_bounds(name: str) -> tuple[float, float]:
    """The bounds of a rule field of the form, from `ExamRules`."""
    if name.startswith("band_"):
        return _bounds(get_args(BandFloor)[1].metadata)
    scale = 100 if name in PERCENT_FIELDS else 1
    return _bounds(ExamRules.model_fields[name].metadata, scale)


def _read_rules(result: ExamForm, t: Translate) -> None:
    """Build `ExamRules` from the form; each of the model's errors marks its field."""
    values, errors = result.values, result.errors
    typed: dict[str, Any] = {}
    numbers = [*RULE_FIELDS, *(f"band_{name}" for name in BAND_NAMES)]
    on_timeout = values.get("on_timeout", "end")
    for key in numbers:
        if key == "grace_s" and on_timeout != "grace":
            typed[key] = 0.0  # a grace period only counts with the grace rule
            continue
        number = _float(values, key)
        if number is None:
            errors[key] = t("exam.error.number")
        typed[key] = number
    # An unreadable number goes to the model as None: its own error is "Enter a number"
    # (kept: the first message of a field wins), and no rule across fields is asked of it.
    data = {
        **{key: typed[key] for key in RULE_FIELDS if key not in PERCENT_FIELDS},
        **{key: None if typed[key] is None else typed[key] / 100 for key in PERCENT_FIELDS},
        "on_timeout": on_timeout,
        "open_book": values.get("open_book", "") not in ("", "0"),
        "bands": [(typed[f"band_{name}"], name) for name in BAND_NAMES],
        # Radio buttons, "on" unless "off" is chosen: a form without the field keeps the default.
        "provisional": values.get("provisional", "") != "off",
    }
    try:
        rules = ExamRules.model_validate(data)
    except ValidationError as invalid:
        for problem in invalid.errors():
            key, message = _form_problem(problem, t)
            errors.setdefault(key, message)
        return
    if not errors:
        result.rules = rules


def _form_problem(problem: Any, t: Translate) -> tuple[str, str]:
    """The form field and message of one of `ExamRules`' validation errors."""
    loc, kind = tuple(problem["loc"]), problem["type"]
    if kind == "weights":
        return "practical_weight", t("exam.error.weights")
    if kind == "bands":
        return "band_pass", t("exam.error.bands")
    if kind == "grace":
        _, high = rule_bounds("grace_s")
        return "grace_s", t("exam.error.range", low=1, high=_number_text(high))
    key = "rules"
    if loc and loc[0] in (*RULE_FIELDS, "on_timeout"):
        key = str(loc[0])
    elif loc[:1] == ("bands",) and len(loc) >= 2 and loc[1] in range(len(BAND_NAMES)):
        key = f"band_{BAND_NAMES[loc[1]]}"
    if key == "on_timeout":
        return key, t("exam.error.choose")
    if kind in RANGE_ERRORS and key != "rules":
        low, high = rule_bounds(key)
        return key, t("exam.error.range", low=_number_text(low), high=_number_text(high))
    # A field already marked (an unreadable number) keeps its message.
    return key, t("exam.error.rules")


def _float(values: Mapping[str, Any], key: str) -> float | None:
    """A number as typed, or None; bounds (and infinity) are the model's to refuse."""
    try:
        return float(str(values.get(key, "")).strip())
    except ValueError:
        return None


def _number(
    values: Mapping[str, Any],
    key: str,
    low: float,
    high: float,
    errors: dict[str, str],
    t: Translate,
    *,
    whole: bool = False,
) -> float | None:
    raw = str(values.get(key, "")).strip()
    try:
        number = float(raw)
    except ValueError:
        errors[key] = t("exam.error.number")
        return None
    if (
        not math.isfinite(number)
        or not low <= number <= high
        or (whole and not number.is_integer())
    ):
        errors[key] = t("exam.error.range", low=_number_text(low), high=_number_text(high))
        return None
    return number


def read_moment(
    form: Mapping[str, Any], key: str, errors: dict[str, str], t: Translate
) -> datetime | None:
    """The UTC moment of a datetime field: exam_form.js sends it as `KEY_utc` in UTC; a
    browser without scripts sends the field as typed, read as UTC."""
    for raw, name in ((form.get(f"{key}_utc"), f"{key}_utc"), (form.get(key), key)):
        text = str(raw or "").strip()
        if not text:
            continue
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            if name == key:
                errors[key] = t("exam.error.date")
                return None
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        if not 2000 <= moment.year <= 2999:
            errors[key] = t("exam.error.date")
            return None
        return moment.astimezone(UTC)
    errors[key] = t("exam.error.date")
    return None

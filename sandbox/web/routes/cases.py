"""The case library: attempts mentors picked as good or bad examples, without names.

Names are masked in transcripts, notes and tags: every user's login name and the names the
trainee introduced themselves with in the chat. Trainees see verdicts by criterion id, not
the rubric's descriptions. Cases of scenarios closed to the viewer for practice, and exam
conversations while an exam on their scenario runs, are left out (web/practice.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Response
from sqlmodel import Session, col, select

from sandbox import access
from sandbox.storage.attempts import list_messages
from sandbox.storage.models import Attempt, AttemptMessage, Speaker, User
from sandbox.storage.reviews import EXAMPLES, CaseRow, TeachingCase, list_cases, tags_of
from sandbox.web import reviews
from sandbox.web.deps import CurrentUser, SessionDep, StateDep, ViewerDep
from sandbox.web.exams import exam_service
from sandbox.web.i18n import Translate
from sandbox.web.practice import closed_for_practice, under_exam
from sandbox.web.state import AppState
from sandbox.web.templating import render

router = APIRouter(prefix="/cases", tags=["cases"])

PAGE_SIZE = 20
QUERY_MAX_CHARS = 200


class Maskers:
    """Per case, a function that masks every user's name in its text and the names someone
    introduced themselves with in its chat (web/reviews.py: `redactor`)."""

    def __init__(self, session: Session, t: Translate) -> None:
        users = session.exec(select(User.id, User.name)).all()
        self.names = {user_id: name for user_id, name in users}
        self.everyone = [name for _, name in users]
        self.mask = t("case.redacted")
        self.made: dict[tuple[int, frozenset[str]], Callable[[str], str]] = {}

    def __call__(
        self, owner_id: int, trainee_lines: list[str] | None = None
    ) -> Callable[[str], str]:
        typed = frozenset(reviews.introduced_names(trainee_lines or []))
        key = (owner_id, typed)
        if key not in self.made:
            owner = self.names.get(owner_id, "")
            self.made[key] = reviews.redactor(owner, self.everyone, self.mask, typed)
        return self.made[key]


def transcripts(
    session: Session, attempt_ids: list[int], trainee_only: bool = False
) -> dict[int, list[str]]:
    """The message texts of several attempts (or only the trainee's), read in one query."""
    texts: dict[int, list[str]] = {i: [] for i in attempt_ids}
    if attempt_ids:
        statement = (
            select(AttemptMessage.attempt_id, AttemptMessage.text)
            .where(col(AttemptMessage.attempt_id).in_(attempt_ids))
            .order_by(col(AttemptMessage.attempt_id), col(AttemptMessage.seq))
        )
        if trainee_only:
            statement = statement.where(AttemptMessage.role == Speaker.TRAINEE)
        for attempt_id, text in session.exec(statement).all():
            texts[attempt_id].append(text)
    return texts


class Hidden:
    """Which cases a user may not see now: those of scenarios closed to them for practice
    (web/practice.py), and exam conversations while an exam on their scenario still runs
    (a case published before that was refused)."""

    def __init__(self, session: Session, state: AppState, user: User) -> None:
        self.session = session
        self.now = exam_service(state).now()
        self.closed = closed_for_practice(session, user, self.now)
        self.running: dict[tuple[str, str], bool] = {}

    def __call__(self, attempt: Attempt) -> bool:
        key = (attempt.pack_id, attempt.scenario_id)
        if key in self.closed:
            return True
        if attempt.exam_id is None:
            return False
        if key not in self.running:
            self.running[key] = under_exam(self.session, key[0], key[1], self.now)
        return self.running[key]


def shown_tags(tags: list[str], mask: Callable[[str], str]) -> list[tuple[str, bool]]:
    """Each tag as shown, and whether it may be a search link (not when a name was masked
    in it: the link would carry the name)."""
    return [(mask(tag), mask(tag) == tag) for tag in tags]


@router.get("")
def list_teaching_cases(
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    user: CurrentUser,
    q: str = "",
    tag: str = "",
    scenario: str = "",
    example: str = "",
    page: str = "1",
) -> Response:
    """Search the cases by text, tag, scenario and kind of example."""
    raw = {
        "q": q.strip()[:QUERY_MAX_CHARS],
        "tag": tag.strip().lower(),
        "scenario": scenario.strip(),
        "example": example.strip(),
    }
    errors: dict[str, str] = {}
    if raw["example"] and raw["example"] not in EXAMPLES:
        errors["example"] = "case.search.error.example"
    hidden = Hidden(session, state, user)
    every = [row for row in list_cases(session=session) if not hidden(row.attempt)]
    titles = {(p.id, s.id): s.title for p, s in state.library.scenarios()}
    in_library = sorted({(r.attempt.pack_id, r.attempt.scenario_id) for r in every})
    if raw["scenario"] and tuple(raw["scenario"].partition("/")[::2]) not in set(in_library):
        errors["scenario"] = "case.search.error.scenario"
    maskers = Maskers(session, viewer.t)
    typed = transcripts(session, [r.attempt.id for r in every if r.attempt.id], trainee_only=True)

    def masked(row: CaseRow) -> Callable[[str], str]:
        return maskers(row.attempt.user_id, typed.get(row.attempt.id or 0, []))

    tag_rows = {row.case.id: shown_tags(row.tags, masked(row)) for row in every}
    found: list[CaseRow] = [] if errors else every
    if raw["tag"]:
        # Only tags shown as they are can be searched: a tag with a name masked finds nothing.
        found = [r for r in found if (raw["tag"], True) in tag_rows[r.case.id]]
    if raw["scenario"]:
        wanted = tuple(raw["scenario"].partition("/")[::2])
        found = [r for r in found if (r.attempt.pack_id, r.attempt.scenario_id) == wanted]
    if raw["example"]:
        found = [r for r in found if r.case.example == raw["example"]]

    if raw["q"]:
        # The text is searched as shown, names masked: a name finds nothing.
        needle = raw["q"].casefold()
        texts = transcripts(session, [r.attempt.id for r in found if r.attempt.id is not None])
        kept = []
        for row in found:
            mask = masked(row)
            title = titles.get((row.attempt.pack_id, row.attempt.scenario_id), "")
            haystack = "\n".join(
                [title, row.attempt.scenario_id, mask(row.case.note)]
                + [tag for tag, _ in tag_rows[row.case.id]]
                + [mask(text) for text in texts.get(row.attempt.id or 0, [])]
            )
            if needle in haystack.casefold():
                kept.append(row)
        found = kept
    number = int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1
    pages = max(1, -(-len(found) // PAGE_SIZE))
    number = min(number, pages)
    shown = found[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
    notes = {row.case.id: masked(row)(row.case.note) for row in shown}
    kept_filters = {key: value for key, value in raw.items() if value}
    counts = Counter(tag for rows in tag_rows.values() for tag, linkable in rows if linkable)

    def link(number: int) -> str:
        return "/cases?" + urlencode({**kept_filters, "page": number})

    context = viewer.context(
        raw=raw,
        errors={key: viewer.t(value) for key, value in errors.items()},
        cases=shown,
        notes=notes,
        case_tags=tag_rows,
        total=len(found),
        titles=titles,
        tags=sorted(counts.items()),
        scenario_choices=in_library,
        examples=EXAMPLES,
        page=number,
        pages=pages,
        previous=link(number - 1) if number > 1 else None,
        next=link(number + 1) if number < pages else None,
    )
    return render("cases.html", context, status_code=400 if errors else 200)


@router.get("/{case_id}")
def read_teaching_case(
    case_id: int, viewer: ViewerDep, state: StateDep, session: SessionDep, user: CurrentUser
) -> Response:
    """One case: the transcript with timing and verdicts, names masked, and the mentor's note.

    A trainee sees each criterion's id and verdict, never its description, weight or
    critical flag (those are the answer key in prose); staff see the whole record. A case
    of a scenario closed to the viewer (web/practice.py) is not found."""
    case = session.get(TeachingCase, case_id)
    if case is None or case.id is None:
        raise HTTPException(status_code=404)
    attempt = session.get(Attempt, case.attempt_id)
    owner = session.get(User, attempt.user_id) if attempt else None
    if (
        attempt is None
        or attempt.id is None
        or owner is None
        or Hidden(session, state, user)(attempt)
    ):
        raise HTTPException(status_code=404)
    lines = transcripts(session, [attempt.id], trainee_only=True)[attempt.id]
    mask = Maskers(session, viewer.t)(attempt.user_id, lines)
    messages = list_messages(session=session, attempt_id=attempt.id)
    graded = reviews.graded_view(state.library, attempt)
    show_rubric = access.can_see_rubric(user)
    record = graded.record if show_rubric else reviews.without_rubric(graded.record)
    rows = reviews.timed_rows(messages, record)
    found = state.library.find(attempt.pack_id, attempt.scenario_id)
    values: dict[str, Any] = {
        "case": case,
        "case_tags": shown_tags(tags_of(session=session, case_ids=[case.id])[case.id], mask),
        "note": mask(case.note),
        "attempt": attempt,
        "record": record,
        "show_rubric": show_rubric,
        "scenario": found[1] if found else None,
        "persona_name": found[1].persona.name if found else "",
        "content_lang": found[0].locale if found else "",
        "rows": rows,
        "criteria": reviews.criteria_rows(record),
        "duration_s": rows[-1].at if rows else 0.0,
        "seconds": reviews.format_seconds,
        "clean": mask,
        "trainee_label": viewer.t("case.trainee_label"),
        "can_comment": False,
        "can_override": False,
        "review_link": access.can_review(user, owner),
        "errors": {},
        "form": {},
        "open_form": None,
    }
    return render("case.html", viewer.context(**values))

"""The case library: attempts mentors picked as good or bad examples, without names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Response
from sqlmodel import Session, col, select

from sandbox.storage.attempts import list_messages
from sandbox.storage.models import Attempt, AttemptMessage, Role, User
from sandbox.storage.reviews import EXAMPLES, CaseRow, TeachingCase, all_tags, list_cases, tags_of
from sandbox.web import reviews
from sandbox.web.deps import CurrentUser, SessionDep, StateDep, ViewerDep
from sandbox.web.i18n import Translate
from sandbox.web.routes.mentor import may_review
from sandbox.web.templating import render

router = APIRouter(prefix="/cases", tags=["cases"])

PAGE_SIZE = 20
QUERY_MAX_CHARS = 200


class Maskers:
    """Per attempt owner, a function that masks their name and every trainee's in text."""

    def __init__(self, session: Session, t: Translate) -> None:
        users = session.exec(select(User.id, User.name, User.role)).all()
        self.names = {user_id: name for user_id, name, _ in users}
        self.trainees = [name for _, name, role in users if role == Role.TRAINEE]
        self.mask = t("case.redacted")
        self.made: dict[int, Callable[[str], str]] = {}

    def __call__(self, owner_id: int) -> Callable[[str], str]:
        if owner_id not in self.made:
            owner = self.names.get(owner_id, "")
            self.made[owner_id] = reviews.redactor(owner, self.trainees, self.mask)
        return self.made[owner_id]


def transcripts(session: Session, attempt_ids: list[int]) -> dict[int, list[str]]:
    """The message texts of several attempts, read in one query."""
    texts: dict[int, list[str]] = {i: [] for i in attempt_ids}
    if attempt_ids:
        statement = (
            select(AttemptMessage.attempt_id, AttemptMessage.text)
            .where(col(AttemptMessage.attempt_id).in_(attempt_ids))
            .order_by(col(AttemptMessage.attempt_id), col(AttemptMessage.seq))
        )
        for attempt_id, text in session.exec(statement).all():
            texts[attempt_id].append(text)
    return texts


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
    every = list_cases(session=session)
    titles = {(p.id, s.id): s.title for p, s in state.library.scenarios()}
    in_library = sorted({(r.attempt.pack_id, r.attempt.scenario_id) for r in every})
    if raw["scenario"] and tuple(raw["scenario"].partition("/")[::2]) not in set(in_library):
        errors["scenario"] = "case.search.error.scenario"
    found: list[CaseRow] = [] if errors else every
    if raw["tag"]:
        found = [r for r in found if raw["tag"] in r.tags]
    if raw["scenario"]:
        wanted = tuple(raw["scenario"].partition("/")[::2])
        found = [r for r in found if (r.attempt.pack_id, r.attempt.scenario_id) == wanted]
    if raw["example"]:
        found = [r for r in found if r.case.example == raw["example"]]
    maskers = Maskers(session, viewer.t)

    def masked(row: CaseRow) -> Callable[[str], str]:
        return maskers(row.attempt.user_id)

    if raw["q"]:
        # The text is searched as shown, names masked: a name finds nothing.
        needle = raw["q"].casefold()
        texts = transcripts(session, [r.attempt.id for r in found if r.attempt.id is not None])
        kept = []
        for row in found:
            mask = masked(row)
            title = titles.get((row.attempt.pack_id, row.attempt.scenario_id), "")
            haystack = "\n".join(
                [title, row.attempt.scenario_id, mask(row.case.note), " ".join(row.tags)]
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

    def link(number: int) -> str:
        return "/cases?" + urlencode({**kept_filters, "page": number})

    context = viewer.context(
        raw=raw,
        errors={key: viewer.t(value) for key, value in errors.items()},
        cases=shown,
        notes=notes,
        total=len(found),
        titles=titles,
        tags=all_tags(session=session),
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
    """One case: the transcript with timing and verdicts, names masked, and the mentor's note."""
    case = session.get(TeachingCase, case_id)
    if case is None or case.id is None:
        raise HTTPException(status_code=404)
    attempt = session.get(Attempt, case.attempt_id)
    owner = session.get(User, attempt.user_id) if attempt else None
    if attempt is None or attempt.id is None or owner is None:
        raise HTTPException(status_code=404)
    mask = Maskers(session, viewer.t)(attempt.user_id)
    messages = list_messages(session=session, attempt_id=attempt.id)
    graded = reviews.graded_view(state.library, attempt)
    rows = reviews.timed_rows(messages, graded.record)
    found = state.library.find(attempt.pack_id, attempt.scenario_id)
    values: dict[str, Any] = {
        "case": case,
        "case_tags": tags_of(session=session, case_ids=[case.id])[case.id],
        "note": mask(case.note),
        "attempt": attempt,
        "record": graded.record,
        "scenario": found[1] if found else None,
        "persona_name": found[1].persona.name if found else "",
        "content_lang": found[0].locale if found else "",
        "rows": rows,
        "criteria": reviews.criteria_rows(graded.record),
        "duration_s": rows[-1].at if rows else 0.0,
        "seconds": reviews.format_seconds,
        "clean": mask,
        "trainee_label": viewer.t("case.trainee_label"),
        "can_comment": False,
        "can_override": False,
        "review_link": may_review(user, owner),
        "errors": {},
        "form": {},
        "open_form": None,
    }
    return render("case.html", viewer.context(**values))

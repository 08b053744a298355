"""The case library: attempts mentors picked as good or bad examples, without names.

Names are masked in transcripts, notes and tags: every user's login name and the names the
trainee introduced themselves with in the chat. Trainees see verdicts by criterion id, not
the rubric's descriptions. Cases of scenarios closed to the viewer for practice, and exam
conversations while an exam on their scenario runs, are left out (web/practice.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter, HTTPException, Response
from sqlalchemy import or_, tuple_
from sqlmodel import Session, col, select

from sandbox import access
from sandbox.storage.attempts import list_messages
from sandbox.storage.models import Attempt, AttemptMessage, Speaker, User
from sandbox.storage.reviews import EXAMPLES, CaseRow, TeachingCase, TeachingCaseTag, tags_of
from sandbox.web import reviews
from sandbox.web.deps import CurrentUser, SessionDep, StateDep, ViewerDep
from sandbox.web.i18n import N_, Translate
from sandbox.web.pagination import Page, paginate, paginate_list, read_page
from sandbox.web.practice import closed_for_practice, under_exam
from sandbox.web.state import AppState
from sandbox.web.templating import render

router = APIRouter(prefix="/cases", tags=["cases"])

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
        self.now = state.conversations.now()
        self.closed = closed_for_practice(session, user, self.now)
        self.running: dict[tuple[str, str], bool] = {}

    def __call__(self, attempt: Attempt) -> bool:
        key = (attempt.pack_id, attempt.scenario_id)
        if key in self.closed:
            return True
        if attempt.exam_id is None:
            return False
        return self.exam_running(key)

    def exam_running(self, key: tuple[str, str]) -> bool:
        if key not in self.running:
            self.running[key] = under_exam(self.session, key[0], key[1], self.now)
        return self.running[key]

    def visible(self, statement: Any) -> Any:
        """`statement` (over cases joined with their attempts) without the hidden ones: the
        same rule as `__call__`, asked of the database."""
        key = tuple_(col(Attempt.pack_id), col(Attempt.scenario_id))
        closed = list(self.closed.reasons)
        if closed:
            statement = statement.where(key.not_in(closed))
        exam_keys = self.session.exec(
            select(Attempt.pack_id, Attempt.scenario_id)
            .join(TeachingCase, col(TeachingCase.attempt_id) == col(Attempt.id))
            .where(col(Attempt.exam_id).is_not(None))
            .distinct()
        ).all()
        running = [(p, s) for p, s in exam_keys if self.exam_running((p, s))]
        if running:
            statement = statement.where(or_(col(Attempt.exam_id).is_(None), key.not_in(running)))
        return statement


def shown_tags(tags: list[str], mask: Callable[[str], str]) -> list[tuple[str, bool]]:
    """Each tag as shown, and whether it may be a search link (not when a name was masked
    in it: the link would carry the name)."""
    return [(mask(tag), mask(tag) == tag) for tag in tags]


def cases_statement() -> Any:
    """Every case with its attempt, newest first."""
    return (
        select(TeachingCase, Attempt)
        .join(Attempt, col(Attempt.id) == col(TeachingCase.attempt_id))
        .order_by(col(TeachingCase.id).desc())
    )


def case_rows(session: Session, rows: Sequence[tuple[TeachingCase, Attempt]]) -> list[CaseRow]:
    tags = tags_of(session=session, case_ids=[case.id for case, _ in rows if case.id is not None])
    return [CaseRow(case, attempt, tags.get(case.id or 0, [])) for case, attempt in rows]


class TypedNames:
    """Per case, the mask of its names (`Maskers`), reading the trainee's lines of many
    attempts in one query (`load`) before they are asked for."""

    def __init__(self, session: Session, maskers: Maskers) -> None:
        self.session = session
        self.maskers = maskers
        self.lines: dict[int, list[str]] = {}

    def load(self, attempt_ids: Sequence[int | None]) -> None:
        missing = [i for i in attempt_ids if i is not None and i not in self.lines]
        if missing:
            self.lines.update(transcripts(self.session, missing, trainee_only=True))

    def __call__(self, attempt_id: int, owner_id: int) -> Callable[[str], str]:
        self.load([attempt_id])
        return self.maskers(owner_id, self.lines[attempt_id])

    def of(self, row: CaseRow) -> Callable[[str], str]:
        return self(row.attempt.id or 0, row.attempt.user_id)


def linkable_tag_counts(session: Session, visible: Any, masks: TypedNames) -> Counter[str]:
    """How many visible cases carry each tag that is shown as it is (no name masked in it)."""
    tagged = session.exec(
        visible.join(TeachingCaseTag, col(TeachingCaseTag.case_id) == col(TeachingCase.id))
        .with_only_columns(col(Attempt.id), col(Attempt.user_id), col(TeachingCaseTag.tag))
        .order_by(None)
    ).all()
    masks.load([attempt_id for attempt_id, _, _ in tagged])
    counts: Counter[str] = Counter()
    for attempt_id, owner_id, tag in tagged:
        if masks(attempt_id, owner_id)(tag) == tag:
            counts[tag] += 1
    return counts


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
    """Search the cases by text, tag, scenario and kind of example, a page at a time.

    The database filters by visibility, scenario, kind and tag, and counts and slices the
    page; only a text search reads the matching cases' transcripts, since it looks at the
    text as shown (names masked), which only Python knows.
    """
    raw = {
        "q": q.strip()[:QUERY_MAX_CHARS],
        "tag": tag.strip().lower(),
        "scenario": scenario.strip(),
        "example": example.strip(),
    }
    errors: dict[str, str] = {}
    if raw["example"] and raw["example"] not in EXAMPLES:
        errors["example"] = N_("case.search.error.example")
    hidden = Hidden(session, state, user)
    visible = hidden.visible(cases_statement())
    titles = {(p.id, s.id): s.title for p, s in state.library.scenarios()}
    in_library = sorted(
        (p, s)
        for p, s in session.exec(
            visible.with_only_columns(col(Attempt.pack_id), col(Attempt.scenario_id))
            .order_by(None)
            .distinct()
        ).all()
    )
    wanted = tuple(raw["scenario"].partition("/")[::2])
    if raw["scenario"] and wanted not in set(in_library):
        errors["scenario"] = N_("case.search.error.scenario")
    masks = TypedNames(session, Maskers(session, viewer.t))
    found = visible
    if raw["scenario"]:
        found = found.where(Attempt.pack_id == wanted[0], Attempt.scenario_id == wanted[1])
    if raw["example"]:
        found = found.where(TeachingCase.example == raw["example"])
    if raw["tag"]:
        found = found.where(
            col(TeachingCase.id).in_(
                select(TeachingCaseTag.case_id).where(TeachingCaseTag.tag == raw["tag"])
            )
        )
    request = read_page(page)
    shown: Page[CaseRow]
    if errors:
        shown = Page([], 1, 1, 0)
    elif not raw["tag"] and not raw["q"]:
        listed = paginate(session, found, request)
        shown = Page(
            case_rows(session, listed.items),
            listed.number,
            listed.pages,
            listed.total,
            listed.problem,
        )
    else:
        rows = case_rows(session, session.exec(found).all())
        masks.load([r.attempt.id for r in rows])
        if raw["tag"]:
            # Only tags shown as they are can be searched: a tag with a name masked finds
            # nothing.
            rows = [r for r in rows if (raw["tag"], True) in shown_tags(r.tags, masks.of(r))]
        if raw["q"]:
            rows = text_matches(session, rows, raw["q"], titles, masks.of)
        shown = paginate_list(rows, request)
    masks.load([r.attempt.id for r in shown.items])
    tag_rows = {row.case.id: shown_tags(row.tags, masks.of(row)) for row in shown.items}
    notes = {row.case.id: masks.of(row)(row.case.note) for row in shown.items}
    counts = linkable_tag_counts(session, visible, masks)
    links = shown.links("/cases", raw)
    context = viewer.context(
        raw=raw,
        errors={key: viewer.t(value) for key, value in errors.items()},
        cases=shown.items,
        notes=notes,
        case_tags=tag_rows,
        total=shown.total,
        titles=titles,
        tags=sorted(counts.items()),
        scenario_choices=in_library,
        examples=EXAMPLES,
        page=shown.number,
        pages=shown.pages,
        previous=links["previous"],
        next=links["next"],
        page_problem=viewer.t(shown.problem, pages=shown.pages) if shown.problem else None,
    )
    return render("cases.html", context, status_code=400 if errors else 200)


def text_matches(
    session: Session,
    rows: list[CaseRow],
    query: str,
    titles: dict[tuple[str, str], str],
    masked: Callable[[CaseRow], Callable[[str], str]],
) -> list[CaseRow]:
    """The cases whose text as shown (names masked) holds `query`: a name finds nothing."""
    needle = query.casefold()
    texts = transcripts(session, [r.attempt.id for r in rows if r.attempt.id is not None])
    kept = []
    for row in rows:
        mask = masked(row)
        title = titles.get((row.attempt.pack_id, row.attempt.scenario_id), "")
        haystack = "\n".join(
            [title, row.attempt.scenario_id, mask(row.case.note)]
            + [mask(tag) for tag in row.tags]
            + [mask(text) for text in texts.get(row.attempt.id or 0, [])]
        )
        if needle in haystack.casefold():
            kept.append(row)
    return kept


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

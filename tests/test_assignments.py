"""Assignments: a mentor gives scenarios to trainees or a cohort with a due date, the
trainee sees them first on the catalogue, and the mentor sees completion."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from review_support import GOOD, PACK, SCENARIO, graded_attempt
from sqlmodel import Session, select
from web_support import csrf_token

from sandbox.storage.assignments import Assignment
from sandbox.storage.audit import AuditEvent
from sandbox.storage.exams import CohortMember
from sandbox.storage.models import User

Browsers = Callable[[str], TestClient]
ACTIVITY = f"{PACK}/{SCENARIO}"


def assign(client: TestClient, **data: object) -> object:
    token = csrf_token(client.get("/mentor/assignments").text)
    return client.post(
        "/mentor/assignments",
        data={"csrf_token": token, "activity": ACTIVITY, **data},
        follow_redirects=False,
    )


def assignments(app: FastAPI) -> list[tuple[str, Assignment]]:
    with Session(app.state.sandbox.engine) as session:
        rows = session.exec(
            select(User.name, Assignment).join(User, User.id == Assignment.user_id)  # type: ignore[arg-type]
        ).all()
        return sorted(((name, a) for name, a in rows), key=lambda row: row[0])


def test_a_mentor_assigns_and_sees_completion(
    app: FastAPI, browsers: Browsers, people: dict[str, User]
) -> None:
    mentor = browsers("mo")
    due = (datetime.now(UTC).date() + timedelta(days=7)).isoformat()
    response = assign(mentor, trainees=[people["tao"].id, people["mei"].id], due_on=due)
    assert response.status_code == 303
    made = assignments(app)
    assert [name for name, _ in made] == ["mei", "tao"]
    assert made[0][1].due_on == date.fromisoformat(due)
    page = mentor.get("/mentor/assignments").text
    assert page.count("To do") == 2

    # The trainee sees it first, above the catalogue, with its due date.
    catalogue = browsers("tao").get("/").text
    assert 'id="assigned-list"' in catalogue and f"due {due}" in catalogue
    assert catalogue.index('id="assigned"') < catalogue.index('id="catalogue-filters"')

    graded_attempt(app, "tao", GOOD)
    page = mentor.get("/mentor/assignments").text
    assert "Done, passed" in page and page.count("To do") == 1
    catalogue = browsers("tao").get("/").text
    assert 'id="assigned-list"' not in catalogue and "1 assignment done" in catalogue
    # Assigning again gives the done trainee a new one, and leaves the open one alone.
    assert assign(mentor, trainees=[people["tao"].id, people["mei"].id]).status_code == 303
    assert [name for name, _ in assignments(app)] == ["mei", "tao", "tao"]
    events = []
    with Session(app.state.sandbox.engine) as session:
        events = list(
            session.exec(select(AuditEvent).where(AuditEvent.action == "assignment.create"))
        )
    assert len(events) == 3 and events[0].actor_id == people["mo"].id


def test_a_mentor_assigns_only_to_their_own_trainees(
    app: FastAPI, browsers: Browsers, people: dict[str, User]
) -> None:
    mentor = browsers("mo")
    response = assign(mentor, trainees=[people["kim"].id])
    assert response.status_code == 400 and "only to your own trainees" in response.text
    with Session(app.state.sandbox.engine) as session:
        for name in ("tao", "kim"):
            session.add(CohortMember(cohort="Spring", user_id=people[name].id))
        session.commit()
    assert assign(mentor, cohort="Spring").status_code == 303
    assert [name for name, _ in assignments(app)] == ["tao"]
    # An admin assigns to the whole cohort.
    assert assign(browsers("boss"), cohort="Spring").status_code == 303
    assert [name for name, _ in assignments(app)] == ["kim", "tao"]


def test_bad_input_names_the_field(browsers: Browsers, people: dict[str, User]) -> None:
    mentor = browsers("mo")
    response = assign(mentor, trainees=[people["tao"].id], activity="nope/none")
    assert response.status_code == 400 and 'id="error-activity"' in response.text
    response = assign(mentor, trainees=[people["tao"].id], due_on="2020-01-01")
    assert response.status_code == 400 and "already passed" in response.text
    response = assign(mentor, trainees=[people["tao"].id], due_on="soon")
    assert response.status_code == 400 and "YYYY-MM-DD" in response.text
    response = assign(mentor)
    assert response.status_code == 400 and "at least one trainee" in response.text
    assert browsers("tao").get("/mentor/assignments").status_code == 403


def test_withdraw_and_overdue(app: FastAPI, browsers: Browsers, people: dict[str, User]) -> None:
    mentor = browsers("mo")
    tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    assert assign(mentor, trainees=[people["tao"].id], due_on=tomorrow).status_code == 303
    with Session(app.state.sandbox.engine) as session:
        assignment = session.exec(select(Assignment)).one()
        assignment.due_on = date(2020, 1, 1)
        session.add(assignment)
        session.commit()
        assignment_id = assignment.id
    assert "Overdue" in mentor.get("/mentor/assignments").text
    assert "Overdue" in browsers("tao").get("/").text
    # The mentor's work queue names the overdue activity by its title, not its reference.
    work = mentor.get("/work").text
    overdue = work[work.index('id="work-overdue"') :]
    overdue = overdue[: overdue.index("</ul>")]
    assert assignment.activity_ref not in overdue
    other = browsers("boss")
    token = csrf_token(mentor.get("/mentor/assignments").text)
    response = mentor.post(
        f"/mentor/assignments/{assignment_id}/withdraw",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303 and assignments(app) == []
    assert other.get("/mentor/assignments").status_code == 200

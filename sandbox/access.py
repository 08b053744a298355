"""Who may see and do what: pure functions of the users (and attempt owners) involved.

Routes (through the dependencies in `web/deps.py`), sockets and page templates all ask
these; none of them compares roles itself. Each function reads only its arguments: no
database, no request, no clock.

The rules, in one place:

- an attempt's owner reads its feedback; an admin reads and reviews every attempt; a
  mentor reads and reviews the attempts of their own trainees (`User.mentor_id`), and no
  one else's: one rule, `can_review`, that `can_read_feedback` widens to the owner;
- the mentor area (lists, regrade, the review of one's trainees) is for mentors and admins;
- exams are run and monitored by proctors and admins;
- an appeal is resolved by a proctor, an admin or the appealing trainee's mentor; the list
  of appeals is open to those who may resolve some;
- only the owner holds a conversation (the chat socket);
- a practice transcript opened to a cohort for peer review is read and rated by the
  trainees of that cohort other than its author; whoever may review the author's attempts
  opens it to one of the author's cohorts and reads the ratings.
- staff (mentors, proctors, admins) list the background jobs they started; a job (its
  progress, result, download, cancelling) is its starter's and every admin's.
"""

from __future__ import annotations

from sandbox.storage.models import Role, User

#: Who runs exams: create and edit them, enter written scores, release results, monitor.
EXAM_STAFF: frozenset[Role] = frozenset({Role.PROCTOR, Role.ADMIN})
#: Who enters the mentor area.
MENTOR_AREA: frozenset[Role] = frozenset({Role.MENTOR, Role.ADMIN})
#: Who may resolve some appeal (exam staff any, a mentor their own trainees').
APPEAL_JUDGES: frozenset[Role] = EXAM_STAFF | {Role.MENTOR}
#: Everyone but trainees.
STAFF: frozenset[Role] = EXAM_STAFF | MENTOR_AREA


def _role(user: User) -> Role:
    return Role(user.role)


def sees_every_trainee(user: User) -> bool:
    """Admins review every trainee; everyone else at most their own."""
    return _role(user) == Role.ADMIN


def is_mentor_of(user: User, owner: User) -> bool:
    """`user` is a mentor and `owner` is one of their trainees."""
    return _role(user) == Role.MENTOR and user.id is not None and owner.mentor_id == user.id


def can_enter_mentor_area(user: User) -> bool:
    """The attempt lists, the review pages and the regrade (the rows themselves are then
    limited by `can_review`)."""
    return _role(user) in MENTOR_AREA


def can_review(reviewer: User, owner: User) -> bool:
    """Review an attempt of `owner`: its transcript with the rubric, comments, overrides,
    case marking, regrade. Admins review every attempt; a mentor those of their own
    trainees; nobody reviews their own."""
    return sees_every_trainee(reviewer) or is_mentor_of(reviewer, owner)


def can_read_feedback(viewer: User, owner: User) -> bool:
    """Read the feedback of an attempt of `owner`: the owner, and whoever may review it."""
    return (viewer.id is not None and viewer.id == owner.id) or can_review(viewer, owner)


def can_converse(user: User, owner_id: int) -> bool:
    """Hold the conversation of an attempt (the chat socket): its owner only."""
    return user.id is not None and user.id == owner_id


def can_peer_review(user: User, author_id: int, in_cohort: bool) -> bool:
    """Open and rate a transcript shared for peer review: a trainee of the share's cohort
    (`in_cohort`) who is not its author."""
    return (
        _role(user) == Role.TRAINEE and user.id is not None and user.id != author_id and in_cohort
    )


def can_share_for_peer_review(user: User, author: User) -> bool:
    """Open an attempt of `author` to their cohort's peers: whoever may review it."""
    return can_review(user, author)


def can_run_exams(user: User) -> bool:
    """Create and edit exams, enter written scores, release results, read reports."""
    return _role(user) in EXAM_STAFF


def can_monitor(user: User) -> bool:
    """Watch an exam's candidates live (the monitor page and its socket)."""
    return can_run_exams(user)


def can_judge_appeals(user: User) -> bool:
    """Open the appeals area: those who may resolve some appeal."""
    return _role(user) in APPEAL_JUDGES


def can_resolve_appeal(user: User, trainee: User | None) -> bool:
    """Resolve (or read) an appeal of `trainee`: exam staff any, a mentor their own
    trainees'."""
    if can_run_exams(user):
        return True
    return trainee is not None and is_mentor_of(user, trainee)


def can_see_rubric(user: User) -> bool:
    """Read criteria descriptions in the case library: staff, never a trainee."""
    return _role(user) != Role.TRAINEE


def can_see_pack_errors(user: User) -> bool:
    """See which packs failed to load (the catalogue shows them to admins)."""
    return _role(user) == Role.ADMIN


def can_administer(user: User) -> bool:
    """The admin area: users, mentors, cohorts, packs."""
    return _role(user) == Role.ADMIN


def can_list_jobs(user: User) -> bool:
    """The list of background jobs: staff see the jobs they started (admins everyone's)."""
    return _role(user) in STAFF


def can_see_job(user: User, started_by: int | None) -> bool:
    """A background job's page, result and cancel button: its starter and admins."""
    return _role(user) == Role.ADMIN or (user.id is not None and user.id == started_by)


def landing_page(user: User) -> str:
    """Where `user` lands after signing in when no page was asked for: trainees on the
    catalogue (their assignments on top), staff on their work queue."""
    return "/" if _role(user) == Role.TRAINEE else "/work"

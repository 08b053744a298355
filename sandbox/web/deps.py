"""Typed dependencies: the app state, a database session, who is asking and what they may
open (`sandbox/access.py`), CSRF checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlmodel import Session
from starlette.requests import HTTPConnection

from sandbox import access
from sandbox.storage.models import LoginSession, User
from sandbox.web.i18n import LOCALES, Translator, negotiate, normalise_locale, translator
from sandbox.web.security import CSRF_FIELD, LANG_COOKIE, SESSION_COOKIE, resolve_session
from sandbox.web.state import AppState


class LoginRequired(Exception):
    """The page needs a signed-in user; the app answers with a redirect to the login page."""


class CsrfFailed(Exception):
    """A state-changing form came without a valid CSRF token."""


class Forbidden(Exception):
    """The signed-in user may not see or change this."""


def get_state(connection: HTTPConnection) -> AppState:
    state: AppState = connection.app.state.sandbox
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_db(state: StateDep) -> Iterator[Session]:
    with Session(state.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_db)]


@dataclass
class Viewer:
    """Who is asking, in which language, and the CSRF token for their forms."""

    state: AppState
    user: User | None
    login: LoginSession | None
    locale: str
    binding: str
    path: str
    t: Translator = field(repr=False)

    @property
    def csrf_token(self) -> str:
        return self.state.signer.csrf_token(self.binding)

    def context(self, **extra: Any) -> dict[str, Any]:
        """The variables every page template gets, plus `extra`."""
        return {
            "t": self.t,
            "locale": self.locale,
            "locales": LOCALES,
            "user": self.user,
            "csrf_field": CSRF_FIELD,
            "csrf_token": self.csrf_token,
            "is_admin": self.user is not None and access.sees_every_trainee(self.user),
            "access": access,
            "path": self.path,
            **extra,
        }


def viewer_for(connection: HTTPConnection, state: AppState, session: Session) -> Viewer:
    """Resolve the session cookie and the interface language of a request or socket."""
    session_id = state.signer.unsign_session(connection.cookies.get(SESSION_COOKIE))
    resolved = resolve_session(session=session, session_id=session_id)
    login, user = resolved if resolved else (None, None)
    locale = (
        (user.locale if user else None)
        or normalise_locale(connection.cookies.get(LANG_COOKIE))
        or negotiate(connection.headers.get("accept-language"))
    )
    if locale not in LOCALES:
        locale = negotiate(None)
    binding = login.id if login else str(getattr(connection.state, "anon_id", ""))
    path = connection.url.path + (f"?{connection.url.query}" if connection.url.query else "")
    return Viewer(state, user, login, locale, binding, path, translator(locale))


def get_viewer(request: Request, state: StateDep, session: SessionDep) -> Viewer:
    return viewer_for(request, state, session)


ViewerDep = Annotated[Viewer, Depends(get_viewer)]


def require_user(viewer: ViewerDep) -> User:
    if viewer.user is None:
        raise LoginRequired()
    return viewer.user


CurrentUser = Annotated[User, Depends(require_user)]


def require_mentor(user: CurrentUser) -> User:
    """Mentors and admins only (`access.can_enter_mentor_area`); anyone else signed in gets
    403."""
    if not access.can_enter_mentor_area(user):
        raise Forbidden()
    return user


MentorUser = Annotated[User, Depends(require_mentor)]


def require_proctor(user: CurrentUser) -> User:
    """Proctors and admins run exams (`access.can_run_exams`)."""
    if not access.can_run_exams(user):
        raise Forbidden()
    return user


ProctorUser = Annotated[User, Depends(require_proctor)]


def require_appeal_judge(user: CurrentUser) -> User:
    """Those who may resolve some appeal (`access.can_judge_appeals`)."""
    if not access.can_judge_appeals(user):
        raise Forbidden()
    return user


AppealJudge = Annotated[User, Depends(require_appeal_judge)]


def require_staff(user: CurrentUser) -> User:
    """Mentors, proctors and admins (`access.can_list_jobs`): the background jobs' pages."""
    if not access.can_list_jobs(user):
        raise Forbidden()
    return user


StaffUser = Annotated[User, Depends(require_staff)]


def require_admin(user: CurrentUser) -> User:
    """The admin area (`access.can_administer`)."""
    if not access.can_administer(user):
        raise Forbidden()
    return user


AdminUser = Annotated[User, Depends(require_admin)]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def check_csrf(request: Request, viewer: ViewerDep) -> None:
    """Refuse a form whose token does not belong to this browser's session.

    Reading changes nothing, so a GET needs no token: the check can then guard a whole
    router (`gate`) and still answer a form without a token before the role is asked.
    """
    if request.method in SAFE_METHODS:
        return
    form = await request.form()
    token = form.get(CSRF_FIELD)
    if not viewer.state.signer.csrf_valid(
        token if isinstance(token, str) else None, viewer.binding
    ):
        raise CsrfFailed()


CsrfChecked = Depends(check_csrf)


def gate(role_check: Callable[..., User]) -> list[Any]:
    """A router's dependencies: the CSRF check of its forms first (a form without a valid
    token is refused as such, whoever sends it), then who may enter the area at all."""
    return [CsrfChecked, Depends(role_check)]

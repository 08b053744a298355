"""Signing in and out, and the interface language."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from sandbox import access
from sandbox.storage.audit import record
from sandbox.storage.users import authenticate, get_user_by_name
from sandbox.web.deps import CsrfChecked, SessionDep, StateDep, ViewerDep
from sandbox.web.i18n import normalise_locale
from sandbox.web.security import (
    LANG_COOKIE,
    SESSION_COOKIE,
    client_address,
    close_session,
    cookies_secure,
    open_session,
)
from sandbox.web.templating import render

router = APIRouter(tags=["auth"])


def safe_next(target: str | None) -> str:
    """A same-site path to go to after login; anything else goes home."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/login")
def read_login(
    viewer: ViewerDep, state: StateDep, next: str = "/", logged_out: bool = False
) -> Response:
    """The login form."""
    context = viewer.context(
        next=safe_next(next),
        name="",
        error=None,
        notice=viewer.t("login.logged_out") if logged_out else None,
        demo_logins=state.demo_logins,
    )
    return render("login.html", context)


@router.post("/login", dependencies=[CsrfChecked])
def create_session(
    request: Request,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the password and start a login session."""
    name = name.strip()

    def form_again(error: str, status_code: int, headers: dict[str, str] | None = None) -> Response:
        context = viewer.context(
            next=safe_next(next),
            name=name,
            error=error,
            notice=None,
            demo_logins=state.demo_logins,
        )
        return render("login.html", context, status_code=status_code, headers=headers)

    if not (name and password):
        return form_again(viewer.t("login.required"), 400)
    address = client_address(request)
    limits = state.login_limits
    known = get_user_by_name(session=session, name=name)
    # Counted before the password is checked, so simultaneous guesses cannot slip past the
    # count; refused while this account (at this address) or this address must wait.
    counted = limits.begin(
        state.engine, name=name, user_id=known.id if known else None, address=address
    )
    if isinstance(counted, int):
        minutes = max(1, -(-counted // 60))
        return form_again(
            viewer.t("login.too_many", minutes=minutes), 429, {"Retry-After": str(counted)}
        )
    user = authenticate(session=session, name=name, password=password)
    if user is None:
        # A name that is no account's may be a password typed into the wrong box: only
        # its keyed hash is kept. Known names are recorded as they are.
        who = {"name": known.name} if known else {"name_hash": limits.name_hash(name)}
        record(
            session,
            actor_id=None,
            action="login.failed",
            subject_type="user",
            subject_id=known.id if known else None,
            new={**who, "address": address},
        )
        session.commit()
        return form_again(viewer.t("login.failed"), 400)
    limits.succeeded(state.engine, counted)
    if viewer.login is not None:
        close_session(session=session, session_id=viewer.login.id)
    login = open_session(session=session, user=user, max_age_s=state.settings.session_max_age_s)
    record(
        session,
        actor_id=user.id,
        action="login",
        subject_type="user",
        subject_id=user.id,
        new={"address": address},
    )
    session.commit()
    if viewer.login is not None:
        state.live_sessions.forget(viewer.login.id)
    target = safe_next(next)
    response = RedirectResponse(
        access.landing_page(user) if target == "/" else target, status_code=303
    )
    response.set_cookie(
        SESSION_COOKIE,
        state.signer.sign_session(login.id),
        max_age=state.settings.session_max_age_s,
        httponly=True,
        samesite="lax",
        secure=cookies_secure(request, state.settings.env),
    )
    return response


@router.post("/logout", dependencies=[CsrfChecked])
def delete_session(
    request: Request, viewer: ViewerDep, state: StateDep, session: SessionDep
) -> Response:
    """End the login session server-side and forget the cookie."""
    if viewer.login is not None:
        close_session(session=session, session_id=viewer.login.id)
        record(
            session,
            actor_id=viewer.login.user_id,
            action="logout",
            subject_type="user",
            subject_id=viewer.login.user_id,
            new={"address": client_address(request)},
        )
        session.commit()
        # This process's open sockets of the session close at their next check.
        state.live_sessions.forget(viewer.login.id)
    response = RedirectResponse("/login?logged_out=1", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE,
        httponly=True,
        samesite="lax",
        secure=cookies_secure(request, state.settings.env),
    )
    return response


@router.post("/language", dependencies=[CsrfChecked])
def update_language(
    request: Request,
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    locale: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Switch the interface language: kept on the user, or in a cookie before login."""
    chosen = normalise_locale(locale)
    response = RedirectResponse(safe_next(next), status_code=303)
    if chosen is None:
        return response
    if viewer.user is not None:
        viewer.user.locale = chosen
        session.add(viewer.user)
        session.commit()
    response.set_cookie(
        LANG_COOKIE,
        chosen,
        max_age=365 * 24 * 3600,
        httponly=True,
        samesite="lax",
        secure=cookies_secure(request, state.settings.env),
    )
    return response

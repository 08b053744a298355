"""Signing in and out, and the interface language."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Response
from fastapi.responses import RedirectResponse

from sandbox.storage.users import authenticate
from sandbox.web.deps import CsrfChecked, SessionDep, StateDep, ViewerDep
from sandbox.web.i18n import normalise_locale
from sandbox.web.security import LANG_COOKIE, SESSION_COOKIE, close_session, open_session
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
    viewer: ViewerDep,
    state: StateDep,
    session: SessionDep,
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the password and start a login session."""
    name = name.strip()
    user = (
        authenticate(session=session, name=name, password=password) if name and password else None
    )
    if user is None:
        error_key = "login.failed" if name and password else "login.required"
        context = viewer.context(
            next=safe_next(next),
            name=name,
            error=viewer.t(error_key),
            notice=None,
            demo_logins=state.demo_logins,
        )
        return render("login.html", context, status_code=400)
    if viewer.login is not None:
        close_session(session=session, session_id=viewer.login.id)
    login = open_session(session=session, user=user, max_age_s=state.settings.session_max_age_s)
    session.commit()
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        state.signer.sign_session(login.id),
        max_age=state.settings.session_max_age_s,
        httponly=True,
        samesite="lax",
        secure=state.settings.env == "production",
    )
    return response


@router.post("/logout", dependencies=[CsrfChecked])
def delete_session(viewer: ViewerDep, session: SessionDep) -> Response:
    """End the login session server-side and forget the cookie."""
    if viewer.login is not None:
        close_session(session=session, session_id=viewer.login.id)
        session.commit()
    response = RedirectResponse("/login?logged_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax")
    return response


@router.post("/language", dependencies=[CsrfChecked])
def update_language(
    viewer: ViewerDep,
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
    response.set_cookie(LANG_COOKIE, chosen, max_age=365 * 24 * 3600, samesite="lax")
    return response

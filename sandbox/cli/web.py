"""Commands of the web product: `serve`, `users add`, `users import`, `role`, `mentor`,
`unlock`."""

from __future__ import annotations

import getpass
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sandbox.cli.output import counted

if TYPE_CHECKING:
    from sqlmodel import Session

    from sandbox.config import Settings

# The web stack (SQLModel, Alembic, FastAPI) is imported inside the commands that need it:
# `sandbox test` and the other pack commands start in a fraction of the time.

WORKER_HEALTHCHECK_S = 60
MAX_USERS_CSV_BYTES = 5 * 1024 * 1024  # `sandbox users import`: the largest file it reads

users_app = typer.Typer(help="Manage who can sign in.", no_args_is_help=True, rich_markup_mode=None)


def load_settings() -> Settings:
    """Settings from SANDBOX_* variables, or a clear message naming what is wrong."""
    from pydantic import ValidationError

    from sandbox.config import Settings

    try:
        return Settings()
    except ValidationError as exc:
        messages = "; ".join(
            str(error["msg"]).removeprefix("Value error, ") for error in exc.errors()
        )
        typer.echo(f"configuration error: {messages}", err=True)
        raise typer.Exit(2) from None


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (SANDBOX_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (SANDBOX_PORT).")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, max=64, help="Worker processes (SANDBOX_WORKERS).")
    ] = None,
) -> None:
    """Run the web app: migrate the database, load packs, serve pages and chat sockets."""
    import uvicorn

    from sandbox.config import ConfigError
    from sandbox.web.app import create_app
    from sandbox.web.heap import settle_heap

    settings = load_settings()
    if host is not None:
        settings.host = host
    if port is not None:
        settings.port = port
    if workers is not None:
        settings.workers = workers
    if settings.workers > 1 and settings.is_sqlite:
        typer.echo(
            "configuration error: several workers need PostgreSQL (SANDBOX_DATABASE_URL): "
            "SQLite serialises writers and cannot carry events between processes",
            err=True,
        )
        raise typer.Exit(2)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        app = create_app(settings)
    except ConfigError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from None
    state = app.state.sandbox
    shown_host = "localhost" if settings.host in ("127.0.0.1", "0.0.0.0", "::") else settings.host
    typer.echo(f"Sandbox on http://{shown_host}:{settings.port}/")
    packs = state.library.packs
    scenarios = sum(len(pack.scenarios) for pack in packs.values())
    typer.echo(f"{counted(len(packs), 'pack')}, {counted(scenarios, 'scenario')} loaded")
    for problem in state.library.errors:
        typer.echo(f"pack skipped: {problem}", err=True)
    if state.demo_logins:
        typer.echo("Demo logins (embedded database only):")
        for login in state.demo_logins:
            typer.echo(f"  {login.role:8} {login.name} / {login.password}")
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": "info",
        "ws_per_message_deflate": settings.ws_compression,
        # X-Forwarded-For/-Proto are believed only from these proxies (docs/deploy.md).
        "proxy_headers": True,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
    }
    if settings.workers == 1:
        settle_heap()
        uvicorn.run(app, **options)
        return
    # Each worker builds its own app from the same SANDBOX_* environment; the schema is
    # already at head and the packs were checked above, so their starts are quick.
    typer.echo(counted(settings.workers, "worker"))
    state.engine.dispose()
    del app, state
    # uvicorn kills a worker that does not answer its supervisor's ping in time (5 s by
    # default); loading the packs (jieba's dictionary for Chinese) can hold a worker's
    # interpreter longer than that on a busy machine, and it was restarted again and again.
    uvicorn.run(
        "sandbox.web.app:create_served_app",
        factory=True,
        workers=settings.workers,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
        **options,
    )


def console_actor() -> str:
    """Who runs this command, for the audit log: "os:" and the effective user's login name.

    The name comes from the user database by the process's effective uid, not from $USER
    or $LOGNAME, which anyone can set. Run as root through sudo, the account sudo names
    (SUDO_USER) is added: "os:root (sudo from NAME)"; only root could have forged it.
    """
    try:
        import pwd

        name = pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError, AttributeError):  # no pwd module or no entry for the uid
        pass
    else:
        sudo_user = os.environ.get("SUDO_USER", "").strip()
        if os.geteuid() == 0 and sudo_user and sudo_user != name:
            return f"os:{name} (sudo from {sudo_user[:64]})"
        return f"os:{name}"
    try:
        return f"os:{getpass.getuser()}"
    except Exception:  # getpass raises OSError or KeyError when it finds no name
        return "os:unknown"


def _session(settings: Settings) -> Session:
    from sqlmodel import Session

    from sandbox.storage.database import make_engine, upgrade

    engine = make_engine(settings.database_url)
    upgrade(engine)
    return Session(engine)


@users_app.command("add")
def add_user(
    name: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option(help="trainee, mentor, proctor or admin.")] = "trainee",
    mentor: Annotated[str | None, typer.Option(help="Login name of the user's mentor.")] = None,
    locale: Annotated[str | None, typer.Option(help="Interface language: en or zh-CN.")] = None,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Read the password from the first line of standard input (for scripts).",
        ),
    ] = False,
) -> None:
    """Add a user; the password is asked for twice and never echoed (or read from stdin)."""
    from sandbox.storage.users import UserError, create_user, get_user_by_name, parse_role

    settings = load_settings()
    try:
        chosen_role = parse_role(role)
    except UserError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            typer.echo("error: --password-stdin: standard input gave no password", err=True)
            raise typer.Exit(2)
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with _session(settings) as session:
        mentor_user = None
        if mentor is not None:
            mentor_user = get_user_by_name(session=session, name=mentor)
            if mentor_user is None:
                typer.echo(f"error: mentor: no user called {mentor!r}", err=True)
                raise typer.Exit(2)
        try:
            create_user(
                session=session,
                name=name,
                role=chosen_role,
                password=password,
                mentor=mentor_user,
                locale=locale,
            )
        except UserError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        session.commit()
    typer.echo(f"added {chosen_role.value} {name}")


@users_app.command("import")
def import_users_file(
    file: Annotated[Path, typer.Argument(help="CSV with columns name,role,password[,mentor].")],
) -> None:
    """Add every user of a CSV file (at most 5 MiB); the mentors follow the rules of `users
    mentor` and are audited. If any row is bad, report each as FILE:LINE and add none."""
    from sandbox.csvfiles import CsvEncodingError, decode_csv
    from sandbox.scenarios.files import FileTooLarge, read_at_most
    from sandbox.storage.admin import set_mentor
    from sandbox.storage.users import import_users

    settings = load_settings()
    if file.is_dir():
        typer.echo(f"error: cannot read {file}: a folder, not a CSV file", err=True)
        raise typer.Exit(2)
    try:
        text = decode_csv(read_at_most(file, MAX_USERS_CSV_BYTES))
    except FileTooLarge as exc:
        typer.echo(f"error: {file}: {exc.message('a user CSV file')}", err=True)
        raise typer.Exit(2) from None
    except OSError as exc:
        typer.echo(f"error: cannot read {file}: {exc.strerror}", err=True)
        raise typer.Exit(2) from None
    except CsvEncodingError as exc:
        typer.echo(f"error: cannot read {file}: {exc}", err=True)
        raise typer.Exit(2) from None
    actor = console_actor()
    with _session(settings) as session:
        report = import_users(
            session=session,
            text=text,
            set_mentor=lambda user, mentor: set_mentor(
                session, user=user, mentor=mentor, actor_id=None, actor=actor
            ),
        )
        if report.problems:
            for line, problem in report.problems:
                typer.echo(f"{file}:{line}: {problem}", err=True)
            session.rollback()
            typer.echo(f"nothing imported: {counted(len(report.problems), 'problem')}", err=True)
            raise typer.Exit(2)
        session.commit()
    typer.echo(f"imported {counted(len(report.created), 'user')}")


@users_app.command("role")
def change_user_role(
    name: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Argument(help="trainee, mentor, proctor or admin.")],
    reason: Annotated[str | None, typer.Option(help="Why, kept in the audit log.")] = None,
) -> None:
    """Give a user another role; the change is kept in the audit log (user.role)."""
    from sandbox.storage.users import UserError, change_role, get_user_by_name, parse_role

    settings = load_settings()
    try:
        chosen_role = parse_role(role)
    except UserError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    with _session(settings) as session:
        user = get_user_by_name(session=session, name=name)
        if user is None:
            typer.echo(f"error: name: no user called {name!r}", err=True)
            raise typer.Exit(2)
        # The console has no signed-in actor: the event names the operating-system account.
        if not change_role(
            session=session,
            user=user,
            role=chosen_role,
            actor_id=None,
            reason=reason,
            actor=console_actor(),
        ):
            typer.echo(f"{name} is already {chosen_role.value}")
            return
        session.commit()
    typer.echo(f"{name} is now {chosen_role.value}")


@users_app.command("mentor")
def change_user_mentor(
    name: Annotated[str, typer.Argument(help="Login name of the trainee.")],
    mentor: Annotated[
        str, typer.Argument(help="Login name of their mentor (a mentor), or 'none'.")
    ],
) -> None:
    """Assign or change a trainee's mentor; audited (user.mentor)."""
    from sandbox.storage.admin import set_mentor
    from sandbox.storage.users import UserError, get_user_by_name

    settings = load_settings()
    with _session(settings) as session:
        user = get_user_by_name(session=session, name=name)
        if user is None:
            typer.echo(f"error: name: no user called {name!r}", err=True)
            raise typer.Exit(2)
        mentor_user = None
        if mentor.lower() != "none":
            mentor_user = get_user_by_name(session=session, name=mentor)
            if mentor_user is None:
                typer.echo(f"error: mentor: no user called {mentor!r}", err=True)
                raise typer.Exit(2)
        try:
            changed = set_mentor(
                session, user=user, mentor=mentor_user, actor_id=None, actor=console_actor()
            )
        except UserError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        session.commit()
    if not changed:
        typer.echo(f"{name} already has {'no mentor' if mentor_user is None else mentor}")
    elif mentor_user is None:
        typer.echo(f"{name} now has no mentor")
    else:
        typer.echo(f"{name}'s mentor is now {mentor}")


@users_app.command("unlock")
def unlock_user(
    name: Annotated[str, typer.Argument(help="Login name.")],
    address: Annotated[
        str | None,
        typer.Option(help="Also clear this client address's count across all names."),
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why, kept in the audit log.")] = None,
) -> None:
    """Clear a user's failed logins at every address, so no wait is left; audited (login.unlock)."""
    from sandbox.storage.audit import record
    from sandbox.storage.throttle import unlock
    from sandbox.storage.users import get_user_by_name

    settings = load_settings()
    if address is not None and not address.strip():
        typer.echo("error: --address: give a client address, e.g. 203.0.113.7", err=True)
        raise typer.Exit(2)
    with _session(settings) as session:
        user = get_user_by_name(session=session, name=name)
        if user is None or user.id is None:
            typer.echo(f"error: name: no user called {name!r}", err=True)
            raise typer.Exit(2)
        cleared = unlock(session, user_id=user.id, address=address.strip() if address else None)
        record(
            session,
            actor_id=None,
            action="login.unlock",
            subject_type="user",
            subject_id=user.id,
            new={"cleared": cleared, "actor": console_actor()}
            | ({"address": address.strip()} if address else {}),
            reason=reason,
        )
        session.commit()
    if cleared:
        typer.echo(f"{name} unlocked: {cleared} failed-login counts cleared")
    else:
        typer.echo(f"{name} had no failed logins to clear")


def register(app: typer.Typer) -> None:
    """Add the web commands to the `sandbox` app."""
    app.command("serve")(serve)
    app.add_typer(users_app, name="users")

"""Demo logins for the embedded quick start (SQLite, not production); never in production."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, func, select

from sandbox.private import write_private_text
from sandbox.storage.models import Role, User
from sandbox.storage.users import create_user, get_user_by_name

DEMO_FILE_NAME = "demo-logins.json"
DEMO_USERS = (("demo", Role.TRAINEE), ("admin", Role.ADMIN))


@dataclass(frozen=True)
class DemoLogin:
    name: str
    role: str
    password: str


def ensure_demo_users(*, engine: Engine, var_dir: Path) -> list[DemoLogin]:
    """On an empty database create a demo trainee and an admin; return the logins still valid."""
    path = var_dir / DEMO_FILE_NAME
    with Session(engine) as session:
        user_count = session.exec(select(func.count()).select_from(User)).one()
        if user_count == 0:
            logins = [
                DemoLogin(name, role.value, secrets.token_urlsafe(9)) for name, role in DEMO_USERS
            ]
            for login in logins:
                create_user(
                    session=session, name=login.name, role=Role(login.role), password=login.password
                )
            session.commit()
            write_private_text(path, json.dumps([login.__dict__ for login in logins]))
            return logins
        if not path.exists():
            return []
        try:
            stored = [DemoLogin(**item) for item in json.loads(path.read_text(encoding="utf-8"))]
        except (ValueError, TypeError):
            return []
        # Only show logins whose user still exists (an admin may have removed them).
        return [login for login in stored if get_user_by_name(session=session, name=login.name)]

"""Data functions for users: create, find, authenticate, import from CSV."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlmodel import Session, select

from sandbox.csvfiles import CsvRowError, read_csv_rows
from sandbox.passwords import hash_password, password_problem, verify_password
from sandbox.storage.audit import record
from sandbox.storage.models import Role, User

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
CSV_COLUMNS = ("name", "role", "password")


class UserError(ValueError):
    """A user cannot be created as asked; `field` names the offending input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a login name, or None."""
    if not NAME_PATTERN.match(name):
        return "use 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
    return None


def parse_role(value: str) -> Role:
    """The role named by `value`, or UserError listing the valid ones."""
    try:
        return Role(value.strip().lower())
    except ValueError:
        choices = ", ".join(role.value for role in Role)
        raise UserError("role", f"unknown role {value!r} (choose {choices})") from None


def get_user_by_name(*, session: Session, name: str) -> User | None:
    """The user called `name`, or None."""
    return session.exec(select(User).where(User.name == name)).first()


def create_user(
    *,
    session: Session,
    name: str,
    role: Role,
    password: str,
    mentor: User | None = None,
    locale: str | None = None,
) -> User:
    """Add a user (not yet committed); raises UserError for a bad name, password or duplicate."""
    if problem := name_problem(name):
        raise UserError("name", problem)
    if problem := password_problem(password):
        raise UserError("password", problem)
    if get_user_by_name(session=session, name=name) is not None:
        raise UserError("name", f"a user called {name!r} already exists")
    user = User(
        name=name,
        role=role,
        password_hash=hash_password(password),
        mentor_id=mentor.id if mentor else None,
        locale=locale,
    )
    session.add(user)
    session.flush()
    return user


def change_role(
    *,
    session: Session,
    user: User,
    role: Role,
    actor_id: int | None,
    reason: str | None = None,
    actor: str | None = None,
) -> bool:
    """Give `user` another role, with a `user.role` audit event (not committed).

    `actor` names who did it when there is no signed-in user (the console: "os:NAME"); it
    is kept in the event's new values. False when the user already has `role` (nothing is
    recorded). The new role applies from the user's next request: sessions look the user
    up every time.
    """
    if user.role == role:
        return False
    old = Role(user.role)
    user.role = role
    session.add(user)
    record(
        session,
        actor_id=actor_id,
        action="user.role",
        subject_type="user",
        subject_id=user.id,
        old={"role": old.value},
        new={"role": role.value} | ({"actor": actor} if actor else {}),
        reason=reason,
    )
    return True


def authenticate(*, session: Session, name: str, password: str) -> User | None:
    """The active user whose name and password match, or None."""
    user = get_user_by_name(session=session, name=name)
    if not verify_password(user.password_hash if user else None, password):
        return None
    if user is None or not user.active:
        return None
    return user


@dataclass
class ImportRow:
    line: int
    name: str
    role: Role
    password: str
    mentor: str | None


@dataclass
class ImportReport:
    """What an import did, or every problem found (then nothing was imported)."""

    created: list[str] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)


def _check_rows(session: Session, text: str) -> tuple[list[ImportRow], list[tuple[int, str]]]:
    problems: list[tuple[int, str]] = []
    rows: list[ImportRow] = []
    try:
        found = read_csv_rows(text)  # commas, semicolons or tabs; a byte-order mark dropped
    except CsvRowError as exc:
        return [], [(exc.line, exc.message)]
    if not found:
        return [], [(1, "the file is empty; expected a header row: name,role,password[,mentor]")]
    header = found[0].cells
    columns = [cell.strip().lower() for cell in header]
    if tuple(columns[:3]) != CSV_COLUMNS or columns[3:] not in ([], ["mentor"]):
        return [], [(1, f"expected the header name,role,password[,mentor], found {header!r}")]
    seen: dict[str, int] = {}
    for found_row in found[1:]:
        line, cells = found_row.line, found_row.cells
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(columns):
            problems.append((line, f"expected {len(columns)} columns, found {len(cells)}"))
            continue
        name, role_text, password = (cell.strip() for cell in cells[:3])
        mentor = cells[3].strip() if len(cells) > 3 and cells[3].strip() else None
        row_problems: list[str] = []
        if problem := name_problem(name):
            row_problems.append(f"name {name!r}: {problem}")
        elif name in seen:
            row_problems.append(f"name {name!r} is already on line {seen[name]}")
        elif get_user_by_name(session=session, name=name) is not None:
            row_problems.append(f"name {name!r}: a user with this name already exists")
        role = Role.TRAINEE
        try:
            role = parse_role(role_text)
        except UserError as error:
            row_problems.append(error.message)
        if problem := password_problem(password):
            row_problems.append(f"password {problem}")
        seen.setdefault(name, line)
        if row_problems:
            problems.extend((line, problem) for problem in row_problems)
        else:
            rows.append(ImportRow(line, name, role, password, mentor))
    new_names = {row.name for row in rows} | set(seen)
    for row in rows:
        if row.mentor is None or row.mentor in new_names:
            continue
        if get_user_by_name(session=session, name=row.mentor) is None:
            problems.append((row.line, f"mentor {row.mentor!r} is neither a user nor in the file"))
    return rows, sorted(problems)


def import_users(
    *, session: Session, text: str, set_mentor: Callable[[User, User], object]
) -> ImportReport:
    """Create every user of a name,role,password[,mentor] CSV, or report every bad row.

    Each mentor is given through `set_mentor(user, mentor)` (`storage.admin.set_mentor`:
    its rules, no self-mentor, a mentor with the mentor role, no circle, and its audit
    event), which raises `UserError` for a row it refuses. With problems, the caller rolls
    the session back: nothing is imported.
    """
    rows, problems = _check_rows(session, text)
    if problems:
        return ImportReport(problems=problems)
    created: dict[str, User] = {}
    for row in rows:
        created[row.name] = create_user(
            session=session, name=row.name, role=row.role, password=row.password
        )
    for row in rows:
        if row.mentor is None:
            continue
        mentor = created.get(row.mentor) or get_user_by_name(session=session, name=row.mentor)
        if mentor is None:  # pragma: no cover - _check_rows found every mentor
            continue
        try:
            set_mentor(created[row.name], mentor)
        except UserError as error:
            problems.append((row.line, f"mentor {row.mentor!r}: {error.message}"))
    if problems:
        return ImportReport(problems=sorted(problems))
    session.flush()
    return ImportReport(created=[row.name for row in rows])

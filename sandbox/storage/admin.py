"""What the admin area does to users: search, edit, deactivate, reset, import or update.

Every change is audited with its actor (the signed-in admin's id, or "os:NAME" from the
console) and left uncommitted for the caller.
"""

from __future__ import annotations

import io
import secrets
import zipfile
from dataclasses import dataclass, field

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from sandbox.csvfiles import CsvEncodingError, CsvRowError, decode_csv, read_csv_rows
from sandbox.passwords import hash_password, password_problem
from sandbox.storage.audit import record
from sandbox.storage.models import LoginSession, Role, User
from sandbox.storage.throttle import LoginThrottle
from sandbox.storage.users import UserError, change_role, get_user_by_name, name_problem, parse_role

#: The most rows one import may hold, and the largest file it reads.
IMPORT_ROWS_MAX = 5000
IMPORT_BYTES_MAX = 2_000_000
#: An import of more rows than this runs as a background job (`web/import_jobs.py`); one
#: of this many or fewer is written in the request, as it always was...
IMPORT_JOB_ROWS = 500
#: ... and so does one that sets more passwords than this: each is an Argon2 hash (about a
#: third of a second on a quiet core), and a request should not hash for minutes.
IMPORT_JOB_PASSWORDS = 20
SEARCH_LIMIT = 200
#: Temporary passwords: 12 characters from an alphabet without look-alikes (0/O, 1/l/I).
TEMP_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
TEMP_LENGTH = 12


@dataclass(frozen=True)
class UserRow:
    user: User
    mentor: str | None
    locked: bool


def search_users(session: Session, query: str = "", role: Role | None = None) -> list[UserRow]:
    """Users whose name contains `query` (any case), by name; at most SEARCH_LIMIT."""
    statement = select(User).order_by(col(User.name)).limit(SEARCH_LIMIT)
    if query.strip():
        pattern = "%" + query.strip().lower().replace("%", "").replace("_", "") + "%"
        statement = statement.where(func.lower(col(User.name)).like(pattern))
    if role is not None:
        statement = statement.where(User.role == role)
    users = list(session.exec(statement).all())
    names = {user.id: user.name for user in session.exec(select(User)).all()}
    locked = set(
        session.exec(
            select(LoginThrottle.user_id).where(col(LoginThrottle.user_id).is_not(None))
        ).all()
    )
    return [
        UserRow(user, names.get(user.mentor_id) if user.mentor_id else None, user.id in locked)
        for user in users
    ]


def mentors(session: Session) -> list[User]:
    """Everyone who can be a trainee's mentor (active users with the mentor role)."""
    statement = select(User).where(User.role == Role.MENTOR, col(User.active).is_(True))
    return list(session.exec(statement.order_by(col(User.name))).all())


def end_sessions(session: Session, user_id: int) -> int:
    """Sign `user_id` out everywhere; returns how many sessions were ended."""
    count = len(session.exec(select(LoginSession.id).where(LoginSession.user_id == user_id)).all())
    session.exec(delete(LoginSession).where(col(LoginSession.user_id) == user_id))
    return count


def set_active(
    session: Session, *, user: User, active: bool, actor_id: int | None, actor: str | None = None
) -> bool:
    """Deactivate (ending every session) or reactivate `user`; False when already so."""
    assert user.id is not None
    if user.active == active:
        return False
    user.active = active
    session.add(user)
    ended = 0 if active else end_sessions(session, user.id)
    record(
        session,
        actor_id=actor_id,
        action="user.activate" if active else "user.deactivate",
        subject_type="user",
        subject_id=user.id,
        old={"active": not active},
        new={"active": active}
        | ({"sessions_ended": ended} if not active else {})
        | ({"actor": actor} if actor else {}),
    )
    session.flush()
    return True


def set_mentor(
    session: Session,
    *,
    user: User,
    mentor: User | None,
    actor_id: int | None,
    actor: str | None = None,
) -> bool:
    """Give `user` the mentor `mentor` (None: no mentor), audited; False when unchanged.

    UserError (field "mentor") when `mentor` does not have the mentor role, is the user, or
    is mentored by the user (directly or through other mentors: no circle of mentors).
    """
    if mentor is not None:
        if mentor.id == user.id:
            raise UserError("mentor", "a user cannot be their own mentor")
        if mentor.role != Role.MENTOR:
            raise UserError("mentor", f"{mentor.name!r} is a {mentor.role}, not a mentor")
        seen = {mentor.id}
        above = session.get(User, mentor.mentor_id) if mentor.mentor_id else None
        while above is not None and above.id not in seen:
            if above.id == user.id:
                raise UserError(
                    "mentor",
                    f"{mentor.name!r} is mentored by {user.name!r} (directly or through "
                    "other mentors); mentors cannot mentor each other in a circle",
                )
            seen.add(above.id)
            above = session.get(User, above.mentor_id) if above.mentor_id else None
    new_id = mentor.id if mentor else None
    if user.mentor_id == new_id:
        return False
    old = session.get(User, user.mentor_id) if user.mentor_id else None
    user.mentor_id = new_id
    session.add(user)
    record(
        session,
        actor_id=actor_id,
        action="user.mentor",
        subject_type="user",
        subject_id=user.id,
        old={"mentor": old.name if old else None},
        new={"mentor": mentor.name if mentor else None} | ({"actor": actor} if actor else {}),
    )
    session.flush()
    return True


def temporary_password() -> str:
    return "".join(secrets.choice(TEMP_ALPHABET) for _ in range(TEMP_LENGTH))


def reset_password(session: Session, *, user: User, actor_id: int | None) -> str:
    """Give `user` a new random password, end their sessions, clear their failed logins.

    Returns the password: shown once to the admin, stored only as a hash.
    """
    assert user.id is not None
    password = temporary_password()
    user.password_hash = hash_password(password)
    session.add(user)
    ended = end_sessions(session, user.id)
    session.exec(delete(LoginThrottle).where(col(LoginThrottle.user_id) == user.id))
    record(
        session,
        actor_id=actor_id,
        action="user.password_reset",
        subject_type="user",
        subject_id=user.id,
        new={"sessions_ended": ended},
    )
    session.flush()
    return password


# --- import: CSV (comma or semicolon, UTF-8 with or without BOM, or GBK) and XLSX -----------


class TableError(ValueError):
    """The uploaded file cannot be read as a table at all."""


def _decode(data: bytes) -> str:
    """UTF-8 (a BOM is dropped), else GB18030, the superset of GBK that Chinese Excel writes
    (`sandbox.csvfiles`, as every CSV import reads)."""
    try:
        return decode_csv(data)
    except CsvEncodingError as exc:
        raise TableError(f"{exc}; save it as CSV UTF-8 or as an Excel workbook (.xlsx)") from None


def _csv_rows(text: str) -> list[tuple[int, list[str]]]:
    """Every row with the line it starts on; commas, semicolons or tabs, as the header has."""
    try:
        return [(row.line, row.cells) for row in read_csv_rows(text)]
    except CsvRowError as exc:
        raise TableError(str(exc)) from None


def _xlsx_rows(data: bytes) -> list[tuple[int, list[str]]]:
    from openpyxl import load_workbook  # only an import needs it

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise TableError(f"not a readable Excel workbook (.xlsx): {exc}") from None
    sheet = book.worksheets[0]
    rows: list[tuple[int, list[str]]] = []
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        cells = ["" if value is None else str(value).strip() for value in values]
        while cells and not cells[-1]:
            cells.pop()
        rows.append((number, cells))
        if number > IMPORT_ROWS_MAX + 1:
            break
    book.close()
    return rows


def read_table(data: bytes, filename: str = "") -> list[tuple[int, list[str]]]:
    """The rows of an uploaded CSV or XLSX file, each with its line (or row) number."""
    if len(data) > IMPORT_BYTES_MAX:
        raise TableError(f"the file is larger than {IMPORT_BYTES_MAX // 1000} kB")
    if data.startswith(b"PK\x03\x04") or filename.lower().endswith(".xlsx"):
        return _xlsx_rows(data)
    return _csv_rows(_decode(data))


@dataclass
class RowResult:
    """What an import did with one row: created, updated, unchanged, or error (problems)."""

    line: int
    name: str
    outcome: str
    problems: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)


@dataclass
class UpsertReport:
    rows: list[RowResult] = field(default_factory=list)
    problem: str | None = None  # the whole file could not be read (then no rows)

    def count(self, outcome: str) -> int:
        return sum(1 for row in self.rows if row.outcome == outcome)


COLUMNS = ("name", "role", "password", "mentor", "active")


@dataclass
class CheckedRow:
    """A row of an import as read, with what is wrong with it that the database need not
    be asked about (the rest is found as it is written)."""

    line: int
    name: str
    values: dict[str, str]
    problems: list[str]
    role: Role | None = None
    active: bool | None = None

    @property
    def password(self) -> str:
        return self.values.get("password", "")

    @property
    def mentor(self) -> str:
        return self.values.get("mentor", "")


@dataclass
class CheckedTable:
    """An import's rows after the checks of `check_table`: `problem` when the whole file is
    refused (then no rows)."""

    rows: list[CheckedRow] = field(default_factory=list)
    problem: str | None = None

    @property
    def runs_as_job(self) -> bool:
        """Too many rows, or too many passwords to hash, to write inside a request."""
        passwords = sum(1 for row in self.rows if row.password)
        return len(self.rows) > IMPORT_JOB_ROWS or passwords > IMPORT_JOB_PASSWORDS


def check_table(rows: list[tuple[int, list[str]]]) -> CheckedTable:
    """The header and every row of an import checked without the database: the file is
    refused as a whole (empty, a bad header, too many rows), or each row gets its problems
    (columns, name, a name twice, role, active, password)."""
    body = [(line, cells) for line, cells in rows if any(cell.strip() for cell in cells)]
    if not body:
        return CheckedTable(
            problem="line 1: the file is empty; expected a header row such as "
            "name,role,password,mentor"
        )
    header_line, header = body[0]
    columns = [cell.strip().lower() for cell in header]
    unknown = [column for column in columns if column not in COLUMNS]
    if "name" not in columns or unknown or len(set(columns)) != len(columns):
        return CheckedTable(
            problem=f"line {header_line}: expected a header of name and any of "
            f"{', '.join(COLUMNS[1:])}; found {', '.join(header) or 'nothing'}"
        )
    if len(body) - 1 > IMPORT_ROWS_MAX:
        return CheckedTable(problem=f"the file has more than {IMPORT_ROWS_MAX} rows; split it")
    checked = CheckedTable()
    seen: dict[str, int] = {}
    for line, cells in body[1:]:
        values = {
            column: (cells[i].strip() if i < len(cells) else "") for i, column in enumerate(columns)
        }
        row = CheckedRow(line=line, name=values["name"], values=values, problems=[])
        checked.rows.append(row)
        if len(cells) > len(columns) and any(cell.strip() for cell in cells[len(columns) :]):
            row.problems.append(f"expected {len(columns)} columns, found {len(cells)}")
        name = values["name"]
        if problem := name_problem(name):
            row.problems.append(f"name {name!r}: {problem}")
        elif name in seen:
            row.problems.append(f"name {name!r} is already on line {seen[name]}")
        seen.setdefault(name, line)
        if values.get("role"):
            try:
                row.role = parse_role(values["role"])
            except UserError as error:
                row.problems.append(f"role: {error.message}")
        if values.get("active"):
            flag = values["active"].lower()
            if flag in ("yes", "y", "true", "1", "是"):
                row.active = True
            elif flag in ("no", "n", "false", "0", "否"):
                row.active = False
            else:
                row.problems.append(f"active: {values['active']!r} is not yes or no")
        if row.password and (problem := password_problem(row.password)):
            row.problems.append(f"password {problem}")
    return checked


@dataclass
class PendingMentor:
    """A written row's mentor, to be assigned once the rows that may create or change that
    mentor have been written."""

    result: RowResult
    user_id: int
    mentor: str


def write_rows(
    session: Session,
    rows: list[CheckedRow],
    *,
    actor_id: int | None,
    hashes: dict[int, str] | None = None,
) -> tuple[list[RowResult], list[PendingMentor]]:
    """Create or update the user of every good row of `rows` (audited, flushed, not
    committed); a row with problems is reported and skipped. The mentors the rows name are
    returned, for `assign_mentors` once every row that may create them or change their role
    is written (a row may name a mentor created further down). `hashes` holds passwords
    hashed before the transaction began, by line (a batched import's: hashing is slow);
    the others are hashed here."""
    hashes = hashes or {}
    results: list[RowResult] = []
    mentors: list[PendingMentor] = []
    for row in rows:
        result = RowResult(line=row.line, name=row.name, outcome="error", problems=[*row.problems])
        results.append(result)
        name, password, role, active = row.name, row.password, row.role, row.active
        existing = get_user_by_name(session=session, name=name) if not name_problem(name) else None
        if existing is None and not password and not result.problems:
            result.problems.append("password: a new user needs one")
        if result.problems:
            continue
        if existing is None:
            hashed = hashes.get(row.line) or hash_password(password)
            user = User(name=name, role=role or Role.TRAINEE, password_hash=hashed)
            if active is not None:
                user.active = active
            session.add(user)
            session.flush()
            record(
                session,
                actor_id=actor_id,
                action="user.create",
                subject_type="user",
                subject_id=user.id,
                new={"role": user.role, "via": "import"},
            )
            result.outcome = "created"
        else:
            user = existing
            if role is not None and change_role(
                session=session, user=user, role=role, actor_id=actor_id
            ):
                result.changes.append("role")
            if password:
                user.password_hash = hashes.get(row.line) or hash_password(password)
                session.add(user)
                result.changes.append("password")
            if active is not None and set_active(
                session, user=user, active=active, actor_id=actor_id
            ):
                result.changes.append("active")
            result.outcome = "updated" if result.changes else "unchanged"
        if row.mentor:
            assert user.id is not None
            mentors.append(PendingMentor(result, user.id, row.mentor))
    return results, mentors


def assign_mentors(session: Session, pending: list[PendingMentor], *, actor_id: int | None) -> None:
    """Give each written row its mentor, or say on the row why not (the rest of the row
    stays applied). Flushed, not committed."""
    for wanted in pending:
        result = wanted.result
        mentor = get_user_by_name(session=session, name=wanted.mentor)
        if mentor is None:
            result.problems.append(
                f"mentor {wanted.mentor!r}: no such user (the rest of the row was applied)"
            )
            continue
        user = session.get(User, wanted.user_id)
        assert user is not None  # written by this import, in this transaction or before
        try:
            if set_mentor(session, user=user, mentor=mentor, actor_id=actor_id):
                result.changes.append("mentor")
                if result.outcome == "unchanged":
                    result.outcome = "updated"
        except UserError as error:
            result.problems.append(f"mentor: {error.message} (the rest of the row was applied)")
    session.flush()


def upsert_users(
    session: Session, rows: list[tuple[int, list[str]]], *, actor_id: int | None
) -> UpsertReport:
    """Create or update the user of every good row; a bad row is reported and skipped.

    The header names the columns: `name` always, then any of role, password, mentor,
    active (yes/no). A new user needs a password; an existing one is updated only in the
    columns given (an empty cell leaves the value as it is). Every row in the caller's
    transaction (a large file runs as a background job instead: `web/import_jobs.py`).
    """
    checked = check_table(rows)
    if checked.problem is not None:
        return UpsertReport(problem=checked.problem)
    results, mentors = write_rows(session, checked.rows, actor_id=actor_id)
    assign_mentors(session, mentors, actor_id=actor_id)  # after every row, as said above
    return UpsertReport(rows=results)

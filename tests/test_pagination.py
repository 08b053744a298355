"""The one pagination helper (sandbox/web/pagination.py): page numbers read from an address,
pages counted and sliced by the database, and the boundaries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import Session, col, create_engine, select

from sandbox.storage.models import Role, User
from sandbox.web.pagination import (
    NOT_A_PAGE,
    PAGE_MAX,
    PAST_THE_END,
    KeysetPage,
    KeysetRequest,
    Page,
    PageRequest,
    keyset_paginate,
    page_count,
    paginate,
    paginate_list,
    read_keyset,
    read_page,
)


@pytest.mark.parametrize(
    ("raw", "number", "problem"),
    [
        ("", 1, None),
        (None, 1, None),
        ("1", 1, None),
        (" 3 ", 3, None),
        (str(PAGE_MAX), PAGE_MAX, None),
        (str(PAGE_MAX + 1), 1, NOT_A_PAGE),
        ("0", 1, NOT_A_PAGE),
        ("-2", 1, NOT_A_PAGE),
        ("2.5", 1, NOT_A_PAGE),
        ("zz", 1, NOT_A_PAGE),
        ("٣", 1, NOT_A_PAGE),  # a digit of another script
        ("9" * 400, 1, NOT_A_PAGE),
    ],
)
def test_a_page_number_is_plain_digits_in_range(
    raw: str | None, number: int, problem: str | None
) -> None:
    assert read_page(raw) == PageRequest(number, problem)


def test_page_count_is_at_least_one() -> None:
    assert [page_count(n, 20) for n in (0, 1, 20, 21, 40, 41)] == [1, 1, 1, 2, 2, 3]


ITEMS = list(range(45))


@pytest.mark.parametrize(
    ("asked", "items", "number", "problem"),
    [
        (PageRequest(1), ITEMS[:20], 1, None),
        (PageRequest(2), ITEMS[20:40], 2, None),
        (PageRequest(3), ITEMS[40:], 3, None),  # the last page, not full
        (PageRequest(4), ITEMS[40:], 3, PAST_THE_END),  # past the end: the last page
        (PageRequest(1, NOT_A_PAGE), ITEMS[:20], 1, NOT_A_PAGE),
    ],
)
def test_a_list_in_memory(
    asked: PageRequest, items: list[int], number: int, problem: str | None
) -> None:
    page = paginate_list(ITEMS, asked, size=20)
    assert page == Page(items, number, 3, 45, problem)


def test_an_empty_list_is_one_empty_page() -> None:
    assert paginate_list([], PageRequest(1)) == Page([], 1, 1, 0, None)
    assert paginate_list([], PageRequest(7)) == Page([], 1, 1, 0, PAST_THE_END)
    assert not paginate_list([], PageRequest(1)).has_next


def test_links_keep_the_other_parameters_and_stop_at_the_ends() -> None:
    kept = {"q": "a b", "tag": "", "page": "9"}
    first = paginate_list(ITEMS, PageRequest(1), size=20)
    assert first.links("/cases", kept) == {"previous": None, "next": "/cases?q=a+b&page=2"}
    middle = paginate_list(ITEMS, PageRequest(2), size=20)
    assert middle.links("/cases", kept) == {
        "previous": "/cases?q=a+b&page=1",
        "next": "/cases?q=a+b&page=3",
    }
    last = paginate_list(ITEMS, PageRequest(3), size=20)
    assert last.links("/cases", kept)["next"] is None


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    User.__table__.create(engine)  # type: ignore[attr-defined]
    with Session(engine) as opened:
        opened.add_all(
            User(name=f"user-{i:02d}", role=Role.TRAINEE, password_hash="-") for i in range(45)
        )
        opened.commit()
        yield opened
    engine.dispose()


def names(page: Page[User]) -> list[str]:
    return [user.name for user in page.items]


def test_sql_pages_read_only_their_rows(session: Session) -> None:
    statements: list[str] = []
    event.listen(
        session.get_bind(),
        "before_cursor_execute",
        lambda *args: statements.append(args[2]),
    )
    ordered = select(User).order_by(col(User.name))
    page = paginate(session, ordered, PageRequest(2), size=20)
    assert names(page) == [f"user-{i:02d}" for i in range(20, 40)]
    assert (page.number, page.pages, page.total, page.problem) == (2, 3, 45, None)
    assert len(statements) == 2  # one count, one page
    assert "LIMIT" in statements[1] and "OFFSET" in statements[1]


def test_sql_boundaries(session: Session) -> None:
    ordered = select(User).order_by(col(User.name))
    last = paginate(session, ordered, PageRequest(3), size=20)
    assert names(last) == [f"user-{i:02d}" for i in range(40, 45)]
    past = paginate(session, ordered, PageRequest(PAGE_MAX), size=20)
    assert names(past) == names(last) and past.problem == PAST_THE_END
    nothing = paginate(session, ordered.where(User.name == "nobody"), PageRequest(2))
    assert (nothing.items, nothing.number, nothing.pages, nothing.total) == ([], 1, 1, 0)
    assert nothing.problem == PAST_THE_END


# --- keyset pages ---------------------------------------------------------------------------

KEYS = (col(User.created_at), col(User.id))


@pytest.fixture
def timed() -> Iterator[Session]:
    """45 users whose times tie in runs of three, across page ends (the id breaks ties)."""
    engine = create_engine("sqlite://")
    User.__table__.create(engine)  # type: ignore[attr-defined]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with Session(engine) as opened:
        opened.add_all(
            User(
                name=f"user-{i:02d}",
                role=Role.TRAINEE,
                password_hash="-",
                created_at=start + timedelta(minutes=i // 3),
            )
            for i in range(45)
        )
        opened.commit()
        yield opened
    engine.dispose()


def newest_first(session: Session) -> list[int]:
    rows = session.exec(select(User.id).order_by(col(User.created_at).desc(), col(User.id).desc()))
    return [int(i) for i in rows.all() if i is not None]


def ids(page: KeysetPage[User]) -> list[int]:
    return [int(user.id or 0) for user in page.items]


def test_keyset_pages_walk_forward_and_back_through_ties(timed: Session) -> None:
    order = newest_first(timed)
    everything = select(User)
    first = keyset_paginate(timed, everything, KEYS, KeysetRequest(), size=20)
    assert ids(first) == order[:20] and (first.number, first.pages, first.total) == (1, 3, 45)
    assert not first.has_previous and first.has_next and first.problem is None
    second = keyset_paginate(timed, everything, KEYS, KeysetRequest(after=first.last_id), 20)
    assert ids(second) == order[20:40] and second.number == 2
    assert second.has_previous and second.has_next
    last = keyset_paginate(timed, everything, KEYS, KeysetRequest(after=second.last_id), 20)
    assert ids(last) == order[40:] and last.number == 3 and not last.has_next
    back = keyset_paginate(timed, everything, KEYS, KeysetRequest(before=last.first_id), 20)
    assert ids(back) == order[20:40] and back.number == 2
    top = keyset_paginate(timed, everything, KEYS, KeysetRequest(before=back.first_id), 20)
    assert ids(top) == order[:20] and top.number == 1 and not top.has_previous
    # Every row once, none skipped at a tie that straddles a page boundary.
    assert ids(first) + ids(second) + ids(last) == order


def test_keyset_boundaries(timed: Session) -> None:
    order = newest_first(timed)
    forty = select(User).where(col(User.id).in_(order[:40]))  # an exact multiple of 20
    second = keyset_paginate(timed, forty, KEYS, KeysetRequest(after=order[19]), size=20)
    assert ids(second) == order[20:40] and not second.has_next and second.pages == 2
    # Past the end: after the very last row shows the last page, and says so.
    past = keyset_paginate(timed, forty, KEYS, KeysetRequest(after=order[39]), size=20)
    assert ids(past) == order[20:40] and past.problem == PAST_THE_END and past.number == 2
    # Before the first row: the first page.
    before = keyset_paginate(timed, forty, KEYS, KeysetRequest(before=order[0]), size=20)
    assert ids(before) == order[:20] and before.problem == PAST_THE_END and before.number == 1
    # A row that is gone: the first page, with a message.
    gone = keyset_paginate(timed, forty, KEYS, KeysetRequest(after=999_999), size=20)
    assert ids(gone) == order[:20] and gone.problem == NOT_A_PAGE
    empty = keyset_paginate(timed, forty.where(User.name == "nobody"), KEYS, KeysetRequest())
    assert (empty.items, empty.number, empty.pages, empty.total) == ([], 1, 1, 0)
    assert not empty.has_next and not empty.has_previous


def test_keyset_pages_skip_no_rows(timed: Session) -> None:
    """Deep pages start at their row: no OFFSET skips rows (SQLite writes `OFFSET 0`)."""
    statements: list[tuple[str, Any]] = []
    event.listen(
        timed.get_bind(),
        "before_cursor_execute",
        lambda *args: statements.append((args[2], args[3])),
    )
    order = newest_first(timed)
    statements.clear()
    page = keyset_paginate(timed, select(User), KEYS, KeysetRequest(after=order[30]), size=5)
    assert ids(page) == order[31:36]
    paged = [(sql, params) for sql, params in statements if "LIMIT" in sql]
    assert paged and all(params[-1] == 0 for sql, params in paged if "OFFSET" in sql)


@pytest.mark.parametrize(
    ("after", "before", "expected"),
    [
        ("", "", KeysetRequest()),
        ("12", "", KeysetRequest(after=12)),
        (" 7 ", None, KeysetRequest(after=7)),
        ("", "3", KeysetRequest(before=3)),
        ("1", "2", KeysetRequest(problem=NOT_A_PAGE)),  # both: neither is followed
        ("x", "", KeysetRequest(problem=NOT_A_PAGE)),
        ("-4", "", KeysetRequest(problem=NOT_A_PAGE)),
        ("٣", "", KeysetRequest(problem=NOT_A_PAGE)),
        ("9" * 40, "", KeysetRequest(problem=NOT_A_PAGE)),
    ],
)
def test_a_keyset_position_is_one_row_id(
    after: str, before: str | None, expected: KeysetRequest
) -> None:
    assert read_keyset(after, before) == expected


def test_keyset_links_keep_the_filters() -> None:
    page: KeysetPage[int] = KeysetPage([1, 2], 2, 3, 45, 8, 5, True, True)
    kept = {"passed": "no", "page": "4", "after": "99", "before": "", "q": ""}
    assert page.links("/mentor/attempts", kept) == {
        "previous": "/mentor/attempts?passed=no&before=8",
        "next": "/mentor/attempts?passed=no&after=5",
    }
    end: KeysetPage[int] = KeysetPage([1], 1, 1, 1, 1, 1, False, False)
    assert end.links("/x", {}) == {"previous": None, "next": None}

"""The one pagination helper (sandbox/web/pagination.py): page numbers read from an address,
pages counted and sliced by the database, and the boundaries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import event
from sqlmodel import Session, col, create_engine, select

from sandbox.storage.models import Role, User
from sandbox.web.pagination import (
    NOT_A_PAGE,
    PAGE_MAX,
    PAST_THE_END,
    Page,
    PageRequest,
    page_count,
    paginate,
    paginate_list,
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

"""One way to page a list: read the page number from the address, count and slice in SQL.

A page number that cannot be read, or one past the last page, never fails the request:
the nearest page is shown with a message key saying why (`Page.problem`). Lists that go
deep page by keyset instead (`keyset_paginate`: after or before a row, no OFFSET).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

from sqlalchemy import Row, and_, func, or_
from sqlmodel import Session, select

from sandbox.web.i18n import N_

T = TypeVar("T")

PAGE_SIZE = 20
PAGE_MAX = 99_999  # the highest page number read from an address

#: Message keys (the interface catalogues) of the page numbers that could not be followed.
NOT_A_PAGE = N_("pager.error.number")
PAST_THE_END = N_("pager.error.past_end")


@dataclass(frozen=True)
class PageRequest:
    """The page asked for, and why it could not be read as typed (a message key)."""

    number: int = 1
    problem: str | None = None


def read_page(raw: str | None) -> PageRequest:
    """A page number from the address: ASCII digits from 1 to `PAGE_MAX`; anything else
    asks for the first page, with `NOT_A_PAGE`."""
    text = (raw or "").strip()
    if not text:
        return PageRequest()
    if text.isascii() and text.isdigit() and 1 <= int(text) <= PAGE_MAX:
        return PageRequest(int(text))
    return PageRequest(1, NOT_A_PAGE)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: its items, where it is, and what there is in all."""

    items: list[T]
    number: int
    pages: int
    total: int
    problem: str | None = None  # why this is not the page asked for (a message key)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    def links(self, path: str, kept: Mapping[str, str]) -> dict[str, str | None]:
        """The previous and next pages' addresses, with the list's other parameters."""
        kept = {key: value for key, value in kept.items() if value and key != "page"}

        def link(number: int) -> str:
            return f"{path}?" + urlencode({**kept, "page": number})

        return {
            "previous": link(self.number - 1) if self.has_previous else None,
            "next": link(self.number + 1) if self.has_next else None,
        }


def page_count(total: int, size: int = PAGE_SIZE) -> int:
    """How many pages `total` items fill: at least one, an empty list included."""
    return max(1, -(-total // size))


def _place(request: PageRequest, total: int, size: int) -> tuple[int, int, str | None]:
    pages = page_count(total, size)
    if request.number > pages:
        return pages, pages, request.problem or PAST_THE_END
    return request.number, pages, request.problem


def paginate(
    session: Session, statement: Any, request: PageRequest, size: int = PAGE_SIZE
) -> Page[Any]:
    """One page of `statement`'s rows (it must be ordered): counted and sliced by the
    database, so only the page's rows are read."""
    counted = select(func.count()).select_from(statement.order_by(None).subquery())
    total = int(session.exec(counted).one())
    number, pages, problem = _place(request, total, size)
    rows = session.exec(statement.offset((number - 1) * size).limit(size)).all()
    return Page(list(rows), number, pages, total, problem)


def paginate_list(items: Sequence[T], request: PageRequest, size: int = PAGE_SIZE) -> Page[T]:
    """One page of a list already in memory (what SQL could not filter: text as shown)."""
    number, pages, problem = _place(request, len(items), size)
    return Page(
        list(items[(number - 1) * size : number * size]), number, pages, len(items), problem
    )


# --- keyset pages: deep pages without OFFSET -----------------------------------------------
#
# A list ordered newest first by (a time, an id) is paged by the row it continues from:
# `after=ID` (the page holds the rows after that row, older) or `before=ID` (the rows before
# it, newer). The database reads only the page's rows from the index however deep the page,
# where OFFSET reads and drops every row before it. Ties on the time are broken by the id,
# so no row is skipped or shown twice.


@dataclass(frozen=True)
class KeysetRequest:
    """Where a keyset page starts: after or before a row (by its id), or at the top."""

    after: int | None = None
    before: int | None = None
    problem: str | None = None  # why this is not the page asked for (a message key)

    @property
    def at_top(self) -> bool:
        return self.after is None and self.before is None


def read_keyset(after: str | None, before: str | None) -> KeysetRequest:
    """A keyset position from the address: a row id in plain digits (one of the two); any
    other text asks for the top, with `NOT_A_PAGE`."""
    texts = {"after": (after or "").strip(), "before": (before or "").strip()}
    given = {key: text for key, text in texts.items() if text}
    if not given:
        return KeysetRequest()
    if len(given) == 1:
        key, text = next(iter(given.items()))
        if text.isascii() and text.isdigit() and len(text) <= 18:
            if key == "after":
                return KeysetRequest(after=int(text))
            return KeysetRequest(before=int(text))
    return KeysetRequest(problem=NOT_A_PAGE)


@dataclass(frozen=True)
class KeysetPage(Generic[T]):
    """One keyset page: its items, the ids its links continue from, its place in the list."""

    items: list[T]
    number: int
    pages: int
    total: int
    first_id: int | None  # the first row's id: the previous page ends before it
    last_id: int | None  # the last row's id: the next page starts after it
    has_previous: bool
    has_next: bool
    problem: str | None = None

    def links(self, path: str, kept: Mapping[str, str]) -> dict[str, str | None]:
        """The previous and next pages' addresses, with the list's other parameters."""
        kept = {
            key: value
            for key, value in kept.items()
            if value and key not in ("page", "after", "before")
        }

        def link(key: str, row_id: int | None) -> str | None:
            return None if row_id is None else f"{path}?" + urlencode({**kept, key: row_id})

        return {
            "previous": link("before", self.first_id) if self.has_previous else None,
            "next": link("after", self.last_id) if self.has_next else None,
        }


def _newer(keys: Sequence[Any], values: Sequence[Any]) -> Any:
    """Rows that come before `values` in newest-first order of `keys`: (t, id) > (t0, id0)."""
    (time, row_id), (t0, id0) = keys, values
    return or_(time > t0, and_(time == t0, row_id > id0))


def _older(keys: Sequence[Any], values: Sequence[Any]) -> Any:
    (time, row_id), (t0, id0) = keys, values
    return or_(time < t0, and_(time == t0, row_id < id0))


def keyset_paginate(
    session: Session,
    statement: Any,
    keys: tuple[Any, Any],
    request: KeysetRequest,
    size: int = PAGE_SIZE,
) -> KeysetPage[Any]:
    """One page of `statement`'s rows (filtered, not ordered), newest first by `keys` (a time
    column and the unique id column of the listed table): counted by the database, read from
    the index after or before the row the request names. A row that is gone, or a position
    past either end, shows the nearest page with a message key (`KeysetPage.problem`).

    The page is found by its keys alone (an index can hold them), then only its rows are
    read whole: sorting wide rows to find a page cost more than the page."""
    time_col, id_col = keys
    only_keys = statement.with_only_columns(time_col, id_col)
    counted = select(func.count()).select_from(only_keys.order_by(None).subquery())
    total = int(session.exec(counted).one())
    pages = page_count(total, size)
    problem = request.problem
    anchor_id = request.after if request.after is not None else request.before
    anchor: tuple[Any, Any] | None = None
    if anchor_id is not None:
        found = session.exec(select(time_col, id_col).where(id_col == anchor_id)).first()
        if found is None:
            problem = problem or NOT_A_PAGE
        else:
            anchor = (found[0], found[1])
    newest_first = only_keys.order_by(time_col.desc(), id_col.desc())

    def read(query: Any) -> list[tuple[Any, Any]]:
        # execute, not exec: SQLModel would read a select of one entity's columns as scalars.
        return [(row[0], row[1]) for row in session.execute(query).all()]

    if anchor is None:
        found_keys = read(newest_first.limit(size + 1))
        more_older = len(found_keys) > size
        found_keys = found_keys[:size]
        more_newer = False
    elif request.after is not None:
        found_keys = read(newest_first.where(_older(keys, anchor)).limit(size + 1))
        more_older = len(found_keys) > size
        found_keys = found_keys[:size]
        more_newer = True
        if not found_keys:  # past the end: the last page, as numbered pages would show it
            problem = problem or PAST_THE_END
            found_keys = read(newest_first.offset((pages - 1) * size).limit(size))
            more_older, more_newer = False, pages > 1
    else:
        oldest_first = only_keys.order_by(time_col.asc(), id_col.asc())
        found_keys = read(oldest_first.where(_newer(keys, anchor)).limit(size + 1))
        more_newer = len(found_keys) > size
        found_keys = found_keys[:size][::-1]
        more_older = True
        if not found_keys:  # before the start: the first page
            problem = problem or PAST_THE_END
            found_keys = read(newest_first.limit(size + 1))
            more_older = len(found_keys) > size
            found_keys = found_keys[:size]
            more_newer = False
    number = 1
    if found_keys and (more_newer or anchor is not None):
        before = select(func.count()).select_from(
            only_keys.where(_newer(keys, found_keys[0])).order_by(None).subquery()
        )
        ahead = int(session.exec(before).one())
        more_newer = ahead > 0
        number = min(pages, ahead // size + 1)
    ids = [row_id for _, row_id in found_keys]
    rows: list[Any] = []
    if ids:
        position = {row_id: index for index, row_id in enumerate(ids)}
        whole = session.exec(statement.where(id_col.in_(ids))).all()
        rows = sorted(whole, key=lambda row: position[_id_of(row, id_col)])
    return KeysetPage(
        items=rows,
        number=number,
        pages=pages,
        total=total,
        first_id=ids[0] if ids else None,
        last_id=ids[-1] if ids else None,
        has_previous=more_newer,
        has_next=more_older,
        problem=problem,
    )


def _id_of(row: Any, id_col: Any) -> Any:
    """The id of a row of entities (its first entity's) or of one entity."""
    entity = row[0] if isinstance(row, tuple | Row) else row
    return getattr(entity, id_col.key)

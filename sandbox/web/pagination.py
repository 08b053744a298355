"""One way to page a list: read the page number from the address, count and slice in SQL.

A page number that cannot be read, or one past the last page, never fails the request:
the nearest page is shown with a message key saying why (`Page.problem`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

from sqlalchemy import func
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

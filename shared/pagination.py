"""Bounded page-number pagination, the same in every list endpoint."""

from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200

ItemT = TypeVar("ItemT")


class PageParams(BaseModel):
    """Which page the client asked for."""

    page: int
    page_size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


async def page_params(
    page: Annotated[int, Query(ge=1, le=1_000_000, description="Page number, from 1.")] = 1,
    page_size: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Items per page, at most {MAX_PAGE_SIZE}.")
    ] = DEFAULT_PAGE_SIZE,
) -> PageParams:
    """Read `page` and `page_size` from the query string."""
    return PageParams(page=page, page_size=page_size)


PageDep = Annotated[PageParams, Depends(page_params)]


class Page(BaseModel, Generic[ItemT]):
    """One page of a list, with the total and the number of the next page (null on the last)."""

    items: list[ItemT]
    total: int
    page: int
    page_size: int
    next_page: int | None

    @classmethod
    def build(cls, items: list[ItemT], *, total: int, params: PageParams) -> "Page[ItemT]":
        """Assemble a page, working out whether another one follows."""
        has_next = params.offset + len(items) < total
        return cls(
            items=items,
            total=total,
            page=params.page,
            page_size=params.page_size,
            next_page=params.page + 1 if has_next else None,
        )

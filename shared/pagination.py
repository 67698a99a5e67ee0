"""Bounded pagination, the same in every list endpoint: keyset cursors, and shallow page numbers.

A page answers `next_cursor`, an opaque token; `cursor=` with it gives the page after. The
query then starts right after the last row seen, through the index that serves the order
(`WHERE (sort_key, id) < (:last_key, :last_id)`), so page 1,000 costs what page 1 costs.
`page=` still works for the first `MAX_OFFSET` rows (an OFFSET that deep is cheap) and is
refused past them: follow `next_cursor` instead. `total` (a count of every matching row,
which grows with the data) is given only when asked for with `total=true`.
"""

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, func, select, tuple_
from sqlalchemy.orm import Session

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_OFFSET = 1000  # rows a `page=` may skip; deeper pages are reached with cursors

ItemT = TypeVar("ItemT")


class PageParams(BaseModel):
    """Which page the client asked for."""

    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE
    cursor: str | None = None
    with_total: bool = False

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


def _invalid(field: str, message: str) -> RequestValidationError:
    return RequestValidationError(
        [{"loc": ("query", field), "msg": message, "type": "value_error"}]
    )


class PageQuery(BaseModel):
    """`page`, `page_size`, `cursor` and `total` of the query string (a query model; a list
    endpoint's own query model can extend it)."""

    page: int = Field(
        1, ge=1, le=1_000_000, description=f"Page number, from 1; the first {MAX_OFFSET} rows."
    )
    page_size: int = Field(
        DEFAULT_PAGE_SIZE,
        ge=1,
        le=MAX_PAGE_SIZE,
        description=f"Items per page, at most {MAX_PAGE_SIZE}.",
    )
    cursor: str | None = Field(
        None, max_length=512, description="`next_cursor` of the page before."
    )
    total: bool = Field(False, description="Also count every matching item (costs a scan).")

    def page_params(self) -> PageParams:
        """Which page was asked for; a 422 for a `page` deeper than cursors are needed."""
        if self.cursor is None and (self.page - 1) * self.page_size > MAX_OFFSET:
            raise _invalid("page", f"Pages reach the first {MAX_OFFSET} items; follow next_cursor.")
        return PageParams(
            page=self.page, page_size=self.page_size, cursor=self.cursor, with_total=self.total
        )


async def page_params(query: Annotated[PageQuery, Query()]) -> PageParams:
    """Read `page`, `page_size`, `cursor` and `total` from the query string."""
    return query.page_params()


PageDep = Annotated[PageParams, Depends(page_params)]


class Page(BaseModel, Generic[ItemT]):
    """One page of a list, with how to get the next one (both null on the last page)."""

    items: list[ItemT]
    total: int | None
    page: int | None
    page_size: int
    next_page: int | None
    next_cursor: str | None


class Keyset:
    """The order of a list (one direction, ending in a unique column) and its cursors.

    `scope` names what the cursor is valid for (e.g. the sort and the filters): a cursor made
    for another order or other filters is refused with a 422 instead of skipping rows.
    """

    def __init__(
        self, columns: Sequence[ColumnElement[Any]], *, descending: bool, scope: str
    ) -> None:
        self.columns = list(columns)
        self.descending = descending
        self.scope = scope

    def order_by(self) -> list[ColumnElement[Any]]:
        return [column.desc() if self.descending else column.asc() for column in self.columns]

    def after(self, values: Sequence[Any]) -> ColumnElement[bool]:
        """Rows that come after the row whose sort values are `values`."""
        row, last = tuple_(*self.columns), tuple_(*values)
        return row < last if self.descending else row > last

    def encode(self, values: Sequence[Any]) -> str:
        payload = {"s": self.scope, "k": [_to_json(value) for value in values]}
        raw = json.dumps(payload, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def decode(self, cursor: str) -> list[Any]:
        """The sort values a cursor carries; a 422 naming `cursor` if it is not one of ours."""
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
            values = payload["k"]
            if payload["s"] != self.scope or len(values) != len(self.columns):
                raise ValueError("another list's cursor")
            return [
                _from_json(value, column)
                for value, column in zip(values, self.columns, strict=True)
            ]
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise _invalid(
                "cursor", "Not a cursor of this list, sort and filters: start again."
            ) from exc


def paginate(
    session: Session,
    query: Select[*tuple[Any, ...]],
    *,
    keyset: Keyset,
    params: PageParams,
    page_type: type[Page[ItemT]],
) -> Page[ItemT]:
    """One page of `query` in `keyset` order, fetching one row more to know if another follows.

    `query` selects columns (not ORM entities): the rows are read on the session's connection,
    without building ORM objects, and `page_type` reads the items from them as dicts, all in
    one validation. The sort key is
    selected with them, so the next page's cursor comes from the last row as the database
    ordered it.
    `page_type` is the concrete page (`Page[TaskRead]`): FastAPI then takes the answer as it is,
    where a bare `Page` would be validated again, item by item.
    """
    connection = session.connection()
    total = None
    if params.with_total:
        count = select(func.count()).select_from(query.order_by(None).subquery())
        total = connection.execute(count).scalar_one()
    keys = [column.label(f"sort_key_{n}") for n, column in enumerate(keyset.columns)]
    ordered = query.add_columns(*keys).order_by(*keyset.order_by()).limit(params.page_size + 1)
    if params.cursor is not None:
        ordered = ordered.where(keyset.after(keyset.decode(params.cursor)))
    else:
        ordered = ordered.offset(params.offset)
    result = connection.execute(ordered)
    names = list(result.keys())[: -len(keys)]
    rows = result.all()
    has_next = len(rows) > params.page_size
    rows = rows[: params.page_size]
    next_page = None
    if params.cursor is None and has_next and params.page * params.page_size <= MAX_OFFSET:
        next_page = params.page + 1
    # Validated in one call, the items as plain dicts: reading them by attribute from the rows
    # (`from_attributes`) costs pydantic four times as much.
    return page_type.model_validate(
        {
            "items": [dict(zip(names, row, strict=False)) for row in rows],
            "total": total,
            "page": None if params.cursor is not None else params.page,
            "page_size": params.page_size,
            "next_page": next_page,
            "next_cursor": keyset.encode(rows[-1][-len(keys) :]) if has_next else None,
        }
    )


def _to_json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _from_json(value: Any, column: ColumnElement[Any]) -> Any:
    expected = column.type.python_type
    if expected is datetime:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("a cursor's times carry their offset")
        return parsed
    if expected is int and not isinstance(value, bool) and isinstance(value, int):
        return value
    if isinstance(value, expected):
        return value
    raise ValueError(f"expected {expected.__name__}")

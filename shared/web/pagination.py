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
import functools
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, NamedTuple, TypeVar

from fastapi import Depends
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Integer,
    Row,
    Select,
    Table,
    Text,
    bindparam,
    cast,
    func,
    literal,
    select,
    true,
    tuple_,
)
from sqlalchemy.orm import Session

from shared.web.months import MonthRange
from shared.web.query import query_model

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


# `page`, `page_size`, `cursor` and `total` of the query string, read in one validation.
page_params = query_model(PageQuery, PageQuery.page_params)


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

    def after_bound(self) -> ColumnElement[bool]:
        """Rows that come after the row whose sort values are bound as `after_<n>`."""
        last = [bindparam(f"after_{n}", type_=column.type) for n, column in enumerate(self.columns)]
        row, bound = tuple_(*self.columns), tuple_(*last)
        return row < bound if self.descending else row > bound

    @staticmethod
    def bound_values(values: Sequence[Any]) -> dict[str, Any]:
        """The values of `after_bound`'s parameters."""
        return {f"after_{n}": value for n, value in enumerate(values)}

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


AnySelect = Select[*tuple[Any, ...]]


class ListQuery(NamedTuple):
    """A list's statement and this request's values for its bound parameters.

    The statement is built once per shape of the list (which filters are present, not their
    values) and kept by its repository, so neither it nor the page statements derived from it
    here are built or keyed again per request: SQLAlchemy then finds the compiled form without
    walking the statement (building and keying a fresh one cost more than executing it).
    """

    statement: AnySelect
    values: dict[str, Any]


def filtered(table: Table, *, period: MonthRange | None, equal: dict[str, Any]) -> ListQuery:
    """The columns of `table`'s rows created in `period` (when given) whose columns equal the
    values of `equal` (a `None` value filters nothing), unordered."""
    present = tuple(name for name, value in equal.items() if value is not None)
    values = {name: equal[name] for name in present}
    if period is not None:
        values |= {"start": period.start, "end": period.end}
    return ListQuery(_filtered_statement(table, period is not None, present), values)


@functools.cache
def _filtered_statement(table: Table, in_period: bool, present: tuple[str, ...]) -> AnySelect:
    """`filtered`'s statement for one shape (which filters are present), with bound parameters."""
    conditions: list[ColumnElement[bool]] = [table.c[name] == bindparam(name) for name in present]
    if in_period:
        conditions += [
            table.c.created_at >= bindparam("start"),
            table.c.created_at < bindparam("end"),
        ]
    return select(*table.c).where(*conditions)


# Derived page statements, by (base statement, order, how the page starts); bounded, so a caller
# that builds a fresh base statement per request costs memory no more than it costs time.
_DERIVED: dict[tuple[object, ...], tuple[Select[Any], Select[Any]]] = {}
_DERIVED_LIMIT = 256


def _derived(
    query: Select[Any], key: tuple[object, ...], build: Callable[[], Select[Any]]
) -> Select[Any]:
    """`build()`, kept for `query` under `key` (the base itself is kept to check its identity)."""
    full = (id(query), *key)
    cached = _DERIVED.get(full)
    if cached is not None and cached[0] is query:
        return cached[1]
    if len(_DERIVED) >= _DERIVED_LIMIT:
        _DERIVED.clear()
    statement = build()
    _DERIVED[full] = (query, statement)
    return statement


def _page_statement(query: Select[Any], keyset: Keyset, *, after: bool) -> Select[Any]:
    return _derived(
        query,
        (*map(id, keyset.columns), keyset.descending, after),
        lambda: _ordered_page(query, keyset, after=after),
    )


def _ordered_page(query: Select[Any], keyset: Keyset, *, after: bool) -> Select[Any]:
    """`query`'s rows with their sort key, in keyset order, a page from an offset or after a
    cursor's row (built, not kept: `_page_statement` keeps it)."""
    keys = [column.label(f"sort_key_{n}") for n, column in enumerate(keyset.columns)]
    ordered = query.add_columns(*keys).order_by(*keyset.order_by())
    ordered = ordered.limit(bindparam("page_limit", type_=Integer))
    if after:
        return ordered.where(keyset.after_bound())
    return ordered.offset(bindparam("page_offset", type_=Integer))


def _count_statement(query: Select[Any]) -> Select[Any]:
    return _derived(
        query, ("count",), lambda: select(func.count()).select_from(query.order_by(None).subquery())
    )


def _page_rows(
    connection: Connection,
    statement_of: Callable[[bool], Select[Any]],
    query: ListQuery,
    keyset: Keyset,
    params: PageParams,
) -> tuple[list[str], Sequence[Row[Any]], dict[str, Any]]:
    """The names of the page's columns, its rows, and the page's other fields."""
    total = None
    if params.with_total:
        total = connection.execute(_count_statement(query.statement), query.values).scalar_one()
    values = {**query.values, "page_limit": params.page_size + 1}
    if params.cursor is not None:
        values |= keyset.bound_values(keyset.decode(params.cursor))
    else:
        values["page_offset"] = params.offset
    result = connection.execute(statement_of(params.cursor is not None), values)
    rows = result.all()
    has_next = len(rows) > params.page_size
    next_page = None
    if params.cursor is None and has_next and params.page * params.page_size <= MAX_OFFSET:
        next_page = params.page + 1
    keys = len(keyset.columns)
    return (
        list(result.keys())[:-keys],
        rows[: params.page_size],
        {
            "total": total,
            "page": None if params.cursor is not None else params.page,
            "page_size": params.page_size,
            "next_page": next_page,
            "next_cursor": keyset.encode(rows[params.page_size - 1][-keys:]) if has_next else None,
        },
    )


def paginate(
    session: Session,
    query: ListQuery,
    *,
    keyset: Keyset,
    params: PageParams,
    page_type: type[Page[ItemT]],
) -> Page[ItemT]:
    """One page of `query` in `keyset` order, fetching one row more to know if another follows.

    `query` selects columns (not ORM entities): the rows are read on the session's connection,
    without building ORM objects, and `page_type` reads the items from them as dicts, all in
    one validation. The sort key is selected with them, so the next page's cursor comes from
    the last row as the database ordered it.
    `page_type` is the concrete page (`Page[TaskRead]`): FastAPI then takes the answer as it is,
    where a bare `Page` would be validated again, item by item.
    """
    names, rows, fields = _page_rows(
        session.connection(),
        lambda after: _page_statement(query.statement, keyset, after=after),
        query,
        keyset,
        params,
    )
    # Validated in one call, the items as plain dicts: reading them by attribute from the rows
    # (`from_attributes`) costs pydantic four times as much.
    return page_type.model_validate(
        {"items": [dict(zip(names, row, strict=False)) for row in rows], **fields}
    )


def paginate_json(
    connection: Connection,
    query: ListQuery,
    *,
    keyset: Keyset,
    params: PageParams,
    item_type: type[BaseModel],
) -> bytes:
    """`paginate`'s page as the JSON `Page[item_type]` serialises to, each item built by
    PostgreSQL (`_json_page_statement`): Python reads one short text per item instead of its
    columns, and neither validates nor serialises them. For a list whose rows the API answers
    as they are stored; `item_type` names the fields, in their order.
    """
    fields = tuple(item_type.model_fields)
    _, rows, page = _page_rows(
        connection,
        lambda after: _json_page_statement(query.statement, keyset, after=after, fields=fields),
        query,
        keyset,
        params,
    )
    rest = json.dumps(page, separators=(",", ":"))
    return b"".join(
        [b'{"items":[', ",".join(row[0] for row in rows).encode(), b"],", rest[1:].encode()]
    )


def utc_iso(column: ColumnElement[datetime]) -> ColumnElement[str]:
    """The time as pydantic writes a UTC datetime: `2025-12-01T09:00:00Z`, with `.ffffff` before
    the `Z` only when there are microseconds; NULL for NULL."""
    utc = column.op("AT TIME ZONE")(literal("UTC"))
    return func.replace(func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), ".000000Z", "Z")


def _json_page_statement(
    query: Select[Any], keyset: Keyset, *, after: bool, fields: tuple[str, ...]
) -> Select[Any]:
    """`_page_statement` of `query`'s rows, each as its item's JSON text (the named fields, in
    order, the times written as `utc_iso`), then its sort key."""

    def build() -> Select[Any]:
        selected = {column.name: column for column in query.selected_columns}
        columns = [
            utc_iso(selected[name]).label(name)
            if isinstance(selected[name].type, DateTime)
            else selected[name]
            for name in fields
        ]
        # A lateral row of the formatted fields beside each row: row_to_json names its fields
        # after the columns, and writes them compactly, in order.
        item = select(*columns).correlate(*query.get_final_froms()).lateral("item")
        items = query.with_only_columns(cast(func.row_to_json(item.table_valued()), Text))
        return _ordered_page(items.join(item, true()), keyset, after=after)

    return _derived(
        query, ("json", *map(id, keyset.columns), keyset.descending, after, fields), build
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

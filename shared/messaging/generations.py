"""The database side of a replay: a read model's shadow generation, and the switch to it.

The shadow's tables are built from the models' metadata, schema-translated into
`<schema>_replay` (so their names, indexes and constraints are the live ones'). The switch runs
in one transaction: it locks the live tables (the live consumer and the readers wait), lets the
caller bring the shadow up to date meanwhile, then drops each live table and moves its shadow
twin into the live schema (`ALTER TABLE ... SET SCHEMA`). Nothing else in the schema (its
`alembic_version`, the tables of other use cases) is touched.
"""

from collections.abc import Sequence

from sqlalchemy import Connection, Engine, MetaData, Table, inspect, text
from sqlalchemy.schema import CreateSchema, DropTable

from shared.core.readmodel import MARKER_TABLE


def shadow_exists(engine: Engine, *, shadow: str) -> bool:
    """Whether a shadow generation exists in `shadow` (a replay is running or was left)."""
    with engine.connect() as connection:
        marker = f"{shadow}.{MARKER_TABLE}"
        exists = connection.scalar(text("SELECT to_regclass(:name) IS NOT NULL"), {"name": marker})
        return bool(exists)


def try_replay_lock(connection: Connection, *, schema: str) -> bool:
    """Take the lock of a replay of `schema`'s read model for this connection's session; False
    when another session holds it."""
    key = f"efficient-system replay {schema}"
    return bool(
        connection.scalar(text("SELECT pg_try_advisory_lock(hashtext(:key))"), {"key": key})
    )


def drop_shadow(connection: Connection, *, shadow: str) -> None:
    """Drop every table of the `shadow` schema, if it exists."""
    if not inspect(connection).has_schema(shadow):
        return
    for name in inspect(connection).get_table_names(schema=shadow):
        connection.execute(DropTable(Table(name, MetaData(), schema=shadow)))


def create_shadow(engine: Engine, *, tables: Sequence[Table], schema: str, shadow: str) -> None:
    """Empty twins of `tables` (of `schema`) in `shadow`, an earlier replay's dropped first.

    The schema is created when missing; deployments create it beforehand
    (`deploy/db-bootstrap.sh`), as their service roles may not create schemas."""
    with engine.begin() as connection:
        if not inspect(connection).has_schema(shadow):
            connection.execute(CreateSchema(shadow))
        drop_shadow(connection, shadow=shadow)
        translated = connection.execution_options(schema_translate_map={schema: shadow})
        tables[0].metadata.create_all(translated, tables=list(tables))


def lock_live(connection: Connection, *, tables: Sequence[Table]) -> None:
    """Begin the switch: lock the live `tables` against every reader and writer, in order.

    Fails (an `OperationalError`) rather than wait more than 5 s for a lock."""
    quote = connection.dialect.identifier_preparer
    names = ", ".join(quote.format_table(table) for table in tables)
    connection.execute(text("SET LOCAL lock_timeout = '5s'"))
    connection.execute(text(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE"))


def move_generations(connection: Connection, *, tables: Sequence[Table], shadow: str) -> None:
    """End the switch: each live table dropped and its shadow twin moved in; committed."""
    quote = connection.dialect.identifier_preparer
    for table in tables:
        assert table.schema is not None
        twin = f"{quote.quote_schema(shadow)}.{quote.quote(table.name)}"
        connection.execute(DropTable(table))
        connection.execute(
            text(f"ALTER TABLE {twin} SET SCHEMA {quote.quote_schema(table.schema)}")
        )
    connection.commit()

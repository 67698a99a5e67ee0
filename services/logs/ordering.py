"""The activity log in commit order, announced after commit: what makes the live stream
(`services/logs/live.py`) exact.

An identity column is not commit order by itself: with two consumers, entry 1001 can commit after
entry 1002. So every insert into `activity_log` first takes one transaction-scoped lock (a
statement-level BEFORE INSERT trigger), and holds it until its transaction ends; the entries'
ids are drawn after that. An id is therefore drawn only once every transaction that drew a lower
one has ended: when a reader sees entry N, every entry below N that will ever exist is visible
too. The price is that inserts into the activity log commit one transaction at a time (the
consumer's batch statement is its own transaction, a few milliseconds).

A statement-level AFTER INSERT trigger sends `NOTIFY logs_activity`, which PostgreSQL delivers
after the commit, and only if it commits: each API process's one listening connection learns of
new entries from it.

The functions are created by the migration 0002; the triggers by it on the live table, and by
`keep_commit_order` on any twin built from the models (a replay's shadow generation).
"""

from typing import Any

from sqlalchemy import Connection, Table, event, text

CHANNEL = "logs_activity"


def triggers_sql(schema: str) -> str:
    """The two triggers on `<schema>.activity_log` (the functions live in `logs`)."""
    return f"""
        CREATE TRIGGER in_commit_order BEFORE INSERT ON "{schema}".activity_log
            FOR EACH STATEMENT EXECUTE FUNCTION logs.activity_log_in_commit_order();
        CREATE TRIGGER announce AFTER INSERT ON "{schema}".activity_log
            FOR EACH STATEMENT EXECUTE FUNCTION logs.activity_log_announce();
    """


def keep_commit_order(table: Table) -> None:
    """Give every table created from `table`'s model (schema-translated too) the triggers."""

    def create(target: Table, connection: Connection, **_: Any) -> None:
        schema = connection.schema_for_object(target)
        assert schema is not None
        connection.execute(text(triggers_sql(schema)))

    event.listen(table, "after_create", create)

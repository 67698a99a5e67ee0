"""A consumer's own directory of users, kept from auth's user events (tasks and KPI each keep one).

`<schema>.user` holds a user's public facts (id, username) and the version they came at. An
event applies only when it is newer than the stored version, so duplicates and late arrivals
change nothing. A row stored from an HTTP look-up at auth has version 0: the user's first real
event (version 1 and up) replaces it. Queries here never commit.
"""

from sqlalchemy import BigInteger, Column, Connection, Integer, MetaData, String, Table, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from shared.contracts.events import UserEvent

LOOKED_UP = 0  # the version of a row stored from auth's HTTP answer, not from an event


def user_table(metadata: MetaData) -> Table:
    """`user` in the metadata's schema: the users this service has heard of."""
    return Table(
        "user",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=False),
        Column("username", String(50), nullable=False),
        Column("version", Integer, nullable=False),
    )


def apply_user_event(session: Session, table: Table, *, event: UserEvent) -> bool:
    """Store the user as the event leaves them; False when that version is not newer."""
    values = {"id": event.user_id, "username": event.user.username, "version": event.version}
    statement = insert(table).values(values)
    stored = session.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c.id],
            set_={"username": statement.excluded.username, "version": statement.excluded.version},
            where=table.c.version < statement.excluded.version,
        ).returning(table.c.id)
    ).first()
    return stored is not None


def remember_user(
    session: Session | Connection, table: Table, *, user_id: int, username: str
) -> None:
    """Store what auth answered for a user not yet in the directory; an event's row wins."""
    session.execute(
        insert(table)
        .values(id=user_id, username=username, version=LOOKED_UP)
        .on_conflict_do_nothing(index_elements=[table.c.id])
    )


def is_known(session: Session | Connection, table: Table, *, user_id: int) -> bool:
    """Whether the directory has the user."""
    return session.scalar(select(table.c.id).where(table.c.id == user_id)) is not None

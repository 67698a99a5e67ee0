"""Engine, session and metadata helpers shared by the services."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def schema_metadata(schema: str) -> MetaData:
    """Metadata for one service's schema, with constraint names Alembic can rely on."""
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


# Every connection: UTC timestamps whatever the server's zone; no statement may hang a worker
# (30 s); a dead server is noticed (connect timeout, TCP keepalives) instead of waited on.
CONNECT_ARGS: dict[str, Any] = {
    "options": "-c timezone=UTC -c statement_timeout=30s",
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}


class Database:
    """One engine and its session factory; created by the app, closed by its lifespan."""

    def __init__(self, url: str, *, pool_size: int = 5) -> None:
        self.engine: Engine = create_engine(
            url,
            pool_pre_ping=True,
            pool_size=pool_size,
            max_overflow=pool_size,
            connect_args=CONNECT_ARGS,
        )
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    def is_reachable(self) -> bool:
        """True when a trivial query succeeds."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


@contextmanager
def standalone_session(url: str) -> Iterator[Session]:
    """A session outside any app (deploy-time commands), its engine closed afterwards."""
    database = Database(url, pool_size=1)
    try:
        with database.sessionmaker() as session:
            yield session
    finally:
        database.dispose()


def get_database(request: Request) -> Database:
    """The app's database, set on `app.state.database` by `create_service_app`."""
    database: Database = request.app.state.database
    return database


def get_session(request: Request) -> Iterator[Session]:
    """A session per request; the service layer commits, this only closes (rolling back)."""
    with get_database(request).sessionmaker() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]

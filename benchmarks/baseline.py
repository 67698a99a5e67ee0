"""The baseline of `make bench`: the plainest honest FastAPI app doing the same database work.

    DATABASE_URL=postgresql+psycopg2://... uvicorn benchmarks.baseline:create_app --factory

The plain app, which the targets are read against: sync `def` endpoints (one hop into
Starlette's threadpool) that open their session themselves and return a dict, with no
response model and no dependency. `GET /tasks/{id}` is `session.get(Task, id)`; `POST /tasks/`
adds one row and commits (INSERT ... RETURNING id, COMMIT: `expire_on_commit=False`, as the
services' own sessionmaker, so no SELECT follows). The pool holds a connection for each of the
bench's 32 connections, so a request never waits for one (and no more: the database server is
shared). No auth, no outbox, no middleware: the
system's ratio to this app is what its own machinery costs (or saves).

A reference line beside it, `/tasks/by-dependency/...`: the same work written the other common
way, the session from a sync generator dependency (a second threadpool hop, its teardown run
after the response) and the ORM object validated and serialised through a response model.

Both serve the paths the gateway proxies, on their own table (`baseline.task`), behind an
nginx rendered from the same template with the same worker count as the system's.
"""

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict
from sqlalchemy import BigInteger, DateTime, Identity, MetaData, String, create_engine, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

# One pooled connection per connection of the bench's c32 runs (BASELINE_POOL_SIZE: fewer when
# the database server's max_connections is shared and short; the baseline then waits).
POOL_SIZE = int(os.environ.get("BASELINE_POOL_SIZE", "32"))


class Base(DeclarativeBase):
    metadata = MetaData(schema="baseline")


class Task(Base):
    """A row shaped roughly like a task."""

    __tablename__ = "task"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="todo")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TaskIn(BaseModel):
    """The body of a new task."""

    title: str


class TaskOut(BaseModel):
    """A task as the reference line's response model."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    status: str
    created_at: datetime


def _as_dict(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "title": task.title,
        "status": task.status,
        "created_at": task.created_at,
    }


def plain_app(app: FastAPI, factory: sessionmaker[Session]) -> None:
    """The plain endpoints: the session opened in the endpoint, a dict returned."""

    @app.get("/tasks/{task_id}")
    def get_task(task_id: int) -> dict[str, Any]:
        """One row by primary key."""
        with factory() as session:
            task = session.get(Task, task_id)
            if task is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, "no such task")
            return _as_dict(task)

    @app.post("/tasks/", status_code=status.HTTP_201_CREATED)
    def create_task(data: TaskIn) -> dict[str, Any]:
        """Insert one row and commit."""
        with factory() as session:
            task = Task(title=data.title, status="todo", created_at=datetime.now(UTC))
            session.add(task)
            session.commit()
            return _as_dict(task)


def get_session(request: Request) -> Iterator[Session]:
    """A session per request, closed after the response."""
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    with factory() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def dependency_app(app: FastAPI) -> None:
    """The reference endpoints: a session dependency, an ORM object through a response model."""

    @app.get("/tasks/by-dependency/{task_id}", response_model=TaskOut)
    def get_task(task_id: int, session: SessionDep) -> Task:
        """One row by primary key."""
        task = session.get(Task, task_id)
        if task is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such task")
        return task

    @app.post("/tasks/by-dependency/", status_code=status.HTTP_201_CREATED, response_model=TaskOut)
    def create_task(data: TaskIn, session: SessionDep) -> Task:
        """Insert one row and commit."""
        task = Task(title=data.title, status="todo", created_at=datetime.now(UTC))
        session.add(task)
        session.commit()
        return task


def create_app() -> FastAPI:
    """The app, its table created when missing."""
    engine = create_engine(os.environ["DATABASE_URL"], pool_size=POOL_SIZE, max_overflow=0)
    with engine.begin() as connection:
        connection.execute(text("CREATE SCHEMA IF NOT EXISTS baseline"))
    Base.metadata.create_all(engine)
    app = FastAPI(title="make bench baseline")
    factory = sessionmaker(engine, expire_on_commit=False)
    app.state.sessionmaker = factory
    dependency_app(app)  # first: `/tasks/by-dependency/...` before `/tasks/{task_id}`
    plain_app(app, factory)
    return app

"""The baseline of `make bench`: the plainest FastAPI app doing the same database work.

    DATABASE_URL=postgresql+psycopg2://... uvicorn benchmarks.baseline:create_app --factory

Sync `def` endpoints, the SQLAlchemy ORM over psycopg2, a plain sessionmaker and a session per
request (a sync generator dependency). `GET /tasks/{id}` is `session.get(Task, id)`;
`POST /tasks/` inserts one row and commits (INSERT ... RETURNING id, COMMIT: with
`expire_on_commit=False`, as the services' own sessionmaker, so no SELECT follows). No auth,
no outbox, no middleware: the system's ratio to this app is what its own machinery costs (or
saves). It serves the paths the gateway proxies, on its own table (`baseline.task`), behind an
nginx rendered from the same template with the same worker count.
"""

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict
from sqlalchemy import BigInteger, DateTime, Identity, MetaData, String, create_engine, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker


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
    """A task as the API answers it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    status: str
    created_at: datetime


def get_session(request: Request) -> Iterator[Session]:
    """A session per request, closed afterwards."""
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    with factory() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_task(task_id: int, session: SessionDep) -> Task:
    """One row by primary key."""
    task = session.get(Task, task_id)
    if task is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such task")
    return task


def create_task(data: TaskIn, session: SessionDep) -> Task:
    """Insert one row and commit."""
    task = Task(title=data.title, status="todo", created_at=datetime.now(UTC))
    session.add(task)
    session.commit()
    return task


def create_app() -> FastAPI:
    """The app, its table created when missing."""
    engine = create_engine(os.environ["DATABASE_URL"])
    with engine.begin() as connection:
        connection.execute(text("CREATE SCHEMA IF NOT EXISTS baseline"))
    Base.metadata.create_all(engine)
    app = FastAPI(title="make bench baseline")
    app.state.sessionmaker = sessionmaker(engine, expire_on_commit=False)
    app.get("/tasks/{task_id}", response_model=TaskOut)(get_task)
    app.post("/tasks/", status_code=status.HTTP_201_CREATED, response_model=TaskOut)(create_task)
    return app

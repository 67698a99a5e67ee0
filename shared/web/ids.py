"""Bounds of database ids, so an out-of-range number is a 422 and never a database error."""

from typing import Annotated

from fastapi import Path
from pydantic import Field

MAX_ID = 2**63 - 1  # PostgreSQL bigint

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]

"""Request and response bodies of the auth API."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from shared.contracts.roles import Role
from shared.web.text import NO_NUL

Username = Annotated[
    str, StringConstraints(min_length=3, max_length=50, pattern=r"^[A-Za-z0-9_.-]+$")
]
Password = Annotated[str, Field(min_length=8, max_length=128, repr=False)]


class UserCreate(BaseModel):
    """A registration. Only these fields are accepted: a client cannot choose its role."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"username": "ada", "email": "ada@example.com", "password": "correct-horse"}
            ]
        },
    )

    username: Username
    email: Annotated[EmailStr, Field(max_length=254)]
    password: Password


class UserRead(BaseModel):
    """A user as they see themselves (never the password hash)."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 7,
                    "username": "ada",
                    "email": "ada@example.com",
                    "role": "user",
                    "created_at": "2025-12-01T09:00:00Z",
                }
            ]
        },
    )

    id: int
    username: str
    email: str
    role: Role
    created_at: datetime


class UserSummary(BaseModel):
    """A user as others see them, e.g. in an assignee picker."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={"examples": [{"id": 7, "username": "ada"}]},
    )

    id: int
    username: str


class LoginRequest(BaseModel):
    """Credentials, as JSON or as the OAuth2 password form."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"username": "ada", "password": "correct-horse"}]}
    )

    username: Annotated[str, Field(min_length=1, max_length=254, pattern=NO_NUL)]
    password: Annotated[str, Field(min_length=1, max_length=128, repr=False)]


class RefreshRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"refresh_token": "kq3Xv0…"}]},
    )

    refresh_token: Annotated[str, Field(min_length=1, max_length=256)]


class TokenPair(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJFZERTQSIs…",
                    "token_type": "bearer",
                    "expires_in": 900,
                    "refresh_token": "kq3Xv0…",
                }
            ]
        }
    )
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str


class AccessToken(BaseModel):
    """The answer of a login or refresh in cookie mode: the refresh token is in the cookie."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"access_token": "eyJhbGciOiJFZERTQSIs…", "token_type": "bearer", "expires_in": 900}
            ]
        }
    )
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")

"""The roles a user can have: part of the access token's claims and of the user events."""

from enum import StrEnum


class Role(StrEnum):
    USER = "user"
    ADMIN = "admin"

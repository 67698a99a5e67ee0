"""Logs service settings, read once from the environment."""

from shared.core.settings import ServiceSettings


class LogsSettings(ServiceSettings):
    """The common settings are enough: database, broker, exchange and token checks."""

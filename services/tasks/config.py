"""Tasks service settings, read once from the environment."""

from shared.core.settings import RelaySettings


class TasksSettings(RelaySettings):
    """Where auth answers the user look-ups a directory miss falls back to; the relay's pace."""

    auth_url: str = "http://127.0.0.1:8001"

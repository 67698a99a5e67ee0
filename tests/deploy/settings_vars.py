"""The environment variables each service reads: the fields of its settings class."""

import re
from pathlib import Path

from pydantic_settings import BaseSettings

from services.auth.config import AuthSettings
from services.kpi.config import KpiSettings
from services.logs.config import LogsSettings
from services.tasks.config import TasksSettings

ROOT = Path(__file__).parents[2]

# Read by a service, but deliberately not configured in deployments:
LOCAL_ONLY = {
    "JWT_PRIVATE_KEY",  # deployments mount the key as a file: JWT_PRIVATE_KEY_FILE
    "JWT_GENERATED_KEY_PATH",  # only used when no key is configured, refused in production
}


def _names(settings: type[BaseSettings]) -> set[str]:
    return {name.upper() for name in settings.model_fields} - LOCAL_ONLY


SERVICE_VARS = {
    "auth": _names(AuthSettings),
    "tasks": _names(TasksSettings),
    "logs": _names(LogsSettings),
    "kpi": _names(KpiSettings),
}


def env_example_names() -> set[str]:
    """The variables `.env.example` documents."""
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))

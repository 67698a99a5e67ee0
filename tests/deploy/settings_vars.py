"""The environment variables each service reads: the fields of its settings class."""

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter
from pydantic_settings import BaseSettings

from services.auth.config import AuthSettings
from services.hooks.config import HooksSettings
from services.kpi.config import KpiSettings
from services.logs.config import LogsSettings
from services.tasks.config import TasksSettings
from shared.core.settings import ServiceSettings

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
    "hooks": _names(HooksSettings),
}


def env_example_names() -> set[str]:
    """The variables `.env.example` documents."""
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def own_defaults(settings: type[BaseSettings]) -> dict[str, Any]:
    """The common settings a service defaults otherwise than `ServiceSettings` does."""
    common = ServiceSettings.model_fields
    return {
        name.upper(): field.default
        for name, field in settings.model_fields.items()
        if name in common and field.default != common[name].default
    }


# e.g. {"kpi": {"CONSUMER_LINGER_ABOVE_PER_SECOND": 0.0}}: a deployment must not undo these by
# passing every service the common value.
OWN_DEFAULTS = {
    "auth": own_defaults(AuthSettings),
    "tasks": own_defaults(TasksSettings),
    "logs": own_defaults(LogsSettings),
    "kpi": own_defaults(KpiSettings),
    "hooks": own_defaults(HooksSettings),
}


def same_setting(value: str, default: Any) -> bool:
    """Whether the environment's `value` reads as the setting's `default`."""
    return bool(TypeAdapter(type(default)).validate_strings(value) == default)


def consumers_with_own_defaults(
    deployments: Mapping[str, Iterable[str]],
) -> list[tuple[str, str]]:
    """(service, consumer) for each `*-consumer` deployed of a service with `OWN_DEFAULTS`."""
    return [
        (service, name)
        for service, names in deployments.items()
        for name in names
        if name.endswith("-consumer") and OWN_DEFAULTS[service]
    ]

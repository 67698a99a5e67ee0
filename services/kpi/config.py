"""KPI service settings, read once from the environment."""

from shared.settings import ServiceSettings


class KpiSettings(ServiceSettings):
    """The common settings are enough: database, broker, both exchanges and token checks."""

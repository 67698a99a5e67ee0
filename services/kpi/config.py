"""KPI service settings, read once from the environment."""

from shared.settings import ServiceSettings


class KpiSettings(ServiceSettings):
    """Where auth answers username look-ups (for the per-user KPIs)."""

    auth_url: str = "http://127.0.0.1:8001"

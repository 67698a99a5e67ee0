"""KPI service settings, read once from the environment."""

from pydantic import Field

from shared.core.settings import ServiceSettings


class KpiSettings(ServiceSettings):
    """The common settings, except that the KPI consumer gathers every burst into one batch.

    KPIs are counts over months: nobody reads them per event, and a batch applies many events
    for the statements and the commit of one (`shared.messaging.pacing`). So this consumer waits for
    the rest of a burst at any rate (`CONSUMER_LINGER_ABOVE_PER_SECOND` 0), not only above 300
    events a second as the activity log's consumer does: the KPIs lag a write by up to
    `CONSUMER_LINGER_SECONDS` more, and the machine keeps that CPU for the requests.
    """

    consumer_linger_above_per_second: float = Field(default=0.0, ge=0, le=1_000_000)

"""The series names the processes export (`shared/*/metrics.py`), and the ones a query uses."""

import re

from prometheus_client import REGISTRY, Metric

from services.hooks.metrics import BacklogCollector
from services.tasks.models import OUTBOX
from shared.core.db import Database
from shared.messaging.metrics import CONSUMER_EVENTS, OutboxCollector
from shared.web.metrics import REQUEST_DURATION

# A metric is in the registry once its module is imported: each side's, whichever test runs.
REGISTERED = (REQUEST_DURATION, CONSUMER_EVENTS)

_SUFFIXES = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}
# Our own and prometheus-client's names; `up` is Prometheus's own, per target.
_OURS = re.compile(r"\b((?:http_server|efficient|db_client|process|python)_[a-z_]+|up)\b")


def _names(family: Metric) -> set[str]:
    return {family.name + suffix for suffix in _SUFFIXES.get(family.type, [""])}


def exported() -> set[str]:
    """Every series name a process can export, with its type's suffixes, plus `up`."""
    unused = Database("postgresql+psycopg2://127.0.0.1/unused_test")  # never connects
    try:
        families = [
            *REGISTRY.collect(),
            *OutboxCollector(unused, OUTBOX).describe(),
            *BacklogCollector(unused).describe(),
        ]
    finally:
        unused.dispose()
    return {"up"}.union(*(_names(family) for family in families))


def used_in(query: str) -> set[str]:
    """The series names of ours that a PromQL query reads (not its label names)."""
    query = re.sub(r"\{[^}]*\}", "", query)
    query = re.sub(r"\b(?:by|without)\s*\([^)]*\)", "", query)
    return set(_OURS.findall(query))

"""What a delivery sends: its body and its Standard Webhooks headers (signed with the
`standardwebhooks` reference library).

    webhook-id          the event's id: the same on every attempt, so receivers drop duplicates
    webhook-timestamp   seconds since the epoch, at this attempt
    webhook-signature   `v1,<base64 HMAC-SHA256 of id.timestamp.body>`, one per valid secret
"""

import base64
import json
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from standardwebhooks.webhooks import Webhook

from shared.contracts.events import TaskEvent

SECRET_PREFIX = "whsec_"
PING = "ping"
USER_AGENT = "efficient-hooks/1"


def new_secret() -> str:
    """A fresh signing secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _dumps(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def event_body(event: TaskEvent) -> str:
    """The body of a task event: its type, its time, and the event's data (task, changes)."""
    data = event.model_dump(
        mode="json",
        include={"event_id", "actor_id", "task_id", "version", "task", "changes"},
    )
    return _dumps(
        {"type": event.event_type.value, "timestamp": event.occurred_at.isoformat(), "data": data}
    )


def ping_body(*, endpoint_id: int, at: datetime) -> str:
    """The body of a ping: nothing happened but the test."""
    return _dumps({"type": PING, "timestamp": at.isoformat(), "data": {"endpoint_id": endpoint_id}})


def headers(
    *, webhook_id: uuid.UUID, body: str, at: datetime, signing_secrets: Sequence[str]
) -> dict[str, str]:
    """The request headers of one attempt; each secret adds its signature."""
    message_id = str(webhook_id)
    signatures = [Webhook(secret).sign(message_id, at, body) for secret in signing_secrets]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }

"""The event machinery: the outbox and its relay, the consumer and how it applies, retries and
dead-letters (`consumer`, `applying`, `queues`, `dead_letters`), subscriptions, replay and
rebuild of read models, the user directory, pacing, heartbeats, the entry point of the
processes without an HTTP port (`worker`) and operations commands.

May import: `shared.core`, `shared.contracts`. Never `shared.web`.
"""

"""The code every service imports, in four packages by concern.

- `shared.core`: the infrastructure under everything (database, settings, logging, tracing,
  migrations, the metrics server, domain errors). Imports no other package of `shared`.
- `shared.contracts`: what producers and consumers agree on (the event envelopes, the roles).
  Imports nothing of `shared` but itself.
- `shared.web`: the HTTP side of a service (app factory, middleware, error rendering, auth,
  pagination, OpenAPI). Imports `core` and `contracts`, never `messaging`.
- `shared.messaging`: the event machinery (outbox, relay, consumer, queues, dead letters,
  replay). Imports `core` and `contracts`, never `web`.

`tests/test_layout.py` holds the packages to these rules, and to no import cycle.
"""

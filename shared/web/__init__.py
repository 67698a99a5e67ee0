"""The HTTP side of every service: the app factory (`app`), middleware, how errors are rendered
(`errors`, `problems`), token verification (`security`), pagination and query models, months
and time zones, conditional requests, health, OpenAPI and docs, the client for other services.

May import: `shared.core`, `shared.contracts`. Never `shared.messaging`.
"""

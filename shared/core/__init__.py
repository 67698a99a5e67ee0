"""The infrastructure under both sides: database access (`db`), settings, structured logging,
tracing, the request-id context, migrations, the metrics server and pools (`metrics`), the
domain errors every layer raises (`errors`), read-model generations (`readmodel`), the version.

May import: nothing of `shared` outside `shared.core`.
"""

"""The consumer tests' fixtures (a schema of their own, a database, a consumer's broker names),
for every test module of the shared machinery."""

from shared.tests.test_consumer import config, database, tables

__all__ = ["config", "database", "tables"]

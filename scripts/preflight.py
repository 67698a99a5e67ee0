"""Before `make run`: check PostgreSQL and RabbitMQ answer, and create the database if missing.

Says which dependency is down and how to start it, instead of a traceback.
"""

import socket
import sys
from urllib.parse import urlsplit

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from shared.core.settings import ServiceSettings

POSTGRES_HINT = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
RABBITMQ_HINT = "rabbitmq-server -detached"


def _fail(what: str, where: str, hint: str) -> None:
    print(f"{what} is not reachable at {where}.\nStart it with:  {hint}", file=sys.stderr)
    sys.exit(1)


def create_database_if_missing(database_url: str) -> bool:
    """Create the database `database_url` names unless it exists; True when it was created."""
    url = make_url(database_url)
    admin = create_engine(
        url.set(database="postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as connection:
            exists = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}
            )
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{url.database}"'))
    finally:
        admin.dispose()
    return not exists


def check_postgres(database_url: str) -> None:
    """Connect to the server and create the service database when it does not exist."""
    try:
        if create_database_if_missing(database_url):
            print(f"created database {make_url(database_url).database}")
    except OperationalError:
        url = make_url(database_url)
        _fail("PostgreSQL", f"{url.host}:{url.port or 5432}", POSTGRES_HINT)


def check_rabbitmq(amqp_url: str) -> None:
    """Open a TCP connection to the broker."""
    parts = urlsplit(amqp_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 5672
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError:
        _fail("RabbitMQ", f"{host}:{port}", RABBITMQ_HINT)


if __name__ == "__main__":
    settings = ServiceSettings()
    check_postgres(settings.database_url)
    check_rabbitmq(settings.amqp_url)
    print("PostgreSQL and RabbitMQ are reachable.")

"""MongoDB access through PyMongo's async API (the successor of Motor).

Every client is made with bounded timeouts: PyMongo's defaults (30 s to find a server,
no socket timeout) turn a database outage into requests that hang for half a minute
and then fail anyway. With :class:`MongoTimeouts` a call fails in seconds, so a
service can answer 503 (the gateway) or retry with backoff (stream consumers).

TLS and authentication are set in the connection string, not in separate settings:
the URI is what every MongoDB (Atlas, Percona operator, DocumentDB) hands out, and
PyMongo reads all of it. ``MONGODB_URI`` (or ``MONGODB_URI_FILE``, a mounted secret
holding it) may carry, for example:

- ``mongodb+srv://user:pass@cluster0.example.mongodb.net/?authSource=admin`` (SRV
  records imply ``tls=true``);
- ``mongodb://user:pass@db-0:27017,db-1:27017/?replicaSet=rs0&tls=true``
  ``&tlsCAFile=/etc/parley/mongo/ca.pem`` (a private CA);
- ``...&tlsCertificateKeyFile=/etc/parley/mongo/client.pem&authMechanism=MONGODB-X509``
  (a client certificate instead of a password; ``tlsCertificateKeyFilePassword`` for
  an encrypted key);
- ``authMechanism=SCRAM-SHA-256`` to pin the mechanism (PyMongo negotiates otherwise).

User names and passwords in the URI must be percent-encoded. The URI is a secret: it
is a ``SecretStr`` in the settings and never logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from .settings import ServiceSettings


@dataclass(frozen=True)
class MongoTimeouts:
    """Client-wide bounds, in milliseconds; ``operation_ms`` 0 means no overall bound.

    ``operation_ms`` is PyMongo's client-side operation timeout (``timeoutMS``): it
    bounds each operation end to end, server selection included, and PyMongo sends
    the remaining time as ``maxTimeMS`` so the server gives up on it too.
    """

    server_selection_ms: int = 5000
    connect_ms: int = 5000
    socket_ms: int = 60000
    operation_ms: int = 0

    @classmethod
    def of(cls, settings: ServiceSettings) -> MongoTimeouts:
        return cls(
            server_selection_ms=settings.mongodb_server_selection_timeout_ms,
            connect_ms=settings.mongodb_connect_timeout_ms,
            socket_ms=settings.mongodb_socket_timeout_ms,
            operation_ms=settings.mongodb_timeout_ms,
        )

    def client_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "serverSelectionTimeoutMS": self.server_selection_ms,
            "connectTimeoutMS": self.connect_ms,
            "socketTimeoutMS": self.socket_ms,
        }
        if self.operation_ms:
            options["timeoutMS"] = self.operation_ms
        return options


class MongoDurability(BaseSettings):
    """The write concern every client writes with: ``w: majority`` and journalled.

    A write acknowledged by the primary alone is lost if the primary fails before a
    secondary copied it; the delivery outbox, the pending events and the rotated
    tokens must survive a failover, so every service writes with ``majority`` (the
    write is on most members) and ``j`` (in their journals) unless told otherwise.
    Read from ``MONGODB_WRITE_CONCERN`` (``majority``, or a member count such as
    ``1``) and ``MONGODB_JOURNAL``, so every process, services and CLIs alike, gets
    it without its own plumbing. FerretDB accepts and ignores a write concern (its
    backend commits every write before answering).
    """

    model_config = SettingsConfigDict(env_prefix="MONGODB_", extra="ignore")

    write_concern: str = Field(
        default="majority",
        pattern=r"^(majority|[0-9]+)$",
        description="w of every write: majority or a number of members",
    )
    journal: bool = Field(default=True, description="j of every write: wait for the journal")

    def client_options(self) -> dict[str, Any]:
        w: str | int = int(self.write_concern) if self.write_concern.isdigit() else "majority"
        return {"w": w, "journal": self.journal and w != 0}


def connect(
    uri: str,
    database: str,
    app_name: str,
    timeouts: MongoTimeouts | None = None,
    durability: MongoDurability | None = None,
) -> tuple[AsyncMongoClient[Any], AsyncDatabase[Any]]:
    """A client and its database; ``timeouts`` defaults to :class:`MongoTimeouts`'s,
    ``durability`` to the environment's :class:`MongoDurability` (majority, journalled)."""
    options = (timeouts or MongoTimeouts()).client_options()
    options |= (durability or MongoDurability()).client_options()
    client: AsyncMongoClient[Any] = AsyncMongoClient(
        uri, appname=app_name, tz_aware=True, **options
    )
    return client, client[database]

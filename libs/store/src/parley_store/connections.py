"""The ``connections`` collection: a store's access to one marketplace instance.

Ingest owns these documents (activation, cursor, lease); the responder only reads
where to send a reply and with which credentials. Credentials are stored encrypted
(see parley_platform.crypto) and decrypted in memory right before use.

A connection's ``_id`` is the operator's choice (``parley connections add --id``),
shown in the API and the CLI. The natural keys the hot paths look a connection up by
get a small key document each, whose ``_id`` is derived from the key and which names
the connection, so every lookup is a read by ``_id`` (the one query FerretDB v1 pushes
down on SQLite, and MongoDB's cheapest):

- ``connection_keys``: ``_id`` :func:`connection_key_id` of (store, marketplace), for
  the responder's "where does this store's reply go" and ingest's resync requests;
- ``inbound_addresses``: ``_id`` the email-relay connection's inbound address (as
  :func:`parley_connectors.email_relay.normalize_address` gives it), for relay mail.

Ingest writes them with the connection and removes them with it. A reader checks the
connection it reaches still has that key (a connection re-added under another store,
marketplace or address leaves its old key document behind), so a stale key document
reads as "none", never as the wrong connection.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

CONNECTIONS = "connections"
CONNECTION_KEYS = "connection_keys"  # _id: connection_key_id(store, marketplace)
INBOUND_ADDRESSES = "inbound_addresses"  # _id: the normalised inbound address
MAX_ERROR_MESSAGE_CHARS = 300


def connection_key_id(store_id: str, marketplace: str) -> str:
    """The ``connection_keys`` ``_id`` of (store, marketplace): both parts
    percent-encoded (``/`` and ``%`` included), then joined by ``/``, so no two keys
    share an id and the id stays readable (``shop-1/amazon-de``)."""
    return f"{quote(store_id, safe='')}/{quote(marketplace, safe='')}"


class SyncErrorKind(StrEnum):
    """Why the last sync pass of a connection failed."""

    RATE_LIMITED = "rate_limited"  # the marketplace asked to slow down (429)
    UNAVAILABLE = "unavailable"  # 5xx, timeouts, network
    AUTH_FAILED = "auth_failed"  # credentials refused: a person must act
    INTERNAL = "internal"  # a fault on Parley's side


class SyncError(BaseModel):
    """The last failed sync pass: what kind, a message safe to show, and when."""

    model_config = ConfigDict(frozen=True)

    kind: SyncErrorKind
    message: str
    at: datetime


_URL = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)(?:[^\s/@]*@)?([^\s?#]*)(?:[?#][^\s]*)?")


def safe_error_message(message: str, secrets: Iterable[str] = ()) -> str:
    """A message fit to store and show to a merchant or operator.

    URLs lose their user info, query string and fragment (where API keys and tokens
    travel); any secret value given is masked; the result is one line, bounded.
    """
    text = _URL.sub(lambda m: m.group(1) + m.group(2), message)
    for secret in sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, "***")
    text = " ".join(text.split())
    if len(text) > MAX_ERROR_MESSAGE_CHARS:
        text = text[: MAX_ERROR_MESSAGE_CHARS - 1] + "…"
    return text


class ConnectionDocument(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str = Field(alias="_id")
    store_id: str
    family: str
    marketplace: str
    base_url: str
    credentials: str = Field(repr=False, description="Fernet token of the credentials JSON")
    activated_at: datetime
    cursor: datetime
    interval_seconds: int = 300
    messaging_enabled: bool = True
    health: str = "ok"
    health_reason: str | None = None
    next_sync_at: datetime | None = None
    failures: int = Field(default=0, description="Faults counted for the retry backoff")
    last_sync_at: datetime | None = Field(default=None, description="Last successful pass")
    last_error: SyncError | None = Field(default=None, description="Last failed pass, if since")
    consecutive_failures: int = Field(default=0, description="Failed passes since a success")
    options: dict[str, str] = Field(default_factory=dict)

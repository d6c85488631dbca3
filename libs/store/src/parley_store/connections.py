"""The ``connections`` collection: a store's access to one marketplace instance.

Ingest owns these documents (activation, cursor, lease); the responder only reads
where to send a reply and with which credentials. Credentials are stored encrypted
(see parley_platform.crypto) and decrypted in memory right before use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

CONNECTIONS = "connections"
MAX_ERROR_MESSAGE_CHARS = 300


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

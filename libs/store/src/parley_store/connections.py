"""The ``connections`` collection: a store's access to one marketplace instance.

Ingest owns these documents (activation, cursor, lease); the responder only reads
where to send a reply and with which credentials. Credentials are stored encrypted
(see parley_platform.crypto) and decrypted in memory right before use.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

CONNECTIONS = "connections"


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
    failures: int = 0
    options: dict[str, str] = Field(default_factory=dict)

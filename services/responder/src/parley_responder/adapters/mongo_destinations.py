"""Finds where a reply goes: the store's active connection to the marketplace.

It also writes back credentials a marketplace rotated (Allegro's OAuth tokens) into the
same encrypted connection document ingest reads.
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from parley_platform.crypto import CredentialCipher
from parley_responder.ports import Destination
from parley_store import CONNECTIONS, ConnectionDocument, MongoRefreshLock


class MongoDestinationLookup:
    def __init__(self, db: AsyncDatabase[Any], cipher: CredentialCipher) -> None:
        self._col = db[CONNECTIONS]
        self._cipher = cipher

    async def find(self, store_id: str, marketplace: str) -> Destination | None:
        raw = await self._col.find_one(
            {"store_id": store_id, "marketplace": marketplace, "messaging_enabled": True}
        )
        if raw is None:
            return None
        doc = ConnectionDocument.model_validate(raw)
        return Destination(
            family=doc.family,
            base_url=doc.base_url,
            credentials=self._cipher.decrypt(doc.credentials),
            options=doc.options,
            connection_id=doc.id,
        )

    async def load_credentials(self, connection_id: str) -> dict[str, str] | None:
        """The connection's current credentials (another service may have rotated them)."""
        raw = await self._col.find_one({"_id": connection_id}, {"credentials": 1})
        return self._cipher.decrypt(raw["credentials"]) if raw else None

    def lock_for(self, connection_id: str) -> MongoRefreshLock:
        """The connection's refresh lock, shared with ingest (see parley_store)."""
        return MongoRefreshLock(self._col.database, connection_id)

    async def save_credentials(self, connection_id: str, credentials: dict[str, str]) -> None:
        """Writes back rotated OAuth tokens, encrypted like every credential."""
        await self._col.update_one(
            {"_id": connection_id}, {"$set": {"credentials": self._cipher.encrypt(credentials)}}
        )

"""Finds where a reply goes: the store's active connection to the marketplace."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from parley_platform.crypto import CredentialCipher
from parley_responder.ports import Destination
from parley_store import CONNECTIONS, ConnectionDocument


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
        )

"""Finds where a reply goes: the store's active connection to the marketplace.

It reads the connection's credentials as ingest, their one writer, last saved them
(Allegro's rotated OAuth tokens included); it never writes them.

Every reply asks, so the lookup is two reads by ``_id``: the (store, marketplace) key
document ingest keeps with the connection (``connection_keys``, see
:mod:`parley_store.connections`), then the connection it names. A connection turned
off for messaging, or one the key no longer describes, is no destination.
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from parley_platform.crypto import CredentialCipher
from parley_responder.ports import Destination
from parley_store import CONNECTIONS, ConnectionDocument
from parley_store.connections import CONNECTION_KEYS, connection_key_id


class MongoDestinationLookup:
    def __init__(self, db: AsyncDatabase[Any], cipher: CredentialCipher) -> None:
        self._col = db[CONNECTIONS]
        self._keys = db[CONNECTION_KEYS]
        self._cipher = cipher

    async def find(self, store_id: str, marketplace: str) -> Destination | None:
        key = await self._keys.find_one({"_id": connection_key_id(store_id, marketplace)})
        if key is None:
            return None
        raw = await self._col.find_one({"_id": key["connection_id"]})
        if raw is None:
            return None
        doc = ConnectionDocument.model_validate(raw)
        if (doc.store_id, doc.marketplace) != (store_id, marketplace):
            return None  # a stale key document
        if not doc.messaging_enabled:
            return None
        return Destination(
            family=doc.family,
            base_url=doc.base_url,
            credentials=self._cipher.decrypt(doc.credentials),
            options=doc.options,
            connection_id=doc.id,
            store_id=doc.store_id,
            marketplace=doc.marketplace,
        )

    async def load_credentials(self, connection_id: str) -> dict[str, str] | None:
        """The connection's current credentials (another service may have rotated them)."""
        raw = await self._col.find_one({"_id": connection_id}, {"credentials": 1})
        return self._cipher.decrypt(raw["credentials"]) if raw else None

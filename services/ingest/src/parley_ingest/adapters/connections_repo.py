"""MongoDB store of connections: settings, encrypted credentials, cursor and lease.

The lease (``lease_owner`` until ``lease_until``) is what keeps two ingest
instances, or two ticks of one, from syncing the same connection at once: it is
taken with one atomic ``find_one_and_update`` and expires by itself if an
instance dies mid-sync.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from parley_ingest.domain.connections import Connection, ConnectionHealth
from parley_platform.crypto import CredentialCipher
from parley_store import CONNECTIONS, ConnectionDocument, create_missing_indexes


class MongoConnectionRepository:
    def __init__(self, db: AsyncDatabase[Any], cipher: CredentialCipher) -> None:
        self._col = db[CONNECTIONS]
        self._cipher = cipher

    async def ensure_indexes(self) -> None:
        await create_missing_indexes(
            self._col.database,
            CONNECTIONS,
            [
                IndexModel([("next_sync_at", ASCENDING)], name="due"),
                IndexModel([("store_id", ASCENDING), ("marketplace", ASCENDING)], name="store"),
            ],
        )

    async def add(self, connection: Connection) -> None:
        doc = {
            "_id": connection.id,
            "store_id": connection.store_id,
            "family": connection.family,
            "marketplace": connection.marketplace,
            "base_url": connection.base_url,
            "credentials": self._cipher.encrypt(connection.credentials),
            "activated_at": connection.activated_at,
            "cursor": connection.cursor,
            "interval_seconds": connection.interval_seconds,
            "messaging_enabled": connection.messaging_enabled,
            "health": connection.health.value,
            "health_reason": connection.health_reason,
            "next_sync_at": connection.next_sync_at,
            "options": connection.options,
            "lease_owner": None,
            "lease_until": None,
        }
        await self._col.replace_one({"_id": connection.id}, doc, upsert=True)

    async def get(self, connection_id: str) -> Connection | None:
        doc = await self._col.find_one({"_id": connection_id})
        return self._from_doc(doc) if doc else None

    async def save_credentials(self, connection_id: str, credentials: dict[str, str]) -> None:
        """Replaces the encrypted credentials only: OAuth tokens rotate on refresh."""
        await self._col.update_one(
            {"_id": connection_id}, {"$set": {"credentials": self._cipher.encrypt(credentials)}}
        )

    async def find_for(self, store_id: str, marketplace: str) -> Connection | None:
        doc = await self._col.find_one({"store_id": store_id, "marketplace": marketplace})
        return self._from_doc(doc) if doc else None

    async def due_ids(self, now: datetime, limit: int) -> list[str]:
        cursor = self._col.find(
            {
                "messaging_enabled": True,
                "health": ConnectionHealth.OK.value,
                "$or": [{"next_sync_at": None}, {"next_sync_at": {"$lte": now}}],
            },
            {"_id": 1},
        ).limit(limit)
        return [str(doc["_id"]) async for doc in cursor]

    async def claim(
        self, connection_id: str, owner: str, now: datetime, lease_seconds: int
    ) -> Connection | None:
        doc = await self._col.find_one_and_update(
            {
                "_id": connection_id,
                "$or": [{"lease_until": None}, {"lease_until": {"$lt": now}}],
            },
            {"$set": {"lease_owner": owner, "lease_until": now + timedelta(seconds=lease_seconds)}},
            return_document=ReturnDocument.AFTER,
        )
        return self._from_doc(doc) if doc else None

    async def release(
        self,
        connection: Connection,
        owner: str,
        *,
        next_sync_at: datetime,
        failures: int = 0,
    ) -> None:
        """Saves the cursor and health and gives the lease back, in one update."""
        await self._col.update_one(
            {"_id": connection.id, "lease_owner": owner},
            {
                "$set": {
                    "cursor": connection.cursor,
                    "health": connection.health.value,
                    "health_reason": connection.health_reason,
                    "next_sync_at": next_sync_at,
                    "failures": failures,
                    "lease_owner": None,
                    "lease_until": None,
                }
            },
        )

    async def request_resync(self, connection_id: str) -> bool:
        result = await self._col.update_one(
            {"_id": connection_id}, {"$set": {"next_sync_at": None}}
        )
        return result.matched_count == 1

    async def failures(self, connection_id: str) -> int:
        doc = await self._col.find_one({"_id": connection_id}, {"failures": 1})
        return int(doc.get("failures", 0)) if doc else 0

    def _from_doc(self, raw: dict[str, Any]) -> Connection:
        doc = ConnectionDocument.model_validate(raw)
        return Connection(
            id=doc.id,
            store_id=doc.store_id,
            family=doc.family,
            marketplace=doc.marketplace,
            base_url=doc.base_url,
            credentials=self._cipher.decrypt(doc.credentials),
            activated_at=doc.activated_at,
            cursor=doc.cursor,
            interval_seconds=doc.interval_seconds,
            messaging_enabled=doc.messaging_enabled,
            health=ConnectionHealth(doc.health),
            health_reason=doc.health_reason,
            next_sync_at=doc.next_sync_at,
            options=doc.options,
        )

"""MongoDB store of connections: settings, encrypted credentials, cursor and lease.

The lease keeps two ingest instances from syncing the same connection at once. Time
is cut into slots of ``lease_seconds``; claiming a connection for a slot is inserting
the document ``<connection>#<slot>`` into ``connection_claims``, and only one insert
of an ``_id`` can succeed, on MongoDB and on FerretDB alike. (A conditional
``find_one_and_update`` would be atomic on MongoDB but is not on FerretDB v1, which
reads then writes: the lease test caught five winners out of eight.) A lease ends
with its slot, so a crashed instance holds nothing for long; a sync still running at
the end of its slot stops and leaves the cursor, so the next slot's owner redoes the
pass (idempotent downstream) instead of two running side by side. A claim made in the
second half of its slot also claims the next slot, so every pass gets at least half a
lease: a pass started a moment before the slot's end used to be cut at once, and the
whole pass redone by the next owner.

Every per-connection read and write is by ``_id``: the connection's own id, the claim
``<connection>#<slot>``, and the key documents of :mod:`parley_store.connections`
((store, marketplace) in ``connection_keys``, an email relay's inbound address in
``inbound_addresses``), written here with the connection. Claims are never searched
for: the connection notes its newest claims (``lease_ids``), which removing it deletes
by ``_id``; an older one only ever gated its own slot, gone by. (A claim id is
unambiguous whatever the connection id holds: the slot after the last ``#`` is
digits.) Scans remain only where the whole small collection is the answer: the
scheduler's due list, the needing-attention counts (metrics) and the operators'
listing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from parley_connectors.email_relay import normalize_address
from parley_ingest.domain.connections import Connection, ConnectionHealth
from parley_platform.crypto import CredentialCipher
from parley_store import (
    CONNECTIONS,
    ConnectionDocument,
    MongoRefreshLock,
    SyncError,
    create_missing_indexes,
)
from parley_store.connections import CONNECTION_KEYS, INBOUND_ADDRESSES, connection_key_id

CLAIMS = "connection_claims"
INBOUND_ADDRESS_OPTION = "inbound_address"


def inbound_address_of(connection: Connection | ConnectionDocument) -> str:
    """The email-relay connection's inbound address, normalised ('' when none)."""
    return normalize_address(connection.options.get(INBOUND_ADDRESS_OPTION, ""))


async def _drop_key(keys: AsyncCollection[Any], key_id: str, connection_id: str) -> None:
    """Deletes a key document if it still names this connection (another connection
    may have taken the key over). Read, then delete by ``_id`` alone: keys change only
    through operators' commands, never two at once for one key."""
    doc = await keys.find_one({"_id": key_id})
    if doc is not None and doc.get("connection_id") == connection_id:
        await keys.delete_one({"_id": key_id})


class MongoConnectionRepository:
    def __init__(self, db: AsyncDatabase[Any], cipher: CredentialCipher) -> None:
        self._col = db[CONNECTIONS]
        self._claims = db[CLAIMS]
        self._keys = db[CONNECTION_KEYS]
        self._addresses = db[INBOUND_ADDRESSES]
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
        }
        await self._col.replace_one({"_id": connection.id}, doc, upsert=True)
        # The keys after the connection: a key never names a connection not yet there.
        # A later add under the same key takes the key over (the newest wins).
        key_id = connection_key_id(connection.store_id, connection.marketplace)
        await self._keys.replace_one(
            {"_id": key_id}, {"_id": key_id, "connection_id": connection.id}, upsert=True
        )
        if address := inbound_address_of(connection):
            await self._addresses.replace_one(
                {"_id": address}, {"_id": address, "connection_id": connection.id}, upsert=True
            )

    async def get(self, connection_id: str) -> Connection | None:
        doc = await self._col.find_one({"_id": connection_id})
        return self._from_doc(doc) if doc else None

    def lock_for(self, connection_id: str) -> MongoRefreshLock:
        """The connection's refresh lock, shared with the responder (see parley_store)."""
        return MongoRefreshLock(self._col.database, connection_id)

    async def save_credentials(self, connection_id: str, credentials: dict[str, str]) -> None:
        """Replaces the encrypted credentials only: OAuth tokens rotate on refresh."""
        await self._col.update_one(
            {"_id": connection_id}, {"$set": {"credentials": self._cipher.encrypt(credentials)}}
        )

    async def find_for(self, store_id: str, marketplace: str) -> Connection | None:
        """The store's connection to the marketplace: its key document, then it."""
        key = await self._keys.find_one({"_id": connection_key_id(store_id, marketplace)})
        if key is None:
            return None
        doc = await self._col.find_one({"_id": key["connection_id"]})
        if doc is None or (doc["store_id"], doc["marketplace"]) != (store_id, marketplace):
            return None  # a stale key (see parley_store.connections)
        return self._from_doc(doc)

    async def find_by_address(self, address: str) -> Connection | None:
        """The email-relay connection whose inbound address this is."""
        normalized = normalize_address(address)
        if not normalized:
            return None
        key = await self._addresses.find_one({"_id": normalized})
        if key is None:
            return None
        doc = await self._col.find_one({"_id": key["connection_id"]})
        if doc is None:
            return None
        connection = self._from_doc(doc)
        return connection if inbound_address_of(connection) == normalized else None

    async def needing_attention(self) -> dict[str, int]:
        """Connections flagged for a person, per family; every family that has a
        connection is named (0 when none is flagged), so a family's count can fall."""
        counts = {str(family): 0 for family in await self._col.distinct("family")}
        pipeline: list[dict[str, Any]] = [
            {"$match": {"health": ConnectionHealth.NEEDS_ATTENTION.value}},
            {"$group": {"_id": "$family", "n": {"$sum": 1}}},
        ]
        async for doc in await self._col.aggregate(pipeline):
            counts[str(doc["_id"])] = int(doc["n"])
        return counts

    async def due_ids(self, now: datetime, limit: int) -> list[str]:
        cursor = self._col.find(
            {
                "messaging_enabled": True,
                "health": ConnectionHealth.OK.value,
                "$or": [{"next_sync_at": None}, {"next_sync_at": {"$lte": now}}],
            },
            {"_id": 1},
        )
        # Longest waiting first (never synced, or a resync asked: null sorts first).
        # Unsorted, the server answered in insertion order, so once more connections
        # were due than a tick takes, the oldest ones were served every time and a
        # newer one waited minutes (an e2e thread never showed within 60 s).
        cursor = cursor.sort("next_sync_at", ASCENDING).limit(limit)
        return [str(doc["_id"]) async for doc in cursor]

    async def claim(
        self, connection_id: str, owner: str, now: datetime, lease_seconds: int
    ) -> Connection | None:
        """The connection with its lease deadline, or None when another instance has it."""
        slot = int(now.timestamp()) // lease_seconds
        claim_id = f"{connection_id}#{slot}"
        if not await self._claim_one(claim_id, owner, now):
            return None
        doc = await self._col.find_one({"_id": connection_id})
        due = doc is not None and (doc.get("next_sync_at") is None or doc["next_sync_at"] <= now)
        if doc is None or not due:  # synced by the previous slot's owner meanwhile
            await self._claims.delete_one({"_id": claim_id})
            return None
        claims = [claim_id]
        slot_end = (slot + 1) * lease_seconds
        if slot_end - now.timestamp() < lease_seconds / 2 and await self._claim_one(
            f"{connection_id}#{slot + 1}", owner, now
        ):
            claims.append(f"{connection_id}#{slot + 1}")
            slot_end += lease_seconds
        # The newest claims are noted on the connection, so removing it finds them by _id.
        await self._col.update_one({"_id": connection_id}, {"$set": {"lease_ids": claims}})
        deadline = datetime.fromtimestamp(slot_end, UTC)
        return replace(self._from_doc(doc), lease_ids=tuple(claims), lease_deadline=deadline)

    async def _claim_one(self, claim_id: str, owner: str, now: datetime) -> bool:
        """Only one insert of a claim's _id succeeds: the winner holds that slot."""
        try:
            await self._claims.insert_one({"_id": claim_id, "owner": owner, "at": now})
        except DuplicateKeyError:
            return False
        return True

    async def release(
        self,
        connection: Connection,
        owner: str,
        *,
        next_sync_at: datetime,
        failures: int = 0,
        synced_at: datetime | None = None,
        error: SyncError | None = None,
    ) -> None:
        """Saves the sync's outcome, then gives the lease back.

        The cursor only moves forward (``$max``), whatever order releases land in. A
        complete pass (``synced_at``) clears the last error and the failure count; a
        failed one (``error``) records it and counts one more consecutive failure.
        """
        changes: dict[str, Any] = {
            "health": connection.health.value,
            "health_reason": connection.health_reason,
            "next_sync_at": next_sync_at,
            "failures": failures,
        }
        update: dict[str, Any] = {"$max": {"cursor": connection.cursor}}
        if synced_at is not None:
            changes |= {"last_sync_at": synced_at, "last_error": None, "consecutive_failures": 0}
        elif error is not None:
            changes["last_error"] = error.model_dump(mode="python")
            update["$inc"] = {"consecutive_failures": 1}
        update["$set"] = changes
        await self._col.update_one({"_id": connection.id}, update)
        # By _id alone: a claim id names one slot of one connection, and only the
        # instance whose insert of it won holds it (claim() deletes its own only).
        for claim_id in connection.lease_ids:
            await self._claims.delete_one({"_id": claim_id})

    async def request_resync(self, connection_id: str, *, retry_attention: bool = False) -> bool:
        """Due at once; ``retry_attention`` also retries a connection whose credentials
        were refused (a person says they are fixed at the marketplace)."""
        changes: dict[str, Any] = {"next_sync_at": None}
        if retry_attention:
            changes |= {"health": ConnectionHealth.OK.value, "health_reason": None}
        result = await self._col.update_one({"_id": connection_id}, {"$set": changes})
        return result.matched_count == 1

    async def set_enabled(self, connection_id: str, enabled: bool) -> bool:
        """Messaging on or off; turning it on also retries a connection flagged
        needs_attention, at once. False when there is no such connection."""
        changes: dict[str, Any] = {"messaging_enabled": enabled}
        if enabled:
            changes |= {
                "health": ConnectionHealth.OK.value,
                "health_reason": None,
                "next_sync_at": None,
            }
        result = await self._col.update_one({"_id": connection_id}, {"$set": changes})
        return result.matched_count == 1

    async def remove(self, connection_id: str) -> bool:
        """Deletes the connection, its newest sync lease and its key documents; False
        when there was none. (Older claims, of slots gone by, gate nothing any more.)"""
        doc = await self._col.find_one({"_id": connection_id})
        if doc is None:
            return False
        result = await self._col.delete_one({"_id": connection_id})
        for claim_id in doc.get("lease_ids") or ():
            await self._claims.delete_one({"_id": claim_id})
        known = ConnectionDocument.model_validate(doc)
        await _drop_key(self._keys, connection_key_id(known.store_id, known.marketplace), known.id)
        if address := inbound_address_of(known):
            await _drop_key(self._addresses, address, known.id)
        return result.deleted_count == 1

    async def describe(self, connection_id: str) -> ConnectionDocument | None:
        """The stored document (credentials still encrypted), for operators' views."""
        doc = await self._col.find_one({"_id": connection_id})
        return ConnectionDocument.model_validate(doc) if doc else None

    async def list_documents(self, store_id: str | None = None) -> list[ConnectionDocument]:
        """Every connection, or those of one store, by store then id."""
        query = {} if store_id is None else {"store_id": store_id}
        cursor = self._col.find(query).sort([("store_id", ASCENDING), ("_id", ASCENDING)])
        return [ConnectionDocument.model_validate(doc) async for doc in cursor]

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

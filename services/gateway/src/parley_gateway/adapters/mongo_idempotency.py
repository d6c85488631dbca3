"""Idempotency key records in MongoDB / FerretDB (the gateway's own collection).

Every hot read and write goes by ``_id`` (account + key digest), the one filter FerretDB
v1 pushes down. The claim guards (``claim`` next to ``_id``) narrow an ``_id`` match,
as the delivery outbox's conditions do.

Expiry: ``expires_at`` is a BSON date, checked on every read by the service. Where the
server has TTL indexes (MongoDB) one on ``expires_at`` deletes expired records; where it
has not (FerretDB v1 refuses ``expireAfterSeconds``) a plain index of the same field
serves the service's periodic purge instead.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import Binary
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError

from parley_gateway.domain.idempotency import IdempotencyRecord, RecordState, StoredResponse
from parley_platform.logging import get_logger
from parley_store.collections import IDEMPOTENCY_KEYS, create_missing_indexes

log = get_logger(__name__)

TTL_INDEX = IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expires_at_ttl")
PLAIN_INDEX = IndexModel([("expires_at", ASCENDING)], name="expires_at")


async def ensure_idempotency_indexes(db: AsyncDatabase[Any]) -> None:
    """The TTL index where the server supports it, the plain one otherwise."""
    existing = set(await db[IDEMPOTENCY_KEYS].index_information())
    if existing & {"expires_at_ttl", "expires_at"}:
        return
    try:
        await create_missing_indexes(db, IDEMPOTENCY_KEYS, [TTL_INDEX])
    except OperationFailure as exc:
        log.info("no TTL index on this server; expired keys are purged", reason=exc.code)
        await create_missing_indexes(db, IDEMPOTENCY_KEYS, [PLAIN_INDEX])


def _to_document(record: IdempotencyRecord) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "_id": record.id,
        "account_id": record.account_id,
        "fingerprint": record.fingerprint,
        "state": record.state.value,
        "claim": record.claim,
        "created_at": record.created_at,
        "expires_at": record.expires_at,
        "locked_until": record.locked_until,
    }
    if record.response is not None:
        doc["response"] = _response_document(record.response)
    return doc


def _response_document(response: StoredResponse) -> dict[str, Any]:
    return {
        "status": response.status,
        "body": Binary(response.body),
        # Documents, not pairs: FerretDB v1 stores no nested arrays.
        "headers": [{"name": name, "value": value} for name, value in response.headers],
    }


def _from_document(doc: dict[str, Any]) -> IdempotencyRecord:
    stored = doc.get("response")
    response = (
        StoredResponse(
            status=int(stored["status"]),
            body=bytes(stored["body"]),
            headers=tuple((str(h["name"]), str(h["value"])) for h in stored["headers"]),
        )
        if stored
        else None
    )
    return IdempotencyRecord(
        id=doc["_id"],
        account_id=doc["account_id"],
        fingerprint=doc["fingerprint"],
        state=RecordState(doc["state"]),
        claim=doc["claim"],
        created_at=doc["created_at"],
        expires_at=doc["expires_at"],
        locked_until=doc["locked_until"],
        response=response,
    )


class MongoIdempotencyStore:
    """Creates its expiry index on first use, so start-up needs no extra step (and a
    gateway started while the database is down still starts)."""

    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self._db = db
        self._col = db[IDEMPOTENCY_KEYS]
        self._indexed = False

    async def _ensure_index(self) -> None:
        if self._indexed:
            return
        try:
            await ensure_idempotency_indexes(self._db)
        except PyMongoError as exc:
            log.warning("idempotency index not ensured yet", error=type(exc).__name__)
            return
        self._indexed = True

    async def insert(self, record: IdempotencyRecord) -> IdempotencyRecord | None:
        await self._ensure_index()
        for _ in range(3):
            try:
                await self._col.insert_one(_to_document(record))
            except DuplicateKeyError:
                existing = await self._col.find_one({"_id": record.id})
                if existing is not None:
                    return _from_document(existing)
                continue  # released or purged in between: insert again
            return None
        raise RuntimeError("idempotency record keeps vanishing; giving up")

    async def replace_claim(self, stale: IdempotencyRecord, record: IdempotencyRecord) -> bool:
        result = await self._col.replace_one(
            {"_id": stale.id, "claim": stale.claim}, _to_document(record)
        )
        return result.modified_count == 1

    async def complete(
        self, record_id: str, claim: str, response: StoredResponse, expires_at: datetime
    ) -> None:
        await self._col.update_one(
            {"_id": record_id, "claim": claim},
            {
                "$set": {
                    "state": RecordState.COMPLETED.value,
                    "response": _response_document(response),
                    "expires_at": expires_at,
                }
            },
        )

    async def release(self, record_id: str, claim: str) -> None:
        await self._col.delete_one({"_id": record_id, "claim": claim})

    async def purge_expired(self, now: datetime) -> int:
        result = await self._col.delete_many({"expires_at": {"$lte": now}})
        return result.deleted_count

"""MongoDB adapter of :class:`~parley_gateway.sessions.SessionRepository`.

``web_sessions``: ``{_id: digest of the cookie's secret, account_id, key_id,
created_at, expires_at}``. Every read and write on the request path goes by ``_id``,
the one filter FerretDB v1 pushes down. Expired sessions are refused by the service and
deleted when they are next presented; those never presented again are deleted by the
gateway's periodic sweep (:meth:`MongoSessionRepository.delete_expired`, one
``delete_many`` on ``expires_at``) and, where the server has TTL indexes (MongoDB), by
a TTL index on ``expires_at`` too (FerretDB v1 refuses it: a plain index is kept, which
the sweep uses).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure, PyMongoError

from parley_gateway.sessions import WebSession
from parley_platform.logging import get_logger
from parley_schemas import as_utc
from parley_store.collections import WEB_SESSIONS, create_missing_indexes

log = get_logger(__name__)

TTL_INDEX = IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expires_at_ttl")
PLAIN_INDEX = IndexModel([("expires_at", ASCENDING)], name="expires_at")


async def ensure_session_indexes(db: AsyncDatabase[Any]) -> None:
    """The TTL index where the server supports it, the plain one otherwise."""
    existing = set(await db[WEB_SESSIONS].index_information())
    if existing & {"expires_at_ttl", "expires_at"}:
        return
    try:
        await create_missing_indexes(db, WEB_SESSIONS, [TTL_INDEX])
    except OperationFailure as exc:
        log.info("no TTL index on this server; expired sessions go when presented", reason=exc.code)
        await create_missing_indexes(db, WEB_SESSIONS, [PLAIN_INDEX])


class MongoSessionRepository:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self._db = db
        self._sessions = db[WEB_SESSIONS]
        self._indexed = False

    async def add(self, session: WebSession) -> None:
        if not self._indexed:
            try:  # once per process, on the first sign-in: not on the hot read path
                await ensure_session_indexes(self._db)
                self._indexed = True
            except PyMongoError as exc:
                log.warning("session indexes not ensured", error=type(exc).__name__)
        await self._sessions.insert_one(
            {
                "_id": session.id,
                "account_id": session.account_id,
                "key_id": session.key_id,
                "created_at": session.created_at,
                "expires_at": session.expires_at,
            }
        )

    async def get(self, session_id: str) -> WebSession | None:
        doc = await self._sessions.find_one({"_id": session_id})
        if doc is None:
            return None
        return WebSession(
            id=str(doc["_id"]),
            account_id=str(doc["account_id"]),
            key_id=str(doc["key_id"]),
            created_at=as_utc(doc["created_at"]),
            expires_at=as_utc(doc["expires_at"]),
        )

    async def delete(self, session_id: str) -> None:
        await self._sessions.delete_one({"_id": session_id})

    async def delete_expired(self, now: datetime) -> int:
        result = await self._sessions.delete_many({"expires_at": {"$lte": now}})
        return int(result.deleted_count)

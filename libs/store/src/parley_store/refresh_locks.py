"""Per-connection refresh locks, shared by every service that refreshes OAuth tokens.

Ingest and the responder both hold an Allegro connection's tokens, and a refresh
spends the refresh token: only one process may refresh a connection at a time. The
claim is the insert of a document whose ``_id`` is the connection id, because only
one insert of an ``_id`` can succeed, on MongoDB and on FerretDB alike (a conditional
update is not atomic on FerretDB v1). The claim carries an expiry: a holder that
crashed mid-refresh blocks the others for that long at most, then its claim is
deleted by the next one who asks. Release deletes only the holder's own claim.

Every access is by the ``_id`` (the connection id). The two deletes also carry a guard
(``expires_at`` past, or ``owner`` mine), which makes "only a stale claim" and "only my
claim" atomic on MongoDB; FerretDB v1/SQLite pushes down only a filter that is exactly
``{_id: value}``, so there the guard costs a read of this collection, which holds only
the claims of refreshes in flight (a handful of documents).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from parley_schemas import utcnow

REFRESH_LOCKS = "token_refresh_locks"
# Longer than a grant (30 s timeout) plus the save's retries, shorter than patience.
DEFAULT_LOCK_TTL = timedelta(seconds=60)


class MongoRefreshLock:
    """One process's claim on refreshing one connection's tokens."""

    def __init__(
        self,
        db: AsyncDatabase[Any],
        connection_id: str,
        *,
        ttl: timedelta = DEFAULT_LOCK_TTL,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._col = db[REFRESH_LOCKS]
        self._id = connection_id
        self._ttl = ttl
        self._clock = clock
        self._owner = uuid.uuid4().hex

    async def acquire(self) -> bool:
        now = self._clock()
        claim = {"_id": self._id, "owner": self._owner, "expires_at": now + self._ttl}
        try:
            await self._col.insert_one(claim)
            return True
        except DuplicateKeyError:
            pass
        # A claim past its expiry belongs to a holder that died: clear it, try once more.
        stale = await self._col.delete_one({"_id": self._id, "expires_at": {"$lt": now}})
        if not stale.deleted_count:
            return False
        try:
            await self._col.insert_one(claim)
            return True
        except DuplicateKeyError:
            return False

    async def release(self) -> None:
        await self._col.delete_one({"_id": self._id, "owner": self._owner})

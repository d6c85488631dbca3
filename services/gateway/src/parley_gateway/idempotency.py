"""Use case of idempotency keys: run a mutating request once, answer repeats with its
first result (see :mod:`parley_gateway.domain.idempotency` for the rules).

The HTTP edge (:mod:`parley_gateway.api.idempotency`) calls :meth:`begin` before the
request runs and :meth:`finish` with its response, so every mutating REST route and
the GraphQL endpoint get the same behaviour without each handler knowing about it.
The store's port is declared here, next to its only user.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from parley_gateway.domain.idempotency import (
    IN_PROGRESS_RETRY_AFTER,
    RESULT_TTL,
    IdempotencyKeyInProgress,
    IdempotencyKeyReused,
    IdempotencyRecord,
    RecordState,
    StoredResponse,
    Verdict,
    check_key,
    judge,
    new_claim,
    should_keep,
)
from parley_platform.logging import get_logger
from parley_schemas import utcnow

log = get_logger(__name__)

# How often expired records are deleted where the server has no TTL index (FerretDB).
PURGE_EVERY = timedelta(minutes=10)
_CLAIM_ATTEMPTS = 3


class IdempotencyStore(Protocol):
    """The records of idempotency keys, by ``_id`` (account + key digest) only."""

    async def insert(self, record: IdempotencyRecord) -> IdempotencyRecord | None:
        """Stores ``record`` unless its id exists; then returns the existing record."""
        ...

    async def replace_claim(self, stale: IdempotencyRecord, record: IdempotencyRecord) -> bool:
        """Replaces ``stale`` (still holding its claim) by ``record``; False if another
        request took it over first."""
        ...

    async def complete(
        self, record_id: str, claim: str, response: StoredResponse, expires_at: datetime
    ) -> None:
        """Keeps the first result; a no-op when the claim is no longer this request's."""
        ...

    async def release(self, record_id: str, claim: str) -> None:
        """Frees the key (deletes the record) if ``claim`` still holds it."""
        ...

    async def purge_expired(self, now: datetime) -> int:
        """Deletes records expired before ``now``; how many."""
        ...


@dataclass(frozen=True)
class Begun:
    """This request holds the key: run it, then :meth:`IdempotencyService.finish`."""

    record: IdempotencyRecord


@dataclass(frozen=True)
class Replay:
    """The key's first result, to send again as it is."""

    response: StoredResponse


class IdempotencyService:
    def __init__(
        self,
        store: IdempotencyStore,
        *,
        clock: Callable[[], datetime] = utcnow,
        new_token: Callable[[], str] = lambda: secrets.token_hex(16),
        purges: bool = True,
    ) -> None:
        self._store = store
        self._clock = clock
        self._new_token = new_token
        self._purges = purges
        self._next_purge: datetime | None = None
        self._purge_task: asyncio.Task[None] | None = None

    async def begin(self, account_id: str, key: str, request_fingerprint: str) -> Begun | Replay:
        """Claims the key for this request, or says what to answer instead.

        Raises InvalidIdempotencyKey, IdempotencyKeyReused (the key belongs to another
        request) or IdempotencyKeyInProgress (the first request has not finished).
        """
        check_key(key)
        await self._purge_now_and_then()
        for _ in range(_CLAIM_ATTEMPTS):
            now = self._clock()
            record = new_claim(account_id, key, request_fingerprint, self._new_token(), now)
            existing = await self._store.insert(record)
            if existing is None:
                return Begun(record)
            verdict = judge(existing, request_fingerprint, now)
            if verdict is Verdict.REPLAY and existing.response is not None:
                return Replay(existing.response)
            if verdict is Verdict.MISMATCH:
                raise IdempotencyKeyReused()
            if verdict is Verdict.IN_PROGRESS:
                raise IdempotencyKeyInProgress(IN_PROGRESS_RETRY_AFTER)
            if await self._store.replace_claim(existing, record):
                log.info("idempotency key taken over", record_id=record.id, was=existing.state)
                return Begun(record)
        # Others kept taking it over meanwhile: as good as in progress.
        raise IdempotencyKeyInProgress(IN_PROGRESS_RETRY_AFTER)

    async def finish(self, begun: Begun, response: StoredResponse) -> None:
        """Keeps the result for 24 h, or frees the key after a 5xx (nothing to replay)."""
        record = begun.record
        if should_keep(response.status):
            await self._store.complete(
                record.id, record.claim, response, self._clock() + RESULT_TTL
            )
        else:
            await self._store.release(record.id, record.claim)

    async def abandon(self, begun: Begun) -> None:
        """The request failed without a response (an error, a client gone): free the key."""
        await self._store.release(begun.record.id, begun.record.claim)

    async def _purge_now_and_then(self) -> None:
        """Starts a purge in the background at most every PURGE_EVERY: on FerretDB the
        delete scans the collection, which no request should wait for."""
        if not self._purges:
            return
        now = self._clock()
        if self._next_purge is not None and now < self._next_purge:
            return
        self._next_purge = now + PURGE_EVERY
        if self._purge_task is None or self._purge_task.done():
            self._purge_task = asyncio.create_task(self._purge(now))

    async def _purge(self, now: datetime) -> None:
        try:
            purged = await self._store.purge_expired(now)
        except Exception as exc:  # housekeeping must never fail a request
            # No traceback, as for the session sweep: it would stall the event loop.
            log.warning("expired idempotency keys not purged", error=type(exc).__name__)
            return
        if purged:
            log.info("expired idempotency keys purged", count=purged)


def completed(
    record: IdempotencyRecord, response: StoredResponse, expires_at: datetime
) -> IdempotencyRecord:
    """``record`` with its first result (used by stores that hold records in memory)."""
    return replace(record, state=RecordState.COMPLETED, response=response, expires_at=expires_at)

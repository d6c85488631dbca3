"""The one scheduler for every connection, safe to run on several ingest instances.

Each tick asks for due connections and claims each with a lease before syncing it,
so a connection is synced by one instance at a time; syncs run concurrently up
to a bound, and a connection already running here is never started twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from functools import partial

from parley_ingest.domain.connections import Connection, backoff_run
from parley_ingest.ports import ConnectionRepository, EventPublisher
from parley_ingest.sync import SyncOutcome, SyncService, sync_error
from parley_platform.logging import get_logger
from parley_platform.metrics import SYNC_DURATION, SYNCS
from parley_platform.metrics import SyncOutcome as Counted
from parley_platform.tracing import job_span
from parley_schemas import (
    CONNECTION_HEALTH_CHANGED,
    ConnectionHealthChanged,
    Envelope,
    utcnow,
)
from parley_store import SyncErrorKind

log = get_logger(__name__)


class Scheduler:
    def __init__(
        self,
        repo: ConnectionRepository,
        service: SyncService,
        *,
        owner: str,
        tick_seconds: float,
        lease_seconds: int,
        max_concurrent: int,
        events: EventPublisher | None = None,
    ) -> None:
        """``events``: where health changes are announced; None announces nothing."""
        self._events = events
        self._repo = repo
        self._service = service
        self._owner = owner
        self._tick = tick_seconds
        self._lease = lease_seconds
        self._max = max_concurrent
        self._running: dict[str, asyncio.Task[None]] = {}
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("scheduler tick failed; trying again next tick")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._tick)

    async def stop(self) -> None:
        self._stopping.set()
        if self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def tick(self) -> None:
        free = self._max - len(self._running)
        if free <= 0:
            return
        now = utcnow()
        for connection_id in await self._repo.due_ids(now, limit=free + len(self._running)):
            if connection_id in self._running or len(self._running) >= self._max:
                continue
            connection = await self._repo.claim(connection_id, self._owner, now, self._lease)
            if connection is None:  # another instance holds it
                continue
            task = asyncio.create_task(self._sync(connection), name=f"sync:{connection_id}")
            self._running[connection_id] = task
            task.add_done_callback(partial(self._finished, connection_id))

    def _finished(self, connection_id: str, _task: asyncio.Task[None]) -> None:
        self._running.pop(connection_id, None)

    async def _sync(self, connection: Connection) -> None:
        """One scheduled poll, in a trace of its own: its snapshots carry the context."""
        with job_span(
            f"poll {connection.family}",
            {
                "parley.connection.id": connection.id,
                "parley.store.id": connection.store_id,
                "parley.marketplace": connection.marketplace,
            },
        ):
            await self._poll(connection)

    async def _poll(self, connection: Connection) -> None:
        failures = await self._repo.failures(connection.id)
        started = time.perf_counter()
        try:
            outcome = await self._service.sync(connection, utcnow(), failures)
        except Exception as exc:
            # A bug or infrastructure fault: keep the cursor, retry after the interval.
            log.exception("sync failed", connection_id=connection.id)
            _count(connection, Counted.ERROR, started)
            now = utcnow()
            await self._repo.release(
                connection,
                self._owner,
                next_sync_at=backoff_run(now, failures + 1),
                failures=failures + 1,
                error=sync_error(connection, SyncErrorKind.INTERNAL, exc, now),
            )
            return
        _count(connection, counted_outcome(outcome), started)
        await self._repo.release(
            outcome.connection,
            self._owner,
            next_sync_at=outcome.next_sync_at,
            failures=outcome.failures,
            synced_at=utcnow() if outcome.completed else None,
            error=outcome.error,
        )
        await self._announce_health(connection, outcome.connection)

    async def _announce_health(self, before: Connection, after: Connection) -> None:
        """connection.health_changed once the pass stored a different health. Logged,
        not raised, when it cannot be published: the health is stored either way."""
        if self._events is None or before.health is after.health:
            return
        event = Envelope[ConnectionHealthChanged](
            source="/parley/ingest",
            type=CONNECTION_HEALTH_CHANGED.name,
            subject=after.id,
            data=ConnectionHealthChanged(
                connection_id=after.id,
                store_id=after.store_id,
                marketplace=after.marketplace,
                family=after.family,
                health=after.health.value,
                previous_health=before.health.value,
                reason=after.health_reason,
                changed_at=utcnow(),
            ),
        )
        try:
            await self._events.publish(event)
        except Exception:
            log.exception("connection health stored but not announced", connection_id=after.id)


def counted_outcome(outcome: SyncOutcome) -> Counted:
    """The ``parley_syncs`` outcome of a pass (a fixed set, whatever the error says)."""
    if outcome.completed:
        return Counted.OK
    if outcome.error is None:
        return Counted.INTERRUPTED  # the lease ended mid-pass
    return {
        SyncErrorKind.AUTH_FAILED: Counted.AUTH_FAILED,
        SyncErrorKind.UNAVAILABLE: Counted.UNAVAILABLE,
        SyncErrorKind.RATE_LIMITED: Counted.RATE_LIMITED,
    }.get(outcome.error.kind, Counted.ERROR)


def _count(connection: Connection, outcome: Counted, started: float) -> None:
    SYNCS.labels(connection.family, outcome).inc()
    SYNC_DURATION.labels(connection.family).observe(time.perf_counter() - started)

"""Syncing one connection: pull changed threads, publish snapshots, move the cursor.

The cursor moves only after every snapshot of the pass is acknowledged by Kafka;
a pass cut short is simply repeated, which the normalizer's deduplication makes
harmless. Marketplace faults never crash the scheduler: they decide when to try
again and, for refused credentials, flag the connection for a person.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from parley_connectors.errors import (
    AuthenticationFailed,
    MarketplaceError,
    MarketplaceUnavailable,
    NotFound,
    RateLimited,
)
from parley_connectors.registry import UnknownFamily
from parley_ingest.domain.connections import Connection, ConnectionHealth, backoff_run, next_run
from parley_ingest.ports import (
    AttachmentSource,
    Connector,
    ConnectorFactory,
    EventPublisher,
    FileStore,
    MalformedThread,
    SnapshotSink,
)
from parley_platform.logging import get_logger
from parley_schemas import (
    ATTACHMENT_STORED,
    AttachmentRef,
    AttachmentStored,
    Envelope,
    RawThreadSnapshot,
    utcnow,
)
from parley_store import SyncError, SyncErrorKind, safe_error_message

log = get_logger(__name__)


@dataclass(frozen=True)
class SyncOutcome:
    """What a pass did. ``completed``: it reached the end (the connection is healthy);
    ``error``: why it failed. Neither: it was cut short by the end of its lease."""

    connection: Connection
    next_sync_at: datetime
    failures: int
    published: int = 0
    dead_lettered: int = 0
    completed: bool = False
    error: SyncError | None = None


def sync_error(
    connection: Connection, kind: SyncErrorKind, exc: BaseException, at: datetime
) -> SyncError:
    """The error to record on the connection: never a credential, a query string or
    the text of an unexpected exception (which may carry anything)."""
    if isinstance(exc, MarketplaceError):
        message = str(exc) or type(exc).__name__
    else:
        message = f"internal error ({type(exc).__name__}); see the ingest logs"
    return SyncError(
        kind=kind,
        message=safe_error_message(message, connection.credentials.values()),
        at=at,
    )


DEFAULT_MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
_EVENTS = uuid.UUID("3f1e2d4c-5b6a-4978-8e1d-0c2b3a495867")


class SyncService:
    def __init__(
        self,
        connectors: ConnectorFactory,
        sink: SnapshotSink,
        files: FileStore | None = None,
        max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
        clock: Callable[[], datetime] = utcnow,
        events: EventPublisher | None = None,
    ) -> None:
        """``events``: where stored attachments are announced; None announces nothing."""
        self._events = events
        self._connectors = connectors
        self._sink = sink
        self._files = files
        self._max_attachment_bytes = max_attachment_bytes
        self._clock = clock

    async def sync(self, connection: Connection, now: datetime, failures: int = 0) -> SyncOutcome:
        try:
            connector = self._connectors(connection)
        except UnknownFamily as exc:
            return self._unregistered(connection, now, exc)
        newest = connection.cursor
        published = dead = 0
        try:
            async for item in connector.changes_since(connection.cursor):
                deadline = connection.lease_deadline
                if deadline is not None and self._clock() >= deadline:
                    log.warning(
                        "lease ended mid-sync; the next owner redoes the pass",
                        connection_id=connection.id,
                        published=published,
                    )
                    return SyncOutcome(connection, self._clock(), failures, published, dead)
                if isinstance(item, MalformedThread):
                    log.warning(
                        "malformed thread dead-lettered",
                        connection_id=connection.id,
                        thread_id=item.thread_id,
                        reason=item.reason,
                    )
                    await self._sink.dead_letter(connection, item)
                    dead += 1
                    continue
                await self._sink.publish(await self._with_files(connector, connection, item))
                published += 1
                if item.updated_at is not None:
                    newest = max(newest, item.updated_at)
        except RateLimited as exc:
            log.warning("rate limited", connection_id=connection.id, retry_after=exc.retry_after)
            return SyncOutcome(
                connection,
                _after(now, exc.retry_after),
                failures,
                published,
                dead,
                error=sync_error(connection, SyncErrorKind.RATE_LIMITED, exc, now),
            )
        except AuthenticationFailed as exc:
            log.error("credentials refused", connection_id=connection.id, error=str(exc))
            refused = sync_error(connection, SyncErrorKind.AUTH_FAILED, exc, now)
            flagged = replace(
                connection,
                health=ConnectionHealth.NEEDS_ATTENTION,
                health_reason=f"the marketplace refused the credentials: {refused.message}",
            )
            return SyncOutcome(
                flagged,
                next_run(now, connection.interval_seconds),
                0,
                published,
                dead,
                error=refused,
            )
        except MarketplaceUnavailable as exc:
            log.warning("marketplace unavailable", connection_id=connection.id, error=str(exc))
            return SyncOutcome(
                connection,
                backoff_run(now, failures + 1),
                failures + 1,
                published,
                dead,
                error=sync_error(connection, SyncErrorKind.UNAVAILABLE, exc, now),
            )
        finally:
            await connector.aclose()
        log.info(
            "connection synced",
            connection_id=connection.id,
            published=published,
            dead_lettered=dead,
            cursor=newest.isoformat(),
        )
        return SyncOutcome(
            connection.advanced_to(newest),
            next_run(now, connection.interval_seconds),
            0,
            published,
            dead,
            completed=True,
        )

    def _unregistered(
        self, connection: Connection, now: datetime, exc: UnknownFamily
    ) -> SyncOutcome:
        """A stored connection whose family no folder declares (removed, or a typo): a
        person must act, so it is flagged with the reason and polled at its normal
        pace, not retried in a loop."""
        log.error("family not registered", connection_id=connection.id, error=str(exc))
        flagged = replace(
            connection, health=ConnectionHealth.NEEDS_ATTENTION, health_reason=str(exc)
        )
        error = SyncError(kind=SyncErrorKind.INTERNAL, message=str(exc), at=now)
        return SyncOutcome(
            flagged, next_run(now, connection.interval_seconds), 0, 0, 0, error=error
        )

    async def sync_thread(self, connection: Connection, thread_id: str) -> bool:
        """Manual resync of one discussion: fetch it now and publish it.

        Returns False when the marketplace answered with something unreadable (it is
        dead-lettered). Marketplace faults propagate to the caller, who retries.
        """
        connector = self._connectors(connection)
        try:
            item = await connector.fetch_thread(thread_id)
            if isinstance(item, MalformedThread):
                await self._sink.dead_letter(connection, item)
                return False
            await self._sink.publish(await self._with_files(connector, connection, item))
            return True
        finally:
            await connector.aclose()

    async def _with_files(
        self, connector: Connector, connection: Connection, snapshot: RawThreadSnapshot
    ) -> RawThreadSnapshot:
        """Downloads attachments into Parley's storage once (F4) and references them.

        A file the marketplace no longer has, or one over the size limit, stays
        referenced by its marketplace id only; marketplace faults propagate, so the
        sync is retried and the cursor does not move past a file we could not fetch.
        """
        if self._files is None or not isinstance(connector, AttachmentSource):
            return snapshot
        messages = []
        for message in snapshot.messages:
            refs = []
            for ref in message.attachments:
                stored = await self._store(connector, connection, ref)
                if stored.file_id and not ref.file_id:
                    await self._announce(snapshot, message.marketplace_message_id, stored)
                refs.append(stored)
            messages.append(message.model_copy(update={"attachments": refs}))
        return snapshot.model_copy(update={"messages": messages})

    async def _announce(
        self, snapshot: RawThreadSnapshot, message_id: str | None, ref: AttachmentRef
    ) -> None:
        """attachment.stored, with an id derived from the file: a file referenced again
        by a later pass is announced with the same id (a duplicate consumers drop)."""
        if self._events is None or ref.file_id is None:
            return
        key = snapshot.key
        await self._events.publish(
            Envelope[AttachmentStored](
                id=uuid.uuid5(_EVENTS, f"{key}/{ref.file_id}").hex,
                source="/parley/ingest",
                type=ATTACHMENT_STORED.name,
                subject=str(key),
                data=AttachmentStored(
                    discussion_id=key.discussion_id,
                    store_id=snapshot.store_id,
                    marketplace=snapshot.marketplace,
                    thread_id=snapshot.thread_id,
                    marketplace_message_id=message_id,
                    marketplace_attachment_id=ref.marketplace_attachment_id,
                    file_id=ref.file_id,
                    name=ref.name,
                    size=ref.size,
                    content_type=ref.content_type,
                    stored_at=self._clock(),
                ),
            )
        )

    async def _store(
        self, source: AttachmentSource, connection: Connection, ref: AttachmentRef
    ) -> AttachmentRef:
        assert self._files is not None
        if ref.file_id or not ref.marketplace_attachment_id:
            return ref
        key = f"{connection.id}/{ref.marketplace_attachment_id}"
        file_id = await self._files.find(key)
        if file_id is None:
            if ref.size is not None and ref.size > self._max_attachment_bytes:
                log.warning("attachment over the size limit left at the marketplace", key=key)
                return ref
            try:
                fetched = await source.fetch_attachment(ref)
            except NotFound:
                log.warning("attachment gone from the marketplace", key=key)
                return ref
            if len(fetched.content) > self._max_attachment_bytes:
                log.warning("attachment over the size limit left at the marketplace", key=key)
                return ref
            file_id = await self._files.save(
                key,
                fetched.name or ref.name,
                fetched.content_type,
                fetched.content,
                connection_id=connection.id,
            )
            ref = ref.model_copy(
                update={"content_type": fetched.content_type, "size": len(fetched.content)}
            )
        return ref.model_copy(update={"file_id": file_id})


def _after(now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=max(1.0, seconds))

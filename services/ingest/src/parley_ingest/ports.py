"""What the ingest service layer needs: connectors, a snapshot sink, connection storage."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from parley_ingest.domain.connections import Connection
from parley_schemas import AttachmentRef, Envelope, RawThreadSnapshot
from parley_store import SyncError


@dataclass(frozen=True)
class MalformedThread:
    """A thread the marketplace sent in a shape we cannot read: dead-lettered, not fatal."""

    reason: str
    thread_id: str | None = None
    payload: dict[str, Any] | None = field(default=None, repr=False)


class Connector(Protocol):
    """One marketplace family's read side, bound to one connection."""

    def changes_since(self, since: datetime) -> AsyncIterator[RawThreadSnapshot | MalformedThread]:
        """Threads with activity at or after ``since``, oldest activity first."""
        ...

    async def fetch_thread(self, thread_id: str) -> RawThreadSnapshot | MalformedThread:
        """One thread now, whatever the cursor (manual resync of a discussion)."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class FetchedFile:
    name: str
    content_type: str
    content: bytes


@runtime_checkable
class AttachmentSource(Protocol):
    """A connector whose marketplace serves attachment bytes (F4)."""

    async def fetch_attachment(self, attachment: AttachmentRef) -> FetchedFile: ...


class FileStore(Protocol):
    async def find(self, key: str) -> str | None: ...

    async def save(
        self, key: str, name: str, content_type: str, content: bytes, **metadata: str
    ) -> str: ...


class ConnectorFactory(Protocol):
    def __call__(self, connection: Connection) -> Connector: ...


class SnapshotSink(Protocol):
    async def publish(self, snapshot: RawThreadSnapshot) -> None: ...

    async def dead_letter(self, connection: Connection, malformed: MalformedThread) -> None: ...


class ConnectionRepository(Protocol):
    async def due_ids(self, now: datetime, limit: int) -> list[str]: ...

    async def claim(
        self, connection_id: str, owner: str, now: datetime, lease_seconds: int
    ) -> Connection | None: ...

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
        """Saves a pass's outcome: ``synced_at`` after a complete pass (clears the
        last error), ``error`` after a failed one; then frees the lease."""
        ...

    async def failures(self, connection_id: str) -> int: ...


class EventPublisher(Protocol):
    """Ingest's public events (connection health); one adapter, Kafka, which the
    transactional outbox can replace."""

    async def publish(self, envelope: Envelope[Any]) -> None: ...

"""What the ingest service layer needs: connectors, a snapshot sink, connection storage.

A connector is a family's reader (:mod:`parley_connectors.reading`, re-exported here
under ingest's names); families are found through :mod:`parley_connectors.registry`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from parley_connectors.reading import AttachmentSource as AttachmentSource
from parley_connectors.reading import FetchedFile as FetchedFile
from parley_connectors.reading import MalformedThread as MalformedThread
from parley_connectors.reading import Reader
from parley_ingest.domain.connections import Connection
from parley_schemas import Envelope, RawThreadSnapshot
from parley_store import SyncError

Connector = Reader  # a family's read side bound to one connection, as ingest calls it


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

"""Manual resync (F3), requested by people through the gateway on ingest.commands.v1.

Resyncing a connection makes it due now, so the scheduler (and its lease) does the
work; resyncing one discussion fetches that thread at once. Both are idempotent, so
a re-delivered request only costs a marketplace call.
"""

from __future__ import annotations

from typing import Any, Protocol

from parley_connectors.errors import AuthenticationFailed, NotFound
from parley_ingest.domain.connections import Connection
from parley_ingest.sync import SyncService
from parley_platform.logging import get_logger
from parley_schemas import RESYNC_REQUESTED, Envelope, ResyncRequest

log = get_logger(__name__)


class ResyncConnections(Protocol):
    async def find_for(self, store_id: str, marketplace: str) -> Connection | None: ...

    async def request_resync(self, connection_id: str) -> bool: ...


class ResyncHandler:
    def __init__(self, connections: ResyncConnections, sync: SyncService) -> None:
        self._connections = connections
        self._sync = sync

    async def handle(self, envelope: Envelope[Any]) -> None:
        if envelope.type != RESYNC_REQUESTED.name:
            raise ValueError(f"ingest does not handle {envelope.type}")
        await self.on_resync(envelope.data)

    async def on_resync(self, request: ResyncRequest) -> None:
        connection = await self._connections.find_for(request.store_id, request.marketplace)
        if connection is None:
            log.warning(
                "resync for a store without that marketplace ignored",
                store_id=request.store_id,
                marketplace=request.marketplace,
            )
            return
        if request.thread_id is None:
            await self._connections.request_resync(connection.id)
            log.info("connection resync scheduled", connection_id=connection.id)
            return
        try:
            await self._sync.sync_thread(connection, request.thread_id)
        except (NotFound, AuthenticationFailed) as exc:
            # Retrying cannot help; the person sees the discussion unchanged.
            log.warning("discussion resync refused", thread_id=request.thread_id, error=str(exc))
            return
        log.info("discussion resynced", connection_id=connection.id, thread_id=request.thread_id)

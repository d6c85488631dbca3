"""Kafka adapter of :class:`~parley_connectors.writing.RefreshRequests`.

Ingest owns the connections' credentials and rotates OAuth tokens; the responder asks
it with a resync of the whole connection (``ingest.commands``, key
``store:marketplace:*``): the sync refreshes tokens that no longer do and saves them,
and the responder reads them back. Best effort: a request that cannot be sent is
logged, and the reply waits and is retried like any transient fault.
"""

from __future__ import annotations

import uuid

from parley_platform.kafka import KafkaPublisher
from parley_platform.logging import get_logger
from parley_responder.ports import Destination
from parley_schemas import INGEST_COMMANDS, RESYNC_REQUESTED, Envelope, ResyncRequest, utcnow

log = get_logger(__name__)
SOURCE = "/parley/responder"


class KafkaRefreshRequests:
    def __init__(self, publisher: KafkaPublisher) -> None:
        self._publisher = publisher

    async def request_refresh(self, destination: Destination) -> None:
        if not destination.store_id or not destination.marketplace:
            return
        request = ResyncRequest(
            request_id=uuid.uuid4().hex,
            store_id=destination.store_id,
            marketplace=destination.marketplace,
            requested_by="responder",
            requested_at=utcnow(),
        )
        try:
            await self._publisher.publish(
                INGEST_COMMANDS,
                Envelope[ResyncRequest](
                    source=SOURCE,
                    type=RESYNC_REQUESTED.name,
                    subject=f"{destination.store_id}:{destination.marketplace}:*",
                    data=request,
                ),
            )
        except Exception as exc:  # best effort: the reply is retried anyway
            log.warning(
                "token refresh not requested",
                connection_id=destination.connection_id,
                error=type(exc).__name__,
            )
            return
        log.info("token refresh requested from ingest", connection_id=destination.connection_id)

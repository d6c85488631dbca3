"""Kafka adapter of :class:`~parley_ingest.ports.SnapshotSink`."""

from __future__ import annotations

import json

from parley_ingest.domain.connections import Connection
from parley_ingest.ports import MalformedThread
from parley_platform.kafka import KafkaPublisher
from parley_schemas import MARKETPLACE_RAW, THREAD_SNAPSHOT, Envelope, RawThreadSnapshot


class KafkaSnapshotSink:
    def __init__(self, publisher: KafkaPublisher) -> None:
        self._publisher = publisher

    async def publish(self, snapshot: RawThreadSnapshot) -> None:
        await self._publisher.publish(
            MARKETPLACE_RAW,
            Envelope[RawThreadSnapshot](
                source=self._publisher.source,
                type=THREAD_SNAPSHOT.name,
                subject=str(snapshot.key),
                data=snapshot,
            ),
        )

    async def dead_letter(self, connection: Connection, malformed: MalformedThread) -> None:
        subject = f"{connection.store_id}:{connection.marketplace}:{malformed.thread_id or '?'}"
        await self._publisher.dead_letter(
            "ingest",
            malformed.reason,
            subject=subject,
            value=json.dumps(malformed.payload, default=str).encode()
            if malformed.payload
            else None,
            context={
                "connection_id": connection.id,
                "family": connection.family,
                "marketplace": connection.marketplace,
                "thread_id": malformed.thread_id,
            },
        )


def _payload_bytes(malformed: MalformedThread) -> bytes | None:
    if malformed.payload is None:
        return None
    return json.dumps(malformed.payload, default=str).encode()

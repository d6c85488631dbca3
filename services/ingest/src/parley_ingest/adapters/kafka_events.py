"""Kafka adapter of :class:`~parley_ingest.ports.EventPublisher`: connection health
changes on ``connection.events.v1`` (compacted), keyed by the connection id."""

from __future__ import annotations

from typing import Any

from parley_platform.kafka import KafkaPublisher
from parley_schemas import CONNECTION_EVENTS, Envelope


class KafkaEventPublisher:
    def __init__(self, publisher: KafkaPublisher) -> None:
        self._publisher = publisher

    async def publish(self, envelope: Envelope[Any]) -> None:
        await self._publisher.publish(CONNECTION_EVENTS, envelope)

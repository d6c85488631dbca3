"""Kafka adapter of :class:`~parley_ingest.ports.EventPublisher`: connection health
changes on ``connection.events.v1`` (compacted, keyed by the connection id), stored
attachments on ``conversation.events.v1`` (keyed by the discussion key)."""

from __future__ import annotations

from typing import Any

from parley_platform.kafka import KafkaPublisher
from parley_schemas import CONNECTION_EVENTS, CONVERSATION_EVENTS, Envelope

_CONNECTION_TYPES = {rt.name for rt in CONNECTION_EVENTS.record_types}


class KafkaEventPublisher:
    def __init__(self, publisher: KafkaPublisher) -> None:
        self._publisher = publisher

    async def publish(self, envelope: Envelope[Any]) -> None:
        topic = CONNECTION_EVENTS if envelope.type in _CONNECTION_TYPES else CONVERSATION_EVENTS
        await self._publisher.publish(topic, envelope)

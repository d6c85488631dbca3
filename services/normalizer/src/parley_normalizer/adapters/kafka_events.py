"""Kafka adapter of :class:`~parley_normalizer.ports.EventSink`."""

from __future__ import annotations

from typing import Any

from parley_platform.kafka import KafkaPublisher
from parley_schemas import CONVERSATION_EVENTS, Envelope


class KafkaEventSink:
    def __init__(self, publisher: KafkaPublisher) -> None:
        self._publisher = publisher

    async def emit(self, *envelopes: Envelope[Any]) -> None:
        await self._publisher.publish(CONVERSATION_EVENTS, *envelopes)

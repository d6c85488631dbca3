"""Kafka adapter of :class:`~parley_responder.ports.EventPublisher`: the responder's
conversation events on ``conversation.events.v1``, keyed by the discussion key. The
one place they are published, so a transactional outbox can take its place."""

from __future__ import annotations

from typing import Any

from parley_platform.kafka import KafkaPublisher
from parley_schemas import CONVERSATION_EVENTS, Envelope


class KafkaEventPublisher:
    def __init__(self, publisher: KafkaPublisher) -> None:
        self._publisher = publisher

    async def publish(self, envelope: Envelope[Any]) -> None:
        await self._publisher.publish(CONVERSATION_EVENTS, envelope)

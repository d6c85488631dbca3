"""Kafka adapter of :class:`~parley_gateway.ports.CommandPublisher`.

The platform's KafkaPublisher is idempotent (acks=all), keys records by the envelope
subject (the discussion key) and puts the current trace context into the headers, so
the responder (replies) and ingest (resyncs) continue the trace of the HTTP request.
"""

from __future__ import annotations

from typing import Any

from aiokafka.errors import KafkaError

from parley_gateway.ports import CommandNotQueued
from parley_platform.kafka import KafkaPublisher
from parley_schemas import (
    CONVERSATION_COMMANDS,
    INGEST_COMMANDS,
    Envelope,
    ReplyCommand,
    ResyncRequest,
    Topic,
)


class KafkaCommandPublisher:
    def __init__(self, publisher: KafkaPublisher) -> None:
        self._publisher = publisher

    async def publish_reply(self, envelope: Envelope[ReplyCommand]) -> None:
        await self._publish(CONVERSATION_COMMANDS, envelope)

    async def publish_resync(self, envelope: Envelope[ResyncRequest]) -> None:
        await self._publish(INGEST_COMMANDS, envelope)

    async def _publish(self, topic: Topic, envelope: Envelope[Any]) -> None:
        try:
            await self._publisher.publish(topic, envelope)
        except KafkaError as exc:
            raise CommandNotQueued(f"{type(exc).__name__}: {exc}") from exc

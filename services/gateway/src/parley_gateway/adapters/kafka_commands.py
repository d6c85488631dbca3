"""Kafka adapter of :class:`~parley_gateway.ports.CommandPublisher`.

The platform's KafkaPublisher is idempotent (acks=all), keys records by the envelope
subject (the discussion key) and puts the current trace context into the headers, so
the responder continues the trace of the HTTP request that asked for the reply.
"""

from __future__ import annotations

from aiokafka.errors import KafkaError

from parley_gateway.ports import CommandNotQueued
from parley_platform.kafka import KafkaPublisher
from parley_schemas import CONVERSATION_COMMANDS, Envelope, ReplyCommand


class KafkaCommandPublisher:
    def __init__(self, publisher: KafkaPublisher) -> None:
        self._publisher = publisher

    async def publish_reply(self, envelope: Envelope[ReplyCommand]) -> None:
        try:
            await self._publisher.publish(CONVERSATION_COMMANDS, envelope)
        except KafkaError as exc:
            raise CommandNotQueued(f"{type(exc).__name__}: {exc}") from exc

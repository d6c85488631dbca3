"""Kafka adapter of :class:`~parley_gateway.ports.CommandPublisher`.

The platform's KafkaPublisher is idempotent (acks=all), keys records by the envelope
subject (the discussion key) and puts the current trace context into the headers, so
the responder (replies) and ingest (resyncs) continue the trace of the HTTP request.
"""

from __future__ import annotations

import asyncio
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
    """Every command is taken by the broker within ``timeout_seconds`` or refused.

    The bound sits above the producer's own request timeout (GatewaySettings checks
    it), so by the time the caller hears "not queued" the producer has dropped the
    record too: a refused command is never published later behind the caller's back.
    The outer bound is a backstop for a start-up or metadata wait that hangs.
    """

    def __init__(self, publisher: KafkaPublisher, *, timeout_seconds: float = 30.0) -> None:
        self._publisher = publisher
        self._timeout = timeout_seconds

    @property
    def timeout_seconds(self) -> float:
        return self._timeout

    async def publish_reply(self, envelope: Envelope[ReplyCommand]) -> None:
        await self._publish(CONVERSATION_COMMANDS, envelope)

    async def publish_resync(self, envelope: Envelope[ResyncRequest]) -> None:
        await self._publish(INGEST_COMMANDS, envelope)

    async def _publish(self, topic: Topic, envelope: Envelope[Any]) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                await self._publisher.publish(topic, envelope)
        except TimeoutError as exc:
            raise CommandNotQueued(
                f"not acknowledged within {self._timeout:g} s", within_seconds=self._timeout
            ) from exc
        except KafkaError as exc:
            raise CommandNotQueued(
                f"{type(exc).__name__}: {exc}", within_seconds=self._timeout
            ) from exc

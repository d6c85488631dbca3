"""Kafka adapter of :class:`~parley_gateway.ports.EventPublisher`: workflow changes on
``conversation.events.v1``, keyed by the discussion key (the envelope's subject), with
the request's trace context in the headers.

Bounded like the commands: a broker that does not take an event within the gateway's
command timeout fails the publish (the service logs it) instead of holding the request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from parley_platform.kafka import KafkaPublisher
from parley_schemas import CONVERSATION_EVENTS, Envelope


class KafkaEventPublisher:
    def __init__(self, publisher: KafkaPublisher, *, timeout_seconds: float = 30.0) -> None:
        self._publisher = publisher
        self._timeout = timeout_seconds

    async def publish(self, events: Sequence[Envelope[Any]]) -> None:
        async with asyncio.timeout(self._timeout):
            for envelope in events:  # in order: one discussion's events stay ordered
                await self._publisher.publish(CONVERSATION_EVENTS, envelope)

"""Kafka adapter of :class:`~parley_responder.ports.ResultSink`."""

from __future__ import annotations

from typing import Any

from parley_platform.kafka import KafkaPublisher
from parley_schemas import DELIVERY_RESULTS, Envelope


class KafkaResultSink:
    def __init__(self, publisher: KafkaPublisher) -> None:
        self._publisher = publisher

    async def emit(self, envelope: Envelope[Any]) -> None:
        await self._publisher.publish(DELIVERY_RESULTS, envelope)

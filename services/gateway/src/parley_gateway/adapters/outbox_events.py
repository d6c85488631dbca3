"""Outbox adapter of :class:`~parley_gateway.ports.EventPublisher`: workflow changes on
``conversation.events.v1``, keyed by the discussion key (the envelope's subject).

The events of one change are stored in the gateway's outbox in one write, in order,
right after the change itself, then published at once when the broker answers and by
the outbox relay otherwise (see :mod:`parley_platform.outbox`). So a broker outage or
a slow broker neither fails the merchant's request nor loses the announcement; the
relay keeps the order they were written in. What remains is the instant between the
change's own write and the outbox's (FerretDB v1 has no multi-document transaction):
a crash exactly there loses that change's events, and the service docstring says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from parley_platform.outbox import OutboxPublisher
from parley_schemas import CONVERSATION_EVENTS, Envelope


class OutboxEventPublisher:
    def __init__(self, outbox: OutboxPublisher) -> None:
        self._outbox = outbox

    async def publish(self, events: Sequence[Envelope[Any]]) -> None:
        await self._outbox.publish_many(CONVERSATION_EVENTS, events)

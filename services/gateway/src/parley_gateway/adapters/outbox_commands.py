"""Outbox adapter of :class:`~parley_gateway.ports.CommandPublisher`.

A command is accepted once it is stored in the gateway's outbox (one insert, ``_id`` =
the CloudEvents id; see :mod:`parley_platform.outbox`): it is then published at once
when the broker answers, and by the outbox relay otherwise (a broker outage, a crash
right after the insert). So the gateway never answers "not queued" for a command it
stored, which would invite the merchant to ask twice, and never leaves a command only
half done. The platform's KafkaPublisher keys records by the envelope subject (the
discussion key) and carries the trace context of the HTTP request on the fast path.
"""

from __future__ import annotations

from parley_platform.outbox import OutboxPublisher
from parley_schemas import (
    CONVERSATION_COMMANDS,
    INGEST_COMMANDS,
    Envelope,
    ReplyCommand,
    ResyncRequest,
)


class OutboxCommandPublisher:
    def __init__(self, outbox: OutboxPublisher) -> None:
        self._outbox = outbox

    async def publish_reply(self, envelope: Envelope[ReplyCommand]) -> None:
        await self._outbox.publish(CONVERSATION_COMMANDS, envelope)

    async def publish_resync(self, envelope: Envelope[ResyncRequest]) -> None:
        await self._outbox.publish(INGEST_COMMANDS, envelope)

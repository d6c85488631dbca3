"""The responder's share of the conversation event catalogue (docs/events.md):
``com.parley.autoresponse.sent.v1`` once the marketplace took an autoresponse.

Decorates the result sink, the one place every delivery outcome passes through: a
``sent`` result whose command id is an autoresponse's (derived from the discussion,
see domain.autoreply) is also announced on conversation.events.v1, with an id derived
from the command and its retry round, so a re-announced result is a duplicate that
consumers drop by id.
"""

from __future__ import annotations

import uuid
from typing import Any

from parley_responder.domain.autoreply import auto_command_id
from parley_responder.ports import EventPublisher, ResultSink
from parley_schemas import (
    AUTORESPONSE_SENT,
    DELIVERY_RESULT,
    AutoresponseSent,
    DeliveryResult,
    DeliveryState,
    Envelope,
)

SOURCE = "/parley/responder"
_NAMESPACE = uuid.UUID("8f0f2a4e-58b1-4c7e-9a0d-2f5c6b7d8e91")


def autoresponse_sent(result: DeliveryResult, subject: str) -> Envelope[Any] | None:
    """The event a delivery result announces, if it is an autoresponse that went out."""
    if result.state is not DeliveryState.SENT:
        return None
    if result.command_id != auto_command_id(result.discussion_id):
        return None
    return Envelope[AutoresponseSent](
        id=uuid.uuid5(_NAMESPACE, f"{result.command_id}/{result.retry}").hex,
        source=SOURCE,
        type=AUTORESPONSE_SENT.name,
        subject=subject,
        time=result.occurred_at,
        data=AutoresponseSent(
            discussion_id=result.discussion_id,
            store_id=result.store_id,
            marketplace=result.marketplace,
            thread_id=result.thread_id,
            command_id=result.command_id,
            marketplace_message_id=result.marketplace_message_id,
            sent_at=result.occurred_at,
        ),
    )


class AnnouncingResultSink:
    """A ResultSink that also announces autoresponses sent (after the result is out)."""

    def __init__(self, results: ResultSink, events: EventPublisher) -> None:
        self._results = results
        self._events = events

    async def emit(self, envelope: Envelope[Any]) -> None:
        await self._results.emit(envelope)
        if envelope.type == DELIVERY_RESULT.name:
            event = autoresponse_sent(envelope.data, envelope.subject)
            if event is not None:
                await self._events.publish(event)

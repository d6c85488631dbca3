"""Conversation events (F16) built from stored documents.

Event ids are derived from what they announce (message id and version), so a
re-published event carries the same id and consumers can drop the duplicate.
"""

from __future__ import annotations

import uuid
from typing import Any

from parley_schemas import (
    DISCUSSION_CREATED,
    MESSAGE_RECEIVED,
    MESSAGE_SENT,
    DeliveryState,
    Direction,
    DiscussionCreated,
    Envelope,
    MessageReceived,
    MessageSent,
)
from parley_store import DiscussionDocument, MessageDocument

SOURCE = "/parley/normalizer"
_EVENT_NAMESPACE = uuid.UUID("0d7d3c52-6b0e-4a8e-9f51-3f3c4a2b1e77")


def _event_id(*parts: str) -> str:
    return uuid.uuid5(_EVENT_NAMESPACE, "/".join(parts)).hex


def discussion_created(discussion: DiscussionDocument) -> Envelope[Any]:
    return Envelope[DiscussionCreated](
        id=_event_id(discussion.id, "created"),
        source=SOURCE,
        type=DISCUSSION_CREATED.name,
        subject=discussion.key,
        data=DiscussionCreated(
            discussion_id=discussion.id,
            store_id=discussion.store_id,
            marketplace=discussion.marketplace,
            channel=discussion.channel,
            thread_id=discussion.thread_id,
            subject=discussion.subject,
            type=discussion.type.value,
            created_at=discussion.created_at,
            tags=list(discussion.tags),
            customer_id=discussion.customer_id,
        ),
    )


def message_event(discussion: DiscussionDocument, message: MessageDocument) -> Envelope[Any]:
    common: dict[str, Any] = {
        "discussion_id": discussion.id,
        "store_id": discussion.store_id,
        "marketplace": discussion.marketplace,
        "thread_id": discussion.thread_id,
        "message_id": message.id,
        "marketplace_message_id": message.marketplace_message_id,
        "direction": message.direction,
        "sender": message.sender,
        "recipients": message.recipients,
        "body": message.body,
        "sent_at": message.sent_at,
    }
    event_id = _event_id(message.id, str(message.event_version))
    if message.direction is Direction.INBOUND:
        return Envelope[MessageReceived](
            id=event_id,
            source=SOURCE,
            type=MESSAGE_RECEIVED.name,
            subject=discussion.key,
            data=MessageReceived(**common),
        )
    delivery = message.delivery
    return Envelope[MessageSent](
        id=event_id,
        source=SOURCE,
        type=MESSAGE_SENT.name,
        subject=discussion.key,
        data=MessageSent(
            **common,
            delivery_state=delivery.state if delivery else DeliveryState.SENT,
            command_id=message.command_id,
            error=delivery.error if delivery else None,
            unconfirmed=delivery.unconfirmed if delivery else False,
        ),
    )

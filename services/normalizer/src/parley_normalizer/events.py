"""Conversation events (F16) built from stored documents: the normalizer's share of
the catalogue (docs/events.md): discussion created, message received / sent, a reply's
delivery queued / sent / failed / unknown, and retention's deletions.

Event ids are derived from what they announce (message id and version), so a
re-published event carries the same id and consumers can drop the duplicate.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from parley_schemas import (
    DELIVERY_FAILED,
    DELIVERY_QUEUED,
    DELIVERY_SENT,
    DELIVERY_UNKNOWN,
    DISCUSSION_CREATED,
    DISCUSSION_DELETED,
    MESSAGE_RECEIVED,
    MESSAGE_SENT,
    DeliveryChanged,
    DeliveryState,
    DeliveryStatus,
    Direction,
    DiscussionCreated,
    DiscussionDeleted,
    Envelope,
    MessageReceived,
    MessageSent,
    RawEntity,
    RecordType,
)
from parley_store import DiscussionDocument, MessageDocument

_DELIVERY_TYPES: dict[DeliveryStatus, RecordType] = {
    DeliveryStatus.QUEUED: DELIVERY_QUEUED,
    DeliveryStatus.SENT: DELIVERY_SENT,
    DeliveryStatus.FAILED: DELIVERY_FAILED,
    DeliveryStatus.UNKNOWN: DELIVERY_UNKNOWN,
}

SOURCE = "/parley/normalizer"
_EVENT_NAMESPACE = uuid.UUID("0d7d3c52-6b0e-4a8e-9f51-3f3c4a2b1e77")


def _event_id(*parts: str) -> str:
    return uuid.uuid5(_EVENT_NAMESPACE, "/".join(parts)).hex


def _entities(discussion: DiscussionDocument) -> list[RawEntity]:
    """The stored entities that name a type and an id (all the synced ones do)."""
    return [
        RawEntity(type=e["type"], id=e["id"], label=e.get("label"))
        for e in discussion.entities
        if e.get("type") and e.get("id")
    ]


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
            status=discussion.status.value,
            read=discussion.read,
            order_id=discussion.order_id,
            participants=list(discussion.participants),
            entities=_entities(discussion),
            reply_expected=discussion.reply_expected,
            reply_due_at=discussion.reply_due_at,
        ),
    )


def message_events(discussion: DiscussionDocument, message: MessageDocument) -> list[Envelope[Any]]:
    """What one message version announces: message.received or message.sent, and for
    a reply of Parley's (it has a command id and a delivery state) the delivery event
    of that state right after it."""
    announced = [message_event(discussion, message)]
    delivery = delivery_event(discussion, message)
    if delivery is not None:
        announced.append(delivery)
    return announced


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
        "reply_expected": discussion.reply_expected,
        "reply_due_at": discussion.reply_due_at,
    }
    event_id = _event_id(message.id, str(message.event_version))
    if message.direction is Direction.INBOUND:
        return Envelope[MessageReceived](
            id=event_id,
            source=SOURCE,
            type=MESSAGE_RECEIVED.name,
            subject=discussion.key,
            # F6: a new incoming message makes the discussion unread (and synced
            # messages are recorded once: an inbound message is never a new version).
            data=MessageReceived(**common, read=False),
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


def delivery_event(
    discussion: DiscussionDocument, message: MessageDocument
) -> Envelope[Any] | None:
    """delivery.<status> of a reply's delivery state; None for a message that is not a
    reply sent through Parley (inbound, or answered outside Parley)."""
    delivery = message.delivery
    if message.direction is not Direction.OUTBOUND or delivery is None or not message.command_id:
        return None
    status = DeliveryStatus.of(delivery.state, delivery.unconfirmed)
    return Envelope[DeliveryChanged](
        id=_event_id(message.id, str(message.event_version), "delivery"),
        source=SOURCE,
        type=_DELIVERY_TYPES[status].name,
        subject=discussion.key,
        data=DeliveryChanged(
            discussion_id=discussion.id,
            store_id=discussion.store_id,
            marketplace=discussion.marketplace,
            thread_id=discussion.thread_id,
            message_id=message.id,
            command_id=message.command_id,
            status=status,
            error=delivery.error if status is not DeliveryStatus.SENT else None,
            attempts=delivery.attempts,
            retry=delivery.retry,
            next_attempt_at=delivery.next_attempt_at,
            marketplace_message_id=message.marketplace_message_id,
            occurred_at=delivery.updated_at,
        ),
    )


def discussion_deleted(
    discussion: DiscussionDocument, expired_at: datetime, deleted_at: datetime
) -> Envelope[Any]:
    """Retention deleted the discussion; one deletion, one id (a deletion happens once:
    the store's conditional delete succeeds for one sweeper only)."""
    return Envelope[DiscussionDeleted](
        id=_event_id(discussion.id, "deleted", expired_at.isoformat()),
        source=SOURCE,
        type=DISCUSSION_DELETED.name,
        subject=discussion.key,
        time=deleted_at,
        data=DiscussionDeleted(
            discussion_id=discussion.id,
            store_id=discussion.store_id,
            marketplace=discussion.marketplace,
            thread_id=discussion.thread_id,
            reason="retention",
            status=discussion.status.value,
            expired_at=expired_at,
            deleted_at=deleted_at,
        ),
    )

"""From a raw thread snapshot to the synced part of a discussion and its messages.

Everything here is a pure function of the snapshot, so replaying the raw topic
always yields the same discussion.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from parley_schemas import Direction, Participant, ParticipantRole, RawMessage, RawThreadSnapshot
from parley_store import DiscussionType

PREVIEW_LENGTH = 140

_ORDER_ENTITIES = {"order", "mmp_order", "order_line"}
_PRODUCT_ENTITIES = {"product", "offer", "mmp_offer", "item"}


def discussion_type(snapshot: RawThreadSnapshot) -> DiscussionType:
    """Order beats product: a question on an ordered item is about the order."""
    kinds = {entity.type.lower() for entity in snapshot.entities}
    if kinds & _ORDER_ENTITIES:
        return DiscussionType.ORDER
    if kinds & _PRODUCT_ENTITIES:
        return DiscussionType.PRODUCT
    return DiscussionType.OTHER


def order_id(snapshot: RawThreadSnapshot) -> str | None:
    for entity in snapshot.entities:
        if entity.type.lower() in _ORDER_ENTITIES:
            return entity.id
    return None


def initiator(snapshot: RawThreadSnapshot) -> ParticipantRole | None:
    if not snapshot.messages:
        return None
    return min(snapshot.messages, key=lambda m: m.sent_at).sender.role


def participants(snapshot: RawThreadSnapshot) -> list[Participant]:
    """Declared participants plus every sender, once each."""
    seen: dict[tuple[str, str | None, str | None], Participant] = {}
    for person in [*snapshot.participants, *(m.sender for m in snapshot.messages)]:
        seen.setdefault((person.role.value, person.name, person.email), person)
    return list(seen.values())


def customer(snapshot: RawThreadSnapshot) -> Participant | None:
    """The buyer the discussion belongs to (F8): the first customer the marketplace
    identifies, declared participants before message senders."""
    for person in [*snapshot.participants, *(m.sender for m in snapshot.messages)]:
        if person.role is ParticipantRole.CUSTOMER and (person.marketplace_id or "").strip():
            return person
    return None


def direction(message: RawMessage) -> Direction:
    return (
        Direction.OUTBOUND if message.sender.role is ParticipantRole.MERCHANT else Direction.INBOUND
    )


def preview(body: str) -> str:
    flat = " ".join(body.split())
    return flat if len(flat) <= PREVIEW_LENGTH else flat[: PREVIEW_LENGTH - 1] + "…"


@dataclass(frozen=True)
class SyncedDiscussion:
    """The fields of a discussion that sync owns, ready for a field-level update."""

    fields: dict[str, Any]
    created_at: datetime


def synced_fields(snapshot: RawThreadSnapshot) -> SyncedDiscussion:
    first = min((m.sent_at for m in snapshot.messages), default=None)
    created_at = snapshot.created_at or first or snapshot.fetched_at
    return SyncedDiscussion(
        fields={
            "family": snapshot.family,
            "channel": snapshot.channel,
            "subject": snapshot.subject,
            "type": discussion_type(snapshot).value,
            "entities": [e.model_dump(mode="json") for e in snapshot.entities],
            "order_id": order_id(snapshot),
            "initiator": (lambda r: r.value if r else None)(initiator(snapshot)),
            "participants": [p.model_dump(mode="json") for p in participants(snapshot)],
            "last_synced_at": snapshot.fetched_at,
            # The marketplace's own word on whether the shop's reply is expected.
            "reply_signal": snapshot.reply_signal,
            "reply_signal_since": snapshot.reply_expected_since,
        },
        created_at=created_at,
    )

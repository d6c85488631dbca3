"""From an order alert to the draft discussion it opens (F9).

The discussion is an order discussion started by the marketplace (initiator
operator), tagged with the alert's kind so rules can route or answer it, and holds
the buyer's comment, when there is one, as its first inbound message. Everything
is a pure function of the alert, so a replayed alert maps to the same discussion
and the same message id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from parley_schemas import (
    OrderAlert,
    OrderAlertKind,
    ParticipantRole,
    RawEntity,
    RawMessage,
)
from parley_store import DiscussionType

ALERT_CHANNEL = "alerts"
ALERT_TAG_PREFIX = "alert:"

_SUBJECTS = {
    OrderAlertKind.ADDRESS_INVALID: "Invalid delivery address",
    OrderAlertKind.BAD_RATING_WITH_COMMENT: "Bad rating with a comment",
    OrderAlertKind.BAD_RATING_WITHOUT_COMMENT: "Bad rating without a comment",
}


def alert_tag(kind: OrderAlertKind) -> str:
    """``alert:address-invalid``: hyphens, like the tags people type."""
    return ALERT_TAG_PREFIX + kind.value.replace("_", "-")


def alert_subject(alert: OrderAlert) -> str:
    subject = f"{_SUBJECTS[alert.kind]} — order {alert.order_id}"
    if alert.rating is not None:
        scale = f"/{alert.rating_max}" if alert.rating_max else ""
        subject += f" (rated {alert.rating}{scale})"
    return subject


def comment_message(alert: OrderAlert) -> RawMessage | None:
    """The buyer's comment as an inbound message; its id is fixed by the alert."""
    body = (alert.comment or "").strip()
    if not body:
        return None
    return RawMessage(
        marketplace_message_id=f"{alert.key.thread_id}:comment",
        sender=alert.buyer,
        recipients=[ParticipantRole.MERCHANT],
        body=body,
        sent_at=alert.occurred_at,
    )


@dataclass(frozen=True)
class AlertDiscussion:
    """The discussion an alert opens: set once, on creation, and never rewritten."""

    discussion_id: str
    fields: dict[str, Any]
    created_at: datetime
    tags: list[str]
    messages: list[RawMessage]


def alert_discussion(alert: OrderAlert) -> AlertDiscussion:
    key = alert.key
    first = comment_message(alert)
    return AlertDiscussion(
        discussion_id=key.discussion_id,
        fields={
            "key": str(key),
            "store_id": key.store_id,
            "marketplace": key.marketplace,
            "thread_id": key.thread_id,
            "family": alert.family,
            "channel": ALERT_CHANNEL,
            "subject": alert_subject(alert),
            "type": DiscussionType.ORDER.value,
            "entities": [RawEntity(type="order", id=alert.order_id).model_dump(mode="json")],
            "order_id": alert.order_id,
            "initiator": ParticipantRole.OPERATOR.value,
            "participants": [alert.buyer.model_dump(mode="json")],
            "draft": True,
            "alert_kind": alert.kind.value,
        },
        created_at=alert.occurred_at,
        tags=[alert_tag(alert.kind)],
        messages=[first] if first else [],
    )

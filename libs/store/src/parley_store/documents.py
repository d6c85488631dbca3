"""Document shapes of the ``discussions`` and ``messages`` collections.

Messages live in their own collection because one discussion can outgrow a 16 MB
document. The discussion keeps the summary fields the inbox filters and sorts on.

Field ownership is explicit so that the two writers never overwrite each other:
the normalizer only ``$set``\\s :data:`SYNCED_FIELDS` (plus ``read=False`` when a new
inbound message arrives, which F6 asks for), the gateway only :data:`WORKFLOW_FIELDS`.
Both use field-level atomic updates, never read-modify-write of whole documents.

Retention (F7): ``expires_at`` is when the discussion and its messages are deleted;
the normalizer recomputes it from the status whenever it writes the discussion, and
its retention sweeper catches status changes the gateway made in between
(``retention_status`` is the status that computation last saw, and
``retention_status_since`` when it first saw it change: the retention clock restarts
at a status change, so solving an old discussion never deletes it on the spot).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from parley_schemas import (
    AttachmentRef,
    DeliveryState,
    Direction,
    OrderAlertKind,
    Participant,
    ParticipantRole,
)


class DiscussionStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    SOLVED = "solved"
    CLOSED = "closed"


class DiscussionType(StrEnum):
    PRODUCT = "product"  # pre-sale question about an offer or product
    ORDER = "order"
    OTHER = "other"


SYNCED_FIELDS = frozenset(
    {
        "key",
        "store_id",
        "marketplace",
        "family",
        "channel",
        "thread_id",
        "subject",
        "type",
        "entities",
        "order_id",
        "initiator",
        "participants",
        "created_at",
        "last_message_at",
        "last_message_preview",
        "last_synced_at",
        "message_count",
        "customer_id",
        "draft",
        "alert_kind",
        "expires_at",
        "retention_status",
        "retention_status_since",
    }
)
WORKFLOW_FIELDS = frozenset({"status", "read", "merchant_ticket_id", "tags"})


class _Document(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class DiscussionDocument(_Document):
    id: str = Field(alias="_id")
    key: str
    store_id: str
    marketplace: str
    family: str
    channel: str
    thread_id: str
    subject: str | None = None
    type: DiscussionType = DiscussionType.OTHER
    entities: list[dict[str, str | None]] = Field(default_factory=list)
    order_id: str | None = None
    initiator: ParticipantRole | None = None
    participants: list[Participant] = Field(default_factory=list)
    created_at: datetime
    last_message_at: datetime | None = None
    last_message_preview: str | None = None
    last_synced_at: datetime | None = None
    message_count: int = 0
    status: DiscussionStatus = DiscussionStatus.NEW
    read: bool = False
    merchant_ticket_id: str | None = None
    tags: list[str] = Field(default_factory=list)
    customer_id: str | None = Field(
        default=None, description="The linked customer (parley_store.customers); never reassigned"
    )
    draft: bool = Field(
        default=False,
        description="Opened by Parley (from an order alert), not by a marketplace thread: "
        "nothing exists on the marketplace side until the merchant writes",
    )
    alert_kind: OrderAlertKind | None = None
    expires_at: datetime | None = None
    retention_status: DiscussionStatus | None = None
    retention_status_since: datetime | None = None
    created_event_published: bool = False
    reply_expected: bool = Field(
        default=False, description="The marketplace or the buyer waits for the shop's reply"
    )
    reply_expected_since: datetime | None = None
    reply_due_at: datetime | None = Field(
        default=None, description="When the reply is due (the family's reply window)"
    )


class DeliveryInfo(_Document):
    state: DeliveryState
    error: str | None = None
    unconfirmed: bool = False  # failed, but it may have landed: shown as unknown
    attempts: int = 0
    updated_at: datetime
    retry: int = 0  # the merchant retry round the state belongs to
    next_attempt_at: datetime | None = None  # queued after a fault: tried again then


class MessageDocument(_Document):
    id: str = Field(alias="_id")
    discussion_id: str
    direction: Direction
    sender: Participant
    recipients: list[ParticipantRole] = Field(default_factory=list)
    body: str
    sent_at: datetime
    attachments: list[AttachmentRef] = Field(default_factory=list)
    marketplace_message_id: str | None = None
    command_id: str | None = None
    delivery: DeliveryInfo | None = None
    event_version: int = 0
    event_pending: bool = False


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def inbound_message_id(discussion_id: str, marketplace_message_id: str) -> str:
    """Deterministic: the same marketplace message always maps to the same document."""
    return _digest(discussion_id, "mm", marketplace_message_id)


def outbound_message_id(discussion_id: str, command_id: str) -> str:
    """Deterministic from the reply's idempotency key."""
    return _digest(discussion_id, "cmd", command_id)

"""Conversation events for internal consumers (F16): the catalogue.

Every state change a UI or another service cares about is one record type here, and
each is published by the one service that owns the change (docs/events.md lists them
with an example each):

- normalizer: a discussion was created, a message was received or changed delivery
  state, a reply's delivery is queued / sent / failed / unknown, retention deleted a
  discussion;
- gateway: the workflow fields people set (status, read, tags, merchant ticket id);
- responder: an autoresponse went out;
- ingest: an attachment was stored, a connection's health changed.

Discussion events carry the discussion's coordinates (store, marketplace, thread) and
are keyed by the discussion key, so a consumer keeps per-discussion state without a
lookup. Fields are only ever *added*, and only as optional ones (see Record): a
breaking change is a new ``.v2`` record type.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from .common import Direction, Participant, ParticipantRole, Record
from .delivery import DeliveryState, DeliveryStatus
from .snapshots import RawEntity

WorkflowStatus = Literal["new", "open", "pending", "solved", "closed"]
"""The workflow status values (parley_store.DiscussionStatus; a unit test keeps them equal)."""

_READ_DOC = (
    "The discussion's read state this event left it in, when the event changed it; "
    "None when the event does not touch the read state"
)
_REPLY_EXPECTED_DOC = (
    "Whether the discussion waits for the shop's reply after this change (the "
    "marketplace's own signal where it gives one, else its messages); null from "
    "producers that do not say"
)
_REPLY_DUE_DOC = "When that reply is due (the marketplace's reply window); null when none"


class DiscussionCreated(Record):
    """A discussion was opened: a new marketplace thread, or an order alert's draft."""

    discussion_id: str
    store_id: str
    marketplace: str
    channel: str
    thread_id: str
    subject: str | None = None
    type: str
    created_at: datetime
    tags: list[str] = Field(
        default_factory=list,
        description="Tags it was opened with, e.g. alert:address-invalid for an order alert",
    )
    customer_id: str | None = Field(
        default=None, description="Parley customer id, when the buyer's marketplace id is known"
    )
    status: WorkflowStatus | None = Field(
        default=None, description="Workflow status it was created with (always new)"
    )
    read: bool | None = Field(
        default=None, description="Read state it was created with (always false: unread)"
    )
    order_id: str | None = Field(default=None, description="The order it is about, if any")
    participants: list[Participant] = Field(
        default_factory=list,
        description="Who takes part, with their marketplace id and company where given",
    )
    entities: list[RawEntity] = Field(
        default_factory=list,
        description="What it is about (order, offer, product …) as the marketplace names it",
    )
    reply_expected: bool | None = Field(default=None, description=_REPLY_EXPECTED_DOC)
    reply_due_at: datetime | None = Field(default=None, description=_REPLY_DUE_DOC)


class MessageEvent(Record):
    discussion_id: str
    store_id: str
    marketplace: str
    thread_id: str
    message_id: str = Field(description="Parley message id")
    marketplace_message_id: str | None = None
    direction: Direction
    sender: Participant
    recipients: list[ParticipantRole] = Field(default_factory=list)
    body: str
    sent_at: datetime
    read: bool | None = Field(default=None, description=_READ_DOC)
    reply_expected: bool | None = Field(default=None, description=_REPLY_EXPECTED_DOC)
    reply_due_at: datetime | None = Field(default=None, description=_REPLY_DUE_DOC)


class MessageReceived(MessageEvent):
    """A new inbound message (buyer or operator) was recorded.

    A new incoming message makes its discussion unread (F6): ``read`` is false."""


class MessageSent(MessageEvent):
    """An outbound reply changed delivery state (queued, sent or failed)."""

    delivery_state: DeliveryState
    command_id: str | None = Field(
        default=None, description="None when the merchant answered outside Parley"
    )
    error: str | None = None
    unconfirmed: bool = Field(
        default=False,
        description="With delivery_state failed: it may have reached the marketplace and "
        "could not be confirmed (shown as unknown); the merchant decides",
    )


class DiscussionRef(Record):
    """Which discussion an event is about: its API id and its three coordinates."""

    discussion_id: str
    store_id: str
    marketplace: str
    thread_id: str


class WorkflowChanged(DiscussionRef):
    """A workflow field was changed by a person or an API client (F6, F13, F14).

    Every workflow event carries all four workflow fields as they are *after* the
    change, so a consumer that keeps them per discussion never needs a lookup."""

    status: WorkflowStatus
    read: bool
    tags: list[str] = Field(default_factory=list)
    merchant_ticket_id: str | None = None
    changed_at: datetime
    cause: str = Field(
        description="What changed it: api (one discussion, REST or GraphQL), bulk (a "
        "bulk status change), reply (the status effect of a reply action) or opened "
        "(opening the discussion marks it read)"
    )


class DiscussionStatusChanged(WorkflowChanged):
    """A discussion's workflow status changed (new, open, pending, solved, closed)."""

    previous_status: WorkflowStatus | None = None


class DiscussionReadChanged(WorkflowChanged):
    """A discussion was marked read (opened, or set by hand) or unread (set by hand).

    A new incoming message making it unread is announced by message.received."""


class DiscussionTagsChanged(WorkflowChanged):
    """A discussion's tags were replaced; ``tags`` is the new list."""

    added: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)


class MerchantTicketChanged(WorkflowChanged):
    """The merchant's own ticket id was set, changed or cleared (None)."""

    previous_merchant_ticket_id: str | None = None


class DeliveryChanged(DiscussionRef):
    """Where one reply's delivery stands (F17). One type per status, same payload:
    queued (accepted, or queued again after a fault: ``attempts``, ``next_attempt_at``),
    sent (the marketplace took it), failed (given up, ``error`` says why) and unknown
    (the last attempt may have reached the marketplace and could not be confirmed;
    nothing is sent again unless the merchant retries)."""

    message_id: str = Field(description="The reply's Parley message id")
    command_id: str
    status: DeliveryStatus
    error: str | None = Field(default=None, description="Why it failed or is unknown")
    attempts: int = Field(default=0, ge=0)
    retry: int = Field(default=0, ge=0, description="The merchant retry round")
    next_attempt_at: datetime | None = None
    marketplace_message_id: str | None = None
    occurred_at: datetime


class AutoresponseSent(DiscussionRef):
    """An autoresponder answered the buyer's first message and the marketplace took it
    (F19). Its delivery is also announced as message.sent / delivery.sent."""

    command_id: str
    marketplace_message_id: str | None = None
    sent_at: datetime


class AttachmentStored(DiscussionRef):
    """A buyer's or operator's attachment was downloaded into Parley's storage (F4)."""

    marketplace_message_id: str | None = None
    marketplace_attachment_id: str | None = None
    file_id: str = Field(description="Parley file storage id (the API serves it)")
    name: str
    size: int | None = Field(default=None, ge=0)
    content_type: str | None = None
    stored_at: datetime


class DiscussionDeleted(DiscussionRef):
    """Retention (F7) deleted the discussion and its messages: forget it."""

    reason: str = Field(description="Why: retention (its retention period ran out)")
    status: WorkflowStatus = Field(description="Its status when it expired")
    expired_at: datetime = Field(description="When its retention period ended")
    deleted_at: datetime


class ConnectionHealthChanged(Record):
    """A marketplace connection became healthy again or needs a person (e.g. refused
    credentials). Keyed by the connection id, not by a discussion."""

    connection_id: str
    store_id: str
    marketplace: str
    family: str
    health: str = Field(description="ok or needs_attention")
    previous_health: str | None = None
    reason: str | None = Field(default=None, description="Why it needs attention")
    changed_at: datetime

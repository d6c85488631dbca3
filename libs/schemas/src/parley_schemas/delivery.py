"""Delivery results from the responder back to the normalizer."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from .common import AttachmentRef, ParticipantRole, Record


class DeliveryState(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class DeliveryStatus(StrEnum):
    """Where a reply stands as people and API clients see it: the wire state, with
    ``unknown`` for a failure whose last attempt may have reached the marketplace
    without it being able to say so (``unconfirmed``). An unknown reply is not sent
    again by itself: the merchant decides. (The records on Kafka keep the three v1
    states and carry ``unconfirmed``, so existing consumers are not broken.)"""

    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    UNKNOWN = "unknown"

    @classmethod
    def of(cls, state: DeliveryState, unconfirmed: bool) -> DeliveryStatus:
        if state is DeliveryState.FAILED and unconfirmed:
            return cls.UNKNOWN
        return cls(state.value)


class OrderDocumentState(StrEnum):
    UPLOADED = "uploaded"
    FAILED = "failed"
    SKIPPED = "skipped"


class OrderDocumentOutcome(Record):
    """What became of filing the reply's invoice on its order, where the family has an
    order-document channel (Mirakl OR74). Tried once per command, after the message
    was sent; a failure here never sends the message again."""

    state: OrderDocumentState
    order_id: str
    file_id: str
    detail: str | None = Field(
        default=None, description="Why it failed or was skipped, in the marketplace's words"
    )


class DeliveryResult(Record):
    """The state of one reply; later states replace earlier ones (queued < sent|failed),
    and a merchant retry (higher ``retry``) replaces everything before it."""

    command_id: str
    discussion_id: str
    store_id: str
    marketplace: str
    thread_id: str
    state: DeliveryState
    body: str
    recipients: list[ParticipantRole] = Field(default_factory=list)
    marketplace_message_id: str | None = None
    error: str | None = Field(
        default=None,
        description="Why it failed (in the marketplace's words), or why it is unknown",
    )
    unconfirmed: bool = Field(
        default=False,
        description="With state failed: the last attempt may have reached the marketplace "
        "and it could not be confirmed either way (shown as unknown); nothing is sent "
        "again unless the merchant retries",
    )
    attempts: int = Field(
        default=0, ge=0, description="Attempts at the marketplace so far, faulted ones included"
    )
    next_attempt_at: datetime | None = Field(
        default=None,
        description="With state queued after a fault: when the next attempt is due (the "
        "marketplace's Retry-After, up to the responder's maximum, or its own backoff)",
    )
    occurred_at: datetime
    retry: int = Field(
        default=0,
        ge=0,
        description="The merchant retry this result belongs to (ReplyCommand.retry): a "
        "retry's results replace those of earlier rounds, a failure included",
    )
    attachments: list[AttachmentRef] = Field(
        default_factory=list,
        description="The files of the reply: sent natively, or as download links in the body",
    )
    order_document: OrderDocumentOutcome | None = Field(
        default=None,
        description="With state sent: the invoice filed on the order as well (or why not)",
    )

"""Conversation events for internal consumers (F16)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from .common import Direction, Participant, ParticipantRole, Record
from .delivery import DeliveryState


class DiscussionCreated(Record):
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


class MessageReceived(MessageEvent):
    """A new inbound message (buyer or operator) was recorded."""


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

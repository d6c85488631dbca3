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
    error: str | None = Field(default=None, description="Why it failed, in the marketplace's words")
    attempts: int = Field(default=0, ge=0)
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

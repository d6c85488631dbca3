"""Delivery results from the responder back to the normalizer."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from .common import ParticipantRole, Record


class DeliveryState(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class DeliveryResult(Record):
    """The state of one reply; later states replace earlier ones (queued < sent|failed)."""

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

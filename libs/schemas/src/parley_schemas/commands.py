"""Commands from the gateway to the responder."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from .common import ParticipantRole, Record


class ReplyAction(StrEnum):
    REPLY = "reply"
    REPLY_AND_SOLVE = "reply_and_solve"
    REPLY_AND_PENDING = "reply_and_pending"


class ReplyCommand(Record):
    """One reply to deliver; ``command_id`` is the idempotency key end to end."""

    command_id: str = Field(min_length=8, max_length=64)
    discussion_id: str
    store_id: str
    marketplace: str
    thread_id: str
    action: ReplyAction = ReplyAction.REPLY
    body: str = Field(min_length=1, max_length=10_000)
    recipients: list[ParticipantRole] = Field(min_length=1)
    attachment_file_ids: list[str] = Field(default_factory=list)
    requested_by: str
    retry: int = Field(
        default=0,
        ge=0,
        description="0 for the merchant's request; n for the merchant's n-th retry of a "
        "failed delivery of the same command_id (a new attempt, never a second reply)",
    )
    requested_at: datetime


class ResyncRequest(Record):
    """Pull one discussion (``thread_id`` set) or a whole connection again, now (F3)."""

    request_id: str = Field(min_length=8, max_length=64)
    store_id: str
    marketplace: str
    thread_id: str | None = None
    requested_by: str
    requested_at: datetime

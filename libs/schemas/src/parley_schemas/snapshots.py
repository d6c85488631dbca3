"""Raw thread snapshots: what ingest saw of one marketplace thread at one sync.

The connector has mapped the marketplace's wire format onto these fields but has
made no product decision (type, status, read state): that is the normalizer's job.
The marketplace's original JSON rides along in ``payload`` for audit and replays.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from .common import AttachmentRef, Participant, ParticipantRole, Record
from .keys import DiscussionKey


class RawEntity(Record):
    """What the thread is about, as the marketplace names it (order, product, offer …)."""

    type: str
    id: str
    label: str | None = None


class RawMessage(Record):
    marketplace_message_id: str = Field(min_length=1)
    sender: Participant
    recipients: list[ParticipantRole] = Field(default_factory=list)
    body: str
    sent_at: datetime
    attachments: list[AttachmentRef] = Field(default_factory=list)


class RawThreadSnapshot(Record):
    connection_id: str
    store_id: str
    marketplace: str = Field(description="Marketplace instance id, e.g. carrefour")
    family: str = Field(description="API family, e.g. mirakl")
    channel: str = Field(default="messages", description="e.g. message_center or discussions")
    thread_id: str = Field(min_length=1)
    subject: str | None = None
    entities: list[RawEntity] = Field(default_factory=list)
    participants: list[Participant] = Field(default_factory=list)
    messages: list[RawMessage] = Field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    fetched_at: datetime
    reply_signal: bool = Field(
        default=False,
        description="The marketplace says itself whether it expects the shop's reply "
        "(then reply_expected_since None means it expects none); False: Parley derives "
        "it from the messages",
    )
    reply_expected_since: datetime | None = Field(
        default=None,
        description="Since when the marketplace expects the shop's reply, by its own signal "
        "(e.g. Mirakl's shop_reply_needed_since)",
    )
    payload: dict[str, Any] = Field(default_factory=dict)

    @property
    def key(self) -> DiscussionKey:
        return DiscussionKey(
            store_id=self.store_id, marketplace=self.marketplace, thread_id=self.thread_id
        )

"""The conversation events a workflow write announces (docs/events.md).

Pure: one write (the discussion before and after it) in, one event per workflow field
it actually changed out; a write that changed nothing (opening a discussion already
read, setting the status it has) announces nothing. Each event carries all four
workflow fields as they are after the write, so a consumer needs no lookup.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from parley_gateway.ports import WorkflowWrite
from parley_schemas import (
    DISCUSSION_READ_CHANGED,
    DISCUSSION_STATUS_CHANGED,
    DISCUSSION_TAGS_CHANGED,
    MERCHANT_TICKET_CHANGED,
    DiscussionReadChanged,
    DiscussionStatusChanged,
    DiscussionTagsChanged,
    Envelope,
    MerchantTicketChanged,
)

SOURCE = "/parley/gateway"

# What caused a change (WorkflowChanged.cause).
API = "api"
BULK = "bulk"
REPLY = "reply"
OPENED = "opened"


def workflow_events(write: WorkflowWrite, *, cause: str, at: datetime) -> list[Envelope[Any]]:
    before, after = write.before, write.after
    common: dict[str, Any] = {
        "discussion_id": after.id,
        "store_id": after.store_id,
        "marketplace": after.marketplace,
        "thread_id": after.thread_id,
        "status": after.status.value,
        "read": after.read,
        "tags": list(after.tags),
        "merchant_ticket_id": after.merchant_ticket_id,
        "changed_at": at,
        "cause": cause,
    }
    events: list[Envelope[Any]] = []
    if before.status is not after.status:
        events.append(
            Envelope[DiscussionStatusChanged](
                source=SOURCE,
                type=DISCUSSION_STATUS_CHANGED.name,
                subject=after.key,
                time=at,
                data=DiscussionStatusChanged(**common, previous_status=before.status.value),
            )
        )
    if before.read != after.read:
        events.append(
            Envelope[DiscussionReadChanged](
                source=SOURCE,
                type=DISCUSSION_READ_CHANGED.name,
                subject=after.key,
                time=at,
                data=DiscussionReadChanged(**common),
            )
        )
    if list(before.tags) != list(after.tags):
        events.append(
            Envelope[DiscussionTagsChanged](
                source=SOURCE,
                type=DISCUSSION_TAGS_CHANGED.name,
                subject=after.key,
                time=at,
                data=DiscussionTagsChanged(
                    **common,
                    added=[t for t in after.tags if t not in before.tags],
                    removed=[t for t in before.tags if t not in after.tags],
                ),
            )
        )
    if before.merchant_ticket_id != after.merchant_ticket_id:
        events.append(
            Envelope[MerchantTicketChanged](
                source=SOURCE,
                type=MERCHANT_TICKET_CHANGED.name,
                subject=after.key,
                time=at,
                data=MerchantTicketChanged(
                    **common, previous_merchant_ticket_id=before.merchant_ticket_id
                ),
            )
        )
    return events

"""Whether a received message gets the store's autoresponse (F19), decided without I/O.

The trigger is the buyer's *first* message of a thread: the earliest inbound customer
message of the discussion, so a second buyer message never gets one, whatever order
the events arrive in. The operator (a marketplace's customer service) is never
answered, nor are our own messages (outbound, or sent as the merchant). A thread the
merchant already answered (in Parley or on the marketplace) is left alone; only our
own earlier autoresponse of the same thread does not count as such an answer, so a
redelivered event after a crash still finishes the job (notification) instead of
being mistaken for "the merchant replied".

One autoresponse per thread is also guaranteed below this decision: its command id
is derived from the discussion id (:func:`auto_command_id`), and the outbox opens a
command id once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from parley_schemas import Direction, MessageReceived, ParticipantRole
from parley_store import DiscussionDocument, MessageDocument
from parley_store.autoresponders import AutoresponderSettings


class Skip(StrEnum):
    NOT_A_BUYER = "not_a_buyer_message"
    NO_DISCUSSION = "discussion_gone"
    DRAFT = "draft_discussion"
    NOT_ENABLED = "autoresponder_not_enabled"
    NOT_FIRST = "not_the_first_buyer_message"
    MERCHANT_REPLIED = "merchant_already_replied"
    TOO_OLD = "message_too_old"


@dataclass(frozen=True)
class Decision:
    send: bool
    skip: Skip | None = None

    @classmethod
    def skipped(cls, why: Skip) -> Decision:
        return cls(False, why)


SEND = Decision(True)


def auto_command_id(discussion_id: str) -> str:
    """The autoresponse's idempotency key: one per discussion, stable across restarts."""
    return "auto-" + hashlib.sha256(discussion_id.encode()).hexdigest()[:40]


def is_buyer_message(event: MessageReceived) -> bool:
    return event.direction is Direction.INBOUND and event.sender.role is ParticipantRole.CUSTOMER


def decide(
    event: MessageReceived,
    discussion: DiscussionDocument | None,
    messages: Sequence[MessageDocument],
    settings: AutoresponderSettings | None,
    *,
    now: datetime,
    max_age: timedelta,
) -> Decision:
    """Send, or why not. ``messages`` are the discussion's stored messages."""
    if not is_buyer_message(event):
        return Decision.skipped(Skip.NOT_A_BUYER)
    if discussion is None:
        return Decision.skipped(Skip.NO_DISCUSSION)
    if discussion.draft:  # opened by Parley from an order alert: no buyer thread exists
        return Decision.skipped(Skip.DRAFT)
    if settings is None or not settings.enabled:
        return Decision.skipped(Skip.NOT_ENABLED)
    ours = auto_command_id(discussion.id)
    if any(_merchant_answer(m, ours) for m in messages):
        return Decision.skipped(Skip.MERCHANT_REPLIED)
    buyer = [
        m
        for m in messages
        if m.direction is Direction.INBOUND and m.sender.role is ParticipantRole.CUSTOMER
    ]
    first = min(buyer, key=lambda m: (m.sent_at, m.id), default=None)
    if first is not None and first.id != event.message_id:
        return Decision.skipped(Skip.NOT_FIRST)
    # A thread first seen long after it started (a late activation, a replay of old
    # events) is not answered "right away" any more: an autoresponse would be noise.
    if now - event.sent_at > max_age:
        return Decision.skipped(Skip.TOO_OLD)
    return SEND


def _merchant_answer(message: MessageDocument, ours: str) -> bool:
    if message.command_id == ours:
        return False
    return (
        message.direction is Direction.OUTBOUND or message.sender.role is ParticipantRole.MERCHANT
    )

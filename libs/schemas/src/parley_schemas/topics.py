"""Topic names (with a version suffix), their record types, and partitioning.

A breaking change to a record is a new record type *and* a new topic version;
consumers of ``.v1`` never see a ``.v2`` payload.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from .alerts import OrderAlert
from .commands import ReplyCommand, ResyncRequest
from .deadletter import DeadLetter
from .delivery import DeliveryResult
from .events import DiscussionCreated, MessageReceived, MessageSent
from .snapshots import RawThreadSnapshot


@dataclass(frozen=True)
class RecordType:
    """A CloudEvents ``type`` and the payload model it carries."""

    name: str
    model: type[BaseModel]


THREAD_SNAPSHOT = RecordType("com.parley.marketplace.thread_snapshot.v1", RawThreadSnapshot)
REPLY_REQUESTED = RecordType("com.parley.conversation.reply_requested.v1", ReplyCommand)
RESYNC_REQUESTED = RecordType("com.parley.ingest.resync_requested.v1", ResyncRequest)
DELIVERY_RESULT = RecordType("com.parley.delivery.result.v1", DeliveryResult)
DISCUSSION_CREATED = RecordType("com.parley.discussion.created.v1", DiscussionCreated)
MESSAGE_RECEIVED = RecordType("com.parley.message.received.v1", MessageReceived)
MESSAGE_SENT = RecordType("com.parley.message.sent.v1", MessageSent)
DEAD_LETTER = RecordType("com.parley.deadletter.v1", DeadLetter)
ORDER_ALERT = RecordType("com.parley.marketplace.order_alert.v1", OrderAlert)


@dataclass(frozen=True)
class Topic:
    name: str
    record_types: tuple[RecordType, ...]
    partitions: int = 6
    description: str = ""


MARKETPLACE_RAW = Topic(
    "marketplace.raw.v1",
    (THREAD_SNAPSHOT,),
    description="Raw thread snapshots from ingest; key = discussion key.",
)
ORDER_ALERTS = Topic(
    "order.alerts.v1",
    (ORDER_ALERT,),
    description="Order events that need the buyer (F9), each opening a draft discussion; "
    "key = the alert's discussion key store:marketplace:alert-<order id>-<kind>. Same "
    "partition count as marketplace.raw.v1: the normalizer consumes both co-partitioned.",
)
CONVERSATION_COMMANDS = Topic(
    "conversation.commands.v1",
    (REPLY_REQUESTED,),
    description="User actions the responder carries out; key = discussion key.",
)
INGEST_COMMANDS = Topic(
    "ingest.commands.v1",
    (RESYNC_REQUESTED,),
    description="Manual resync requests for ingest; key = discussion key, or store:marketplace:*.",
)
DELIVERY_RESULTS = Topic(
    "delivery.results.v1",
    (DELIVERY_RESULT,),
    description="Reply delivery states from the responder; key = discussion key.",
)
CONVERSATION_EVENTS = Topic(
    "conversation.events.v1",
    (DISCUSSION_CREATED, MESSAGE_RECEIVED, MESSAGE_SENT),
    description="Public conversation events for internal consumers; key = discussion key.",
)
DEAD_LETTERS = Topic(
    "parley.deadletter.v1",
    (DEAD_LETTER,),
    partitions=1,
    description="Records and payloads that could not be processed, with the reason.",
)

ALL_TOPICS: tuple[Topic, ...] = (
    MARKETPLACE_RAW,
    ORDER_ALERTS,
    CONVERSATION_COMMANDS,
    INGEST_COMMANDS,
    DELIVERY_RESULTS,
    CONVERSATION_EVENTS,
    DEAD_LETTERS,
)

RECORD_TYPES: dict[str, RecordType] = {
    rt.name: rt for topic in ALL_TOPICS for rt in topic.record_types
}

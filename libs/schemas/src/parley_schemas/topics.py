"""Topic names (with a version suffix), their record types, partitioning and config.

A breaking change to a record is a new record type *and* a new topic version;
consumers of ``.v1`` never see a ``.v2`` payload.

This is the one declaration of each topic's Kafka configuration: partitions,
retention, cleanup policy and min.insync.replicas. The topics admin
(parley_platform.topics_admin) creates topics with it and brings existing topics'
config back to it; the Helm chart's values repeat it for Strimzi and a unit test
keeps the two equal. Topics whose records carry personal data (message bodies,
names, email and postal addresses) have a bounded retention (docs/events.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from .alerts import OrderAlert
from .commands import ReplyCommand, ResyncRequest
from .deadletter import DeadLetter
from .delivery import DeliveryResult
from .events import (
    AttachmentStored,
    AutoresponseSent,
    ConnectionHealthChanged,
    DeliveryChanged,
    DiscussionCreated,
    DiscussionDeleted,
    DiscussionReadChanged,
    DiscussionStatusChanged,
    DiscussionTagsChanged,
    MerchantTicketChanged,
    MessageReceived,
    MessageSent,
)
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
DISCUSSION_STATUS_CHANGED = RecordType(
    "com.parley.discussion.status_changed.v1", DiscussionStatusChanged
)
DISCUSSION_READ_CHANGED = RecordType("com.parley.discussion.read_changed.v1", DiscussionReadChanged)
DISCUSSION_TAGS_CHANGED = RecordType("com.parley.discussion.tags_changed.v1", DiscussionTagsChanged)
MERCHANT_TICKET_CHANGED = RecordType(
    "com.parley.discussion.merchant_ticket_changed.v1", MerchantTicketChanged
)
DISCUSSION_DELETED = RecordType("com.parley.discussion.deleted.v1", DiscussionDeleted)
DELIVERY_QUEUED = RecordType("com.parley.delivery.queued.v1", DeliveryChanged)
DELIVERY_SENT = RecordType("com.parley.delivery.sent.v1", DeliveryChanged)
DELIVERY_FAILED = RecordType("com.parley.delivery.failed.v1", DeliveryChanged)
DELIVERY_UNKNOWN = RecordType("com.parley.delivery.unknown.v1", DeliveryChanged)
AUTORESPONSE_SENT = RecordType("com.parley.autoresponse.sent.v1", AutoresponseSent)
ATTACHMENT_STORED = RecordType("com.parley.attachment.stored.v1", AttachmentStored)
CONNECTION_HEALTH_CHANGED = RecordType(
    "com.parley.connection.health_changed.v1", ConnectionHealthChanged
)

DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True)
class Topic:
    """A topic and its Kafka configuration.

    ``retention_ms``: how long records are kept (None: forever, only for compacted
    state logs without personal data). ``compact``: the topic is a state log (the
    latest record per key is the state), so Kafka keeps the latest per key.
    ``min_insync_replicas`` is capped at the replication factor when applied (a
    one-broker development cluster cannot have two in-sync replicas).
    """

    name: str
    record_types: tuple[RecordType, ...]
    partitions: int = 6
    description: str = ""
    retention_ms: int | None = 7 * DAY_MS
    compact: bool = False
    min_insync_replicas: int = 2
    personal_data: bool = True
    key: str = "discussion key store:marketplace:thread"

    def __post_init__(self) -> None:
        if self.personal_data and self.retention_ms is None:
            raise ValueError(f"{self.name}: personal data needs a bounded retention")

    def config(self, replication_factor: int) -> dict[str, str]:
        """The topic-level Kafka config this declaration stands for."""
        config = {
            "cleanup.policy": "compact" if self.compact else "delete",
            "min.insync.replicas": str(max(1, min(self.min_insync_replicas, replication_factor))),
            "retention.ms": str(self.retention_ms if self.retention_ms is not None else -1),
        }
        return config


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
    retention_ms=1 * DAY_MS,
    personal_data=False,
)
DELIVERY_RESULTS = Topic(
    "delivery.results.v1",
    (DELIVERY_RESULT,),
    description="Reply delivery states from the responder; key = discussion key.",
)
CONVERSATION_EVENTS = Topic(
    "conversation.events.v1",
    (
        DISCUSSION_CREATED,
        MESSAGE_RECEIVED,
        MESSAGE_SENT,
        DISCUSSION_STATUS_CHANGED,
        DISCUSSION_READ_CHANGED,
        DISCUSSION_TAGS_CHANGED,
        MERCHANT_TICKET_CHANGED,
        DELIVERY_QUEUED,
        DELIVERY_SENT,
        DELIVERY_FAILED,
        DELIVERY_UNKNOWN,
        AUTORESPONSE_SENT,
        ATTACHMENT_STORED,
        DISCUSSION_DELETED,
    ),
    description="Public conversation events for internal consumers (docs/events.md); "
    "key = discussion key. Carries message bodies, names and email addresses: kept 7 days.",
)
CONNECTION_EVENTS = Topic(
    "connection.events.v1",
    (CONNECTION_HEALTH_CHANGED,),
    partitions=1,
    description="Connection health changes from ingest; key = connection id. A state log "
    "(the latest record per connection is its health): compacted, no personal data.",
    retention_ms=None,
    compact=True,
    personal_data=False,
    key="connection id",
)
DEAD_LETTERS = Topic(
    "parley.deadletter.v1",
    (DEAD_LETTER,),
    partitions=1,
    description="Records and payloads that could not be processed, with the reason.",
    retention_ms=30 * DAY_MS,  # time to look and replay; carries whatever failed
)

ALL_TOPICS: tuple[Topic, ...] = (
    MARKETPLACE_RAW,
    ORDER_ALERTS,
    CONVERSATION_COMMANDS,
    INGEST_COMMANDS,
    DELIVERY_RESULTS,
    CONVERSATION_EVENTS,
    CONNECTION_EVENTS,
    DEAD_LETTERS,
)

RECORD_TYPES: dict[str, RecordType] = {
    rt.name: rt for topic in ALL_TOPICS for rt in topic.record_types
}

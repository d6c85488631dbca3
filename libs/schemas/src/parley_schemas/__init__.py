"""Parley's contracts: every record on every topic, the topics and the keys."""

from .alerts import ALERT_THREAD_PREFIX, OrderAlert, OrderAlertKind, alert_thread_id
from .codec import UndecodableRecord, decode
from .commands import ReplyAction, ReplyCommand, ResyncRequest
from .common import AttachmentRef, Direction, Participant, ParticipantRole, Record
from .deadletter import DeadLetter
from .delivery import DeliveryResult, DeliveryState, DeliveryStatus
from .envelope import CLOUDEVENTS_CONTENT_TYPE, Envelope, utcnow
from .events import DiscussionCreated, MessageEvent, MessageReceived, MessageSent
from .keys import DiscussionKey, discussion_id_for
from .snapshots import RawEntity, RawMessage, RawThreadSnapshot
from .topics import (
    ALL_TOPICS,
    CONVERSATION_COMMANDS,
    CONVERSATION_EVENTS,
    DEAD_LETTER,
    DEAD_LETTERS,
    DELIVERY_RESULT,
    DELIVERY_RESULTS,
    DISCUSSION_CREATED,
    INGEST_COMMANDS,
    MARKETPLACE_RAW,
    MESSAGE_RECEIVED,
    MESSAGE_SENT,
    ORDER_ALERT,
    ORDER_ALERTS,
    RECORD_TYPES,
    REPLY_REQUESTED,
    RESYNC_REQUESTED,
    THREAD_SNAPSHOT,
    RecordType,
    Topic,
)

__all__ = [
    "ALERT_THREAD_PREFIX",
    "ALL_TOPICS",
    "CLOUDEVENTS_CONTENT_TYPE",
    "CONVERSATION_COMMANDS",
    "CONVERSATION_EVENTS",
    "DEAD_LETTER",
    "DEAD_LETTERS",
    "DELIVERY_RESULT",
    "DELIVERY_RESULTS",
    "DISCUSSION_CREATED",
    "INGEST_COMMANDS",
    "MARKETPLACE_RAW",
    "MESSAGE_RECEIVED",
    "MESSAGE_SENT",
    "ORDER_ALERT",
    "ORDER_ALERTS",
    "RECORD_TYPES",
    "REPLY_REQUESTED",
    "RESYNC_REQUESTED",
    "THREAD_SNAPSHOT",
    "AttachmentRef",
    "DeadLetter",
    "DeliveryResult",
    "DeliveryState",
    "DeliveryStatus",
    "Direction",
    "DiscussionCreated",
    "DiscussionKey",
    "Envelope",
    "MessageEvent",
    "MessageReceived",
    "MessageSent",
    "OrderAlert",
    "OrderAlertKind",
    "Participant",
    "ParticipantRole",
    "RawEntity",
    "RawMessage",
    "RawThreadSnapshot",
    "Record",
    "RecordType",
    "ReplyAction",
    "ReplyCommand",
    "ResyncRequest",
    "Topic",
    "UndecodableRecord",
    "alert_thread_id",
    "decode",
    "discussion_id_for",
    "utcnow",
]

"""The discussions store shared by the normalizer (writer of synced fields) and the
gateway (writer of workflow fields, reader of everything)."""

from .collections import (
    DELIVERIES,
    DISCUSSIONS,
    MESSAGES,
    SYNC_CURSORS,
    create_missing_indexes,
    ensure_indexes,
)
from .connections import CONNECTIONS, ConnectionDocument
from .documents import (
    SYNCED_FIELDS,
    WORKFLOW_FIELDS,
    DeliveryInfo,
    DiscussionDocument,
    DiscussionStatus,
    DiscussionType,
    MessageDocument,
    inbound_message_id,
    outbound_message_id,
)
from .files import FileNotStored, GridFsFileStore, StoredFile

__all__ = [
    "CONNECTIONS",
    "DELIVERIES",
    "DISCUSSIONS",
    "MESSAGES",
    "SYNCED_FIELDS",
    "SYNC_CURSORS",
    "WORKFLOW_FIELDS",
    "ConnectionDocument",
    "DeliveryInfo",
    "DiscussionDocument",
    "DiscussionStatus",
    "DiscussionType",
    "FileNotStored",
    "GridFsFileStore",
    "MessageDocument",
    "StoredFile",
    "create_missing_indexes",
    "ensure_indexes",
    "inbound_message_id",
    "outbound_message_id",
]

"""The discussions store shared by the normalizer (writer of synced fields) and the
gateway (writer of workflow fields, reader of everything)."""

from .collections import (
    ACCOUNTS,
    API_KEYS,
    DELIVERIES,
    DISCUSSIONS,
    MESSAGES,
    SYNC_CURSORS,
    create_missing_indexes,
    ensure_indexes,
)
from .connections import (
    CONNECTIONS,
    ConnectionDocument,
    SyncError,
    SyncErrorKind,
    safe_error_message,
)
from .customers import CUSTOMERS, CustomerDocument, customer_id_for
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
from .files import (
    UPLOAD_KEYS,
    UPLOADS_BUCKET,
    FileDownload,
    FileInfo,
    FileNotStored,
    GridFsFileReader,
    GridFsFileStore,
    StoredFile,
)
from .refresh_locks import REFRESH_LOCKS, MongoRefreshLock

__all__ = [
    "ACCOUNTS",
    "API_KEYS",
    "CONNECTIONS",
    "CUSTOMERS",
    "DELIVERIES",
    "DISCUSSIONS",
    "MESSAGES",
    "REFRESH_LOCKS",
    "SYNCED_FIELDS",
    "SYNC_CURSORS",
    "UPLOADS_BUCKET",
    "UPLOAD_KEYS",
    "WORKFLOW_FIELDS",
    "ConnectionDocument",
    "CustomerDocument",
    "DeliveryInfo",
    "DiscussionDocument",
    "DiscussionStatus",
    "DiscussionType",
    "FileDownload",
    "FileInfo",
    "FileNotStored",
    "GridFsFileReader",
    "GridFsFileStore",
    "MessageDocument",
    "MongoRefreshLock",
    "StoredFile",
    "SyncError",
    "SyncErrorKind",
    "create_missing_indexes",
    "customer_id_for",
    "ensure_indexes",
    "inbound_message_id",
    "outbound_message_id",
    "safe_error_message",
]

"""The gateway's rules, free of I/O: who may see what, how lists page, what a reply is,
which workflow changes are allowed."""

from .access import Account, Caller, InvalidAccount, IssuedKey, StoredKey
from .listing import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    SETTLED,
    DiscussionFilters,
    InvalidCursor,
    InvalidFilter,
    Position,
    at_risk_before,
    decode_cursor,
    encode_cursor,
)
from .replies import (
    MAX_REPLY_CHARS,
    ReplyRejected,
    StatusChange,
    check_marketplace_rules,
    clean_recipients,
    clean_reply_body,
    status_change_after,
)
from .scope import Scope
from .workflow import (
    KEEP,
    MAX_BULK_IDS,
    BulkOutcome,
    WorkflowRejected,
    WorkflowUpdate,
    clean_bulk_ids,
)

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "KEEP",
    "MAX_BULK_IDS",
    "MAX_PAGE_SIZE",
    "MAX_REPLY_CHARS",
    "SETTLED",
    "Account",
    "BulkOutcome",
    "Caller",
    "DiscussionFilters",
    "InvalidAccount",
    "InvalidCursor",
    "InvalidFilter",
    "IssuedKey",
    "Position",
    "ReplyRejected",
    "Scope",
    "StatusChange",
    "StoredKey",
    "WorkflowRejected",
    "WorkflowUpdate",
    "at_risk_before",
    "check_marketplace_rules",
    "clean_bulk_ids",
    "clean_recipients",
    "clean_reply_body",
    "decode_cursor",
    "encode_cursor",
    "status_change_after",
]

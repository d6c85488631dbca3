"""The gateway's rules, free of I/O: who may see what, how lists page, what a reply is."""

from .listing import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    DiscussionFilters,
    InvalidCursor,
    Position,
    decode_cursor,
    encode_cursor,
)
from .replies import (
    MAX_REPLY_CHARS,
    ReplyRejected,
    StatusChange,
    clean_recipients,
    clean_reply_body,
    status_change_after,
)
from .scope import Scope

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "MAX_REPLY_CHARS",
    "DiscussionFilters",
    "InvalidCursor",
    "Position",
    "ReplyRejected",
    "Scope",
    "StatusChange",
    "clean_recipients",
    "clean_reply_body",
    "decode_cursor",
    "encode_cursor",
    "status_change_after",
]

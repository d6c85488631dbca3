"""The Rakuten France family: its (ex-PriceMinister) XML sales web services."""

from parley_connectors.rakuten.client import (
    DEFAULT_BASE_URL,
    DEFAULT_VERSIONS,
    RakutenClient,
    RakutenContactResult,
)
from parley_connectors.rakuten.models import (
    MAIL,
    MESSAGE,
    RAKUTEN_TIMEZONE,
    RakutenError,
    RakutenItem,
    RakutenMessage,
    RakutenPayloadError,
    RakutenTodoItem,
    RakutenTodoPage,
    format_date,
    message_id_for,
    parse_date,
    split_thread_id,
    thread_id_for,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_VERSIONS",
    "MAIL",
    "MESSAGE",
    "RAKUTEN_TIMEZONE",
    "RakutenClient",
    "RakutenContactResult",
    "RakutenError",
    "RakutenItem",
    "RakutenMessage",
    "RakutenPayloadError",
    "RakutenTodoItem",
    "RakutenTodoPage",
    "format_date",
    "message_id_for",
    "parse_date",
    "split_thread_id",
    "thread_id_for",
]

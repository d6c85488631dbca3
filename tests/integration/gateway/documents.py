"""Discussion and message documents in the shape the normalizer writes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from parley_schemas import DiscussionKey
from parley_store import DiscussionDocument, MessageDocument, outbound_message_id

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def discussion_doc(
    store_id: str,
    thread_id: str,
    *,
    marketplace: str = "carrefour",
    minutes: int | None = 0,
    status: str = "new",
    read: bool = False,
    type: str = "order",
    order_id: str | None = None,
    subject: str | None = None,
    customer: tuple[str | None, str | None] = ("Ana Silva", "ana@example.com"),
) -> dict[str, Any]:
    key = DiscussionKey(store_id=store_id, marketplace=marketplace, thread_id=thread_id)
    when = None if minutes is None else T0 + timedelta(minutes=minutes)
    name, email = customer
    doc: dict[str, Any] = {
        "_id": key.discussion_id,
        "key": str(key),
        "store_id": store_id,
        "marketplace": marketplace,
        "family": "mirakl",
        "channel": "messages",
        "thread_id": thread_id,
        "subject": subject if subject is not None else f"Order {thread_id}",
        "type": type,
        "entities": [{"type": "order", "id": order_id or thread_id}],
        "order_id": order_id or thread_id,
        "initiator": "customer",
        "participants": [
            {"role": "customer", "name": name, "email": email},
            {"role": "operator", "name": "Carrefour", "email": None},
        ],
        "created_at": T0,
        "last_message_at": when,
        "last_message_preview": "Where is my parcel?" if when else None,
        "last_synced_at": T0,
        "message_count": 2 if when else 0,
        "status": status,
        "read": read,
        "merchant_ticket_id": None,
        "tags": [],
        "created_event_published": True,
    }
    DiscussionDocument.model_validate(doc)  # keeps this helper true to parley_store
    return doc


def inbound_doc(discussion_id: str, mid: str, minutes: int, body: str) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "_id": f"{discussion_id}-{mid}",
        "discussion_id": discussion_id,
        "direction": "inbound",
        "sender": {"role": "customer", "name": "Ana Silva", "email": None, "marketplace_id": "c1"},
        "recipients": ["merchant"],
        "body": body,
        "sent_at": T0 + timedelta(minutes=minutes),
        "attachments": [
            {"name": "photo.jpg", "size": 2048, "content_type": "image/jpeg", "file_id": "f1"}
        ],
        "marketplace_message_id": mid,
        "command_id": None,
        "delivery": None,
        "event_version": 1,
        "event_pending": False,
    }
    MessageDocument.model_validate(doc)
    return doc


def outbound_doc(discussion_id: str, command_id: str, minutes: int, body: str) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "_id": outbound_message_id(discussion_id, command_id),
        "discussion_id": discussion_id,
        "direction": "outbound",
        "sender": {"role": "merchant", "name": None, "email": None, "marketplace_id": None},
        "recipients": ["customer"],
        "body": body,
        "sent_at": T0 + timedelta(minutes=minutes),
        "attachments": [],
        "command_id": command_id,
        "delivery": {
            "state": "failed",
            "error": "thread closed by the operator",
            "attempts": 3,
            "updated_at": T0 + timedelta(minutes=minutes),
        },
        "event_version": 3,
        "event_pending": False,
    }
    MessageDocument.model_validate(doc)
    return doc

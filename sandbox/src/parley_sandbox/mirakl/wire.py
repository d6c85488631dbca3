"""The documented Mirakl JSON shapes, rendered from the sandbox's state.

Kept apart from the routes so the shapes can be read in one place against the
documentation (M10/M11 thread, message, participant, metadata; M12 answer; error
body).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from parley_sandbox.mirakl.store import (
    OPERATOR,
    Party,
    StoredMessage,
    StoredOrderDocument,
    StoredThread,
)

M11_MAX_MESSAGES = 100  # "Limited to the last 100 messages" of each thread


def iso(value: datetime) -> str:
    """``2026-03-01T09:00:00.000Z``: UTC, milliseconds, as Mirakl shows dates."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def participant(party: Party) -> dict[str, Any]:
    """A participant or recipient; "When type equals OPERATOR, no id will be returned"."""
    out: dict[str, Any] = {"display_name": party.display_name, "type": party.type}
    if party.id is not None and party.type != OPERATOR:
        out["id"] = party.id
    return out


def sender(party: Party) -> dict[str, Any]:
    """A message's ``from``: the sending user kind plus its organization."""
    return {
        "display_name": party.display_name,
        "organization_details": participant(party),
        "type": f"{party.type}_USER",
    }


def message(msg: StoredMessage) -> dict[str, Any]:
    return {
        "attachments": [{"id": a.id, "name": a.name, "size": a.size} for a in msg.attachments],
        "body": msg.body,
        "date_created": iso(msg.date_created),
        "from": sender(msg.sender),
        "id": msg.id,
        "to": [participant(p) for p in msg.to],
    }


def thread(item: StoredThread, *, with_messages: bool, message_cap: int | None) -> dict[str, Any]:
    last = item.messages[-1] if item.messages else None
    needed = item.shop_reply_needed_since()
    metadata: dict[str, Any] = {"total_count": len(item.messages)}
    if last is not None:
        metadata["last_message_date"] = iso(last.date_created)
        metadata["last_sender"] = sender(last.sender)
    if needed is not None:
        metadata["shop_reply_needed_since"] = iso(needed)
    out: dict[str, Any] = {
        "authorized_participants": [participant(p) for p in item.authorized],
        "current_participants": [participant(p) for p in item.current_participants()],
        "date_created": iso(item.date_created),
        "date_updated": iso(item.date_updated),
        "entities": [dict(e) for e in item.entities],
        "id": item.id,
        "metadata": metadata,
        "topic": dict(item.topic) if item.topic else None,
    }
    if with_messages:
        shown = item.messages if message_cap is None else item.messages[-message_cap:]
        out["messages"] = [message(m) for m in shown]
        out["no_store_reply_needed"] = list(item.no_store_reply_needed)
    return out


def order_document(document: StoredOrderDocument) -> dict[str, Any]:
    """An OR72 entry; the type code is named ``type`` in the answer."""
    return {
        "date_uploaded": iso(document.date_uploaded),
        "file_name": document.file_name,
        "file_size": document.size,
        "id": document.id,
        "order_id": document.order_id,
        "type": document.type_code,
    }


def documents_upload(refused: list[tuple[str, str, list[tuple[str, str]]]]) -> dict[str, Any]:
    """OR74's answer: how many documents were refused and, for each, its errors."""
    return {
        "errors_count": len(refused),
        "order_documents": [
            {
                "errors": [{"code": code, "message": text} for code, text in errors],
                "file_name": name,
                "type_code": type_code,
            }
            for name, type_code, errors in refused
        ],
    }


def error(status: int, message_text: str) -> dict[str, Any]:
    """Mirakl's error body (assumed shape: ``{"status", "message"}``)."""
    return {"message": message_text, "status": status}

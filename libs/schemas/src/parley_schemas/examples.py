"""One example record per public event type: the AsyncAPI document and docs/events.md
show these, and a unit test checks each against its published JSON Schema.

Built from the models (not hand-written JSON), so an example cannot drift from the
contract. ``python -m parley_schemas.examples [docs/events.md]`` prints the catalogue
section of docs/events.md, or writes it between that file's ``catalogue`` markers.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .common import Direction, Organization, Participant, ParticipantRole
from .delivery import DeliveryState, DeliveryStatus
from .envelope import Envelope
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
from .keys import DiscussionKey
from .snapshots import RawEntity
from .topics import (
    ATTACHMENT_STORED,
    AUTORESPONSE_SENT,
    CONNECTION_EVENTS,
    CONNECTION_HEALTH_CHANGED,
    CONVERSATION_EVENTS,
    DELIVERY_FAILED,
    DELIVERY_QUEUED,
    DELIVERY_SENT,
    DELIVERY_UNKNOWN,
    DISCUSSION_CREATED,
    DISCUSSION_DELETED,
    DISCUSSION_READ_CHANGED,
    DISCUSSION_STATUS_CHANGED,
    DISCUSSION_TAGS_CHANGED,
    MERCHANT_TICKET_CHANGED,
    MESSAGE_RECEIVED,
    MESSAGE_SENT,
    RecordType,
)

_KEY = DiscussionKey(store_id="store-42", marketplace="carrefour", thread_id="T-1001")
_AT = datetime(2026, 6, 1, 9, 30, tzinfo=UTC)
_REF: dict[str, Any] = {
    "discussion_id": _KEY.discussion_id,
    "store_id": _KEY.store_id,
    "marketplace": _KEY.marketplace,
    "thread_id": _KEY.thread_id,
}
_WORKFLOW: dict[str, Any] = {
    **_REF,
    "status": "open",
    "read": True,
    "tags": ["late-delivery"],
    "merchant_ticket_id": "ZD-5521",
    "changed_at": _AT,
    "cause": "api",
}
_MESSAGE: dict[str, Any] = {**_REF, "body": "Bonjour, où est ma commande ?", "sent_at": _AT}
_DELIVERY: dict[str, Any] = {
    **_REF,
    "message_id": "9b1f0c7e2d4a4b6f8e3c1a2b3c4d5e6f",
    "command_id": "5f2d8c1b9a7e4d3c2b1a0f9e8d7c6b5a",
    "occurred_at": _AT,
}
_SOURCES = {
    DISCUSSION_CREATED.name: "/parley/normalizer",
    MESSAGE_RECEIVED.name: "/parley/normalizer",
    MESSAGE_SENT.name: "/parley/normalizer",
    DELIVERY_QUEUED.name: "/parley/normalizer",
    DELIVERY_SENT.name: "/parley/normalizer",
    DELIVERY_FAILED.name: "/parley/normalizer",
    DELIVERY_UNKNOWN.name: "/parley/normalizer",
    DISCUSSION_DELETED.name: "/parley/normalizer",
    DISCUSSION_STATUS_CHANGED.name: "/parley/gateway",
    DISCUSSION_READ_CHANGED.name: "/parley/gateway",
    DISCUSSION_TAGS_CHANGED.name: "/parley/gateway",
    MERCHANT_TICKET_CHANGED.name: "/parley/gateway",
    AUTORESPONSE_SENT.name: "/parley/responder",
    ATTACHMENT_STORED.name: "/parley/ingest",
    CONNECTION_HEALTH_CHANGED.name: "/parley/ingest",
}


def _payloads() -> dict[str, BaseModel]:
    buyer = Participant(
        role=ParticipantRole.CUSTOMER,
        name="Camille Martin",
        marketplace_id="C-2044",
        organization=Organization(name="Atelier Martin SARL", id="ORG-318"),
    )
    merchant = Participant(role=ParticipantRole.MERCHANT)
    return {
        DISCUSSION_CREATED.name: DiscussionCreated(
            **{k: v for k, v in _REF.items()},
            channel="messages",
            subject="Livraison",
            type="order",
            created_at=_AT,
            status="new",
            read=False,
            order_id="CMD-7781-A",
            participants=[buyer, merchant],
            entities=[RawEntity(type="order", id="CMD-7781-A", label="CMD-7781-A")],
            reply_expected=True,
            reply_due_at=_AT + timedelta(hours=48),
        ),
        MESSAGE_RECEIVED.name: MessageReceived(
            **_MESSAGE,
            message_id="3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f",
            marketplace_message_id="M-77",
            direction=Direction.INBOUND,
            sender=buyer,
            recipients=[ParticipantRole.MERCHANT],
            read=False,
            reply_expected=True,
            reply_due_at=_AT + timedelta(hours=48),
        ),
        MESSAGE_SENT.name: MessageSent(
            **{**_MESSAGE, "body": "Bonjour Camille, elle part demain."},
            message_id=_DELIVERY["message_id"],
            direction=Direction.OUTBOUND,
            sender=merchant,
            recipients=[ParticipantRole.CUSTOMER],
            delivery_state=DeliveryState.SENT,
            command_id=_DELIVERY["command_id"],
            reply_expected=False,
        ),
        DISCUSSION_STATUS_CHANGED.name: DiscussionStatusChanged(**_WORKFLOW, previous_status="new"),
        DISCUSSION_READ_CHANGED.name: DiscussionReadChanged(**{**_WORKFLOW, "cause": "opened"}),
        DISCUSSION_TAGS_CHANGED.name: DiscussionTagsChanged(
            **_WORKFLOW, added=["late-delivery"], removed=[]
        ),
        MERCHANT_TICKET_CHANGED.name: MerchantTicketChanged(
            **_WORKFLOW, previous_merchant_ticket_id=None
        ),
        DELIVERY_QUEUED.name: DeliveryChanged(
            **_DELIVERY,
            status=DeliveryStatus.QUEUED,
            attempts=1,
            error="503 Service Unavailable",
            next_attempt_at=datetime(2026, 6, 1, 9, 31, tzinfo=UTC),
        ),
        DELIVERY_SENT.name: DeliveryChanged(
            **_DELIVERY, status=DeliveryStatus.SENT, attempts=2, marketplace_message_id="M-78"
        ),
        DELIVERY_FAILED.name: DeliveryChanged(
            **_DELIVERY,
            status=DeliveryStatus.FAILED,
            attempts=1,
            error="the marketplace refused the message: thread closed",
        ),
        DELIVERY_UNKNOWN.name: DeliveryChanged(
            **_DELIVERY,
            status=DeliveryStatus.UNKNOWN,
            attempts=5,
            error="timed out after the request was sent",
        ),
        AUTORESPONSE_SENT.name: AutoresponseSent(
            **_REF,
            command_id="auto-" + _KEY.discussion_id,
            marketplace_message_id="M-79",
            sent_at=_AT,
        ),
        ATTACHMENT_STORED.name: AttachmentStored(
            **_REF,
            marketplace_message_id="M-77",
            marketplace_attachment_id="A-9",
            file_id="665f1c2e9d1e4a0012345678",
            name="photo.jpg",
            size=183_204,
            content_type="image/jpeg",
            stored_at=_AT,
        ),
        DISCUSSION_DELETED.name: DiscussionDeleted(
            **_REF,
            reason="retention",
            status="solved",
            expired_at=datetime(2026, 6, 15, 9, 30, tzinfo=UTC),
            deleted_at=datetime(2026, 6, 15, 9, 35, tzinfo=UTC),
        ),
        CONNECTION_HEALTH_CHANGED.name: ConnectionHealthChanged(
            connection_id="store-42-carrefour",
            store_id="store-42",
            marketplace="carrefour",
            family="mirakl",
            health="needs_attention",
            previous_health="ok",
            reason="the marketplace refused the credentials: 401 Unauthorized",
            changed_at=_AT,
        ),
    }


def example(record_type: RecordType) -> dict[str, Any]:
    """The example record of a public event type, as its JSON value on Kafka."""
    payload = _payloads()[record_type.name]
    subject = "store-42-carrefour" if record_type in CONNECTION_EVENTS.record_types else str(_KEY)
    envelope = Envelope[type(payload)](  # type: ignore[misc,operator]
        id="0f8e7d6c5b4a39281706f5e4d3c2b1a0",
        source=_SOURCES[record_type.name],
        type=record_type.name,
        time=_AT,
        subject=subject,
        data=payload,
    )
    result: dict[str, Any] = json.loads(envelope.to_json_bytes())
    return result


PUBLIC_TYPES: tuple[RecordType, ...] = (
    *CONVERSATION_EVENTS.record_types,
    *CONNECTION_EVENTS.record_types,
)


def catalogue_markdown() -> str:
    """The catalogue section of docs/events.md: per type, its summary and example."""
    lines: list[str] = []
    for topic in (CONVERSATION_EVENTS, CONNECTION_EVENTS):
        lines.append(f"### Topic `{topic.name}` (key: {topic.key})")
        lines.append("")
        for record_type in topic.record_types:
            doc = (record_type.model.__doc__ or "").strip()
            lines.append(f"#### `{record_type.name}`")
            lines.append("")
            lines.append(f"Producer: `{_SOURCES[record_type.name]}`. {' '.join(doc.split())}")
            lines.append("")
            lines.append("```json")
            lines.append(json.dumps(example(record_type), indent=2, ensure_ascii=False))
            lines.append("```")
            lines.append("")
    return "\n".join(lines)


BEGIN, END = "<!-- catalogue:begin -->", "<!-- catalogue:end -->"


def write_catalogue(path: Path) -> None:
    """Replaces the section between the markers of ``path`` with the catalogue."""
    text = path.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{BEGIN}\n{catalogue_markdown().strip()}\n{END}{tail}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        write_catalogue(Path(sys.argv[1]))
    else:
        print(catalogue_markdown(), end="")

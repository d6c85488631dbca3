"""The synced discussion keeps who takes part and what it is about, in full: each
participant's marketplace id and company, each entity's type, id and label."""

from __future__ import annotations

from datetime import UTC, datetime

from parley_normalizer.domain.threads import synced_fields
from parley_schemas import (
    Organization,
    Participant,
    ParticipantRole,
    RawEntity,
    RawMessage,
    RawThreadSnapshot,
)
from parley_store import DiscussionDocument

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
ACME = Organization(name="Acme SA", id="ORG-7")
BUYER = Participant(
    role=ParticipantRole.CUSTOMER, name="Ana", marketplace_id="C-1", organization=ACME
)


def snapshot() -> RawThreadSnapshot:
    return RawThreadSnapshot(
        connection_id="c",
        store_id="s",
        marketplace="carrefour",
        family="mirakl",
        thread_id="t",
        entities=[
            RawEntity(type="order", id="O-1", label="O-1"),
            RawEntity(type="offer", id="2077", label="Blue kettle"),
        ],
        participants=[BUYER, Participant(role=ParticipantRole.MERCHANT, name="Shop")],
        messages=[
            RawMessage(
                marketplace_message_id="m1",
                # The message's sender, as a marketplace may give it: no company.
                sender=Participant(role=ParticipantRole.CUSTOMER, name="Ana"),
                body="Hello",
                sent_at=T0,
            )
        ],
        fetched_at=T0,
    )


def test_participants_keep_their_marketplace_id_and_company() -> None:
    fields = synced_fields(snapshot()).fields

    assert fields["participants"][0] == {
        "role": "customer",
        "name": "Ana",
        "email": None,
        "marketplace_id": "C-1",
        "organization": {"name": "Acme SA", "id": "ORG-7"},
    }
    assert fields["participants"][1]["organization"] is None


def test_entities_keep_type_id_and_label() -> None:
    fields = synced_fields(snapshot()).fields

    assert fields["entities"] == [
        {"type": "order", "id": "O-1", "label": "O-1"},
        {"type": "offer", "id": "2077", "label": "Blue kettle"},
    ]
    assert fields["order_id"] == "O-1"


def test_the_stored_document_reads_them_back() -> None:
    fields = synced_fields(snapshot()).fields
    doc = DiscussionDocument.model_validate(
        {
            "_id": "d",
            "key": "s:carrefour:t",
            "store_id": "s",
            "marketplace": "carrefour",
            "thread_id": "t",
            "created_at": T0,
            **fields,
        }
    )

    assert doc.participants[0] == BUYER
    assert doc.entities[1] == {"type": "offer", "id": "2077", "label": "Blue kettle"}

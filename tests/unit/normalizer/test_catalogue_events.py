"""The normalizer's share of the event catalogue: what a message version announces."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from jsonschema import Draft202012Validator

from parley_normalizer import events
from parley_schemas import (
    DELIVERY_FAILED,
    DELIVERY_QUEUED,
    DELIVERY_SENT,
    DELIVERY_UNKNOWN,
    MESSAGE_RECEIVED,
    MESSAGE_SENT,
    DeliveryState,
    Direction,
    DiscussionKey,
    Organization,
    Participant,
    ParticipantRole,
)
from parley_schemas.jsonschema import all_schemas
from parley_store import DeliveryInfo, DiscussionDocument, DiscussionType, MessageDocument

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
KEY = DiscussionKey(store_id="s1", marketplace="carrefour", thread_id="t1")
DISCUSSION = DiscussionDocument(
    id=KEY.discussion_id,
    key=str(KEY),
    store_id="s1",
    marketplace="carrefour",
    family="mirakl",
    channel="messages",
    thread_id="t1",
    type=DiscussionType.ORDER,
    created_at=T0,
    read=True,
)


def reply(state: DeliveryState, *, unconfirmed: bool = False, version: int = 2) -> MessageDocument:
    return MessageDocument(
        id="m1",
        discussion_id=DISCUSSION.id,
        direction=Direction.OUTBOUND,
        sender=Participant(role=ParticipantRole.MERCHANT),
        body="On its way",
        sent_at=T0,
        command_id="c1",
        event_version=version,
        delivery=DeliveryInfo(
            state=state, unconfirmed=unconfirmed, attempts=1, updated_at=T0, error="boom"
        ),
    )


def check(envelopes: list[object]) -> None:
    schemas = all_schemas()
    for e in envelopes:
        Draft202012Validator(schemas[e.type]).validate(json.loads(e.to_json_bytes()))  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("state", "unconfirmed", "expected"),
    [
        (DeliveryState.QUEUED, False, DELIVERY_QUEUED.name),
        (DeliveryState.SENT, False, DELIVERY_SENT.name),
        (DeliveryState.FAILED, False, DELIVERY_FAILED.name),
        (DeliveryState.FAILED, True, DELIVERY_UNKNOWN.name),
    ],
)
def test_a_reply_version_announces_the_message_then_its_delivery_state(
    state: DeliveryState, unconfirmed: bool, expected: str
) -> None:
    sent, delivery = events.message_events(DISCUSSION, reply(state, unconfirmed=unconfirmed))

    assert sent.type == MESSAGE_SENT.name and sent.data.read is None
    assert delivery.type == expected
    assert delivery.subject == str(KEY)
    assert delivery.data.command_id == "c1" and delivery.data.message_id == "m1"
    assert (delivery.data.error is None) == (state is DeliveryState.SENT)
    check([sent, delivery])


def test_the_same_version_announced_again_has_the_same_ids() -> None:
    first = events.message_events(DISCUSSION, reply(DeliveryState.SENT))
    again = events.message_events(DISCUSSION, reply(DeliveryState.SENT))
    later = events.message_events(DISCUSSION, reply(DeliveryState.SENT, version=3))

    assert [e.id for e in first] == [e.id for e in again]
    assert not {e.id for e in first} & {e.id for e in later}


def test_an_incoming_message_announces_the_discussion_unread() -> None:
    inbound = MessageDocument(
        id="m2",
        discussion_id=DISCUSSION.id,
        direction=Direction.INBOUND,
        sender=Participant(role=ParticipantRole.CUSTOMER),
        body="Hello?",
        sent_at=T0,
        event_version=1,
    )

    (received,) = events.message_events(DISCUSSION, inbound)

    assert received.type == MESSAGE_RECEIVED.name
    assert received.data.read is False
    check([received])


def test_a_created_discussion_says_new_and_unread() -> None:
    fresh = DISCUSSION.model_copy(update={"read": False})
    created = events.discussion_created(fresh)
    assert (created.data.status, created.data.read) == ("new", False)


def test_a_created_discussion_carries_its_participants_and_entities() -> None:
    buyer = Participant(
        role=ParticipantRole.CUSTOMER,
        name="Ana",
        marketplace_id="C-1",
        organization=Organization(name="Acme SA", id="ORG-7"),
    )
    fresh = DISCUSSION.model_copy(
        update={
            "order_id": "O-1",
            "participants": [buyer, Participant(role=ParticipantRole.MERCHANT)],
            "entities": [
                {"type": "order", "id": "O-1", "label": "Order O-1"},
                {"type": "offer", "id": "2077", "label": None},
            ],
        }
    )

    created = events.discussion_created(fresh)

    assert created.data.order_id == "O-1"
    assert created.data.participants[0] == buyer
    assert [(e.type, e.id, e.label) for e in created.data.entities] == [
        ("order", "O-1", "Order O-1"),
        ("offer", "2077", None),
    ]
    check([created])


def test_an_incoming_message_names_the_senders_company() -> None:
    buyer = Participant(
        role=ParticipantRole.CUSTOMER,
        marketplace_id="C-1",
        organization=Organization(name="Acme SA", id="ORG-7"),
    )
    inbound = MessageDocument(
        id="m3",
        discussion_id=DISCUSSION.id,
        direction=Direction.INBOUND,
        sender=buyer,
        body="Invoice for our company, please",
        sent_at=T0,
        event_version=1,
    )

    (received,) = events.message_events(DISCUSSION, inbound)

    assert received.data.sender.organization == Organization(name="Acme SA", id="ORG-7")
    check([received])

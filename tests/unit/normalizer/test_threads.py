"""Pure normalization rules: type, order id, initiator, participants, preview."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from parley_normalizer.domain.threads import (
    PREVIEW_LENGTH,
    customer,
    direction,
    discussion_type,
    initiator,
    order_id,
    participants,
    preview,
    synced_fields,
)
from parley_schemas import (
    Direction,
    Participant,
    ParticipantRole,
    RawEntity,
    RawMessage,
    RawThreadSnapshot,
)
from parley_store import DiscussionType

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
BUYER = Participant(role=ParticipantRole.CUSTOMER, name="Ana", email="ana@example.com")
SHOP = Participant(role=ParticipantRole.MERCHANT, name="Shop")
OPERATOR = Participant(role=ParticipantRole.OPERATOR, name="Carrefour")


def snapshot(entities: list[RawEntity], messages: list[RawMessage]) -> RawThreadSnapshot:
    return RawThreadSnapshot(
        connection_id="c",
        store_id="s",
        marketplace="carrefour",
        family="mirakl",
        thread_id="t",
        entities=entities,
        messages=messages,
        fetched_at=T0 + timedelta(hours=1),
    )


def msg(mid: str, sender: Participant, minutes: int, body: str = "hello") -> RawMessage:
    return RawMessage(
        marketplace_message_id=mid,
        sender=sender,
        body=body,
        sent_at=T0 + timedelta(minutes=minutes),
    )


def test_type_is_order_when_an_order_is_among_the_entities() -> None:
    s = snapshot([RawEntity(type="product", id="P1"), RawEntity(type="order", id="O1")], [])
    assert discussion_type(s) is DiscussionType.ORDER
    assert order_id(s) == "O1"


def test_type_is_product_for_a_pre_sale_question() -> None:
    s = snapshot([RawEntity(type="offer", id="OF1")], [])
    assert discussion_type(s) is DiscussionType.PRODUCT
    assert order_id(s) is None


def test_type_is_other_without_entities() -> None:
    assert discussion_type(snapshot([], [])) is DiscussionType.OTHER


def test_initiator_is_the_sender_of_the_earliest_message_whatever_the_order() -> None:
    s = snapshot([], [msg("2", SHOP, 5), msg("1", OPERATOR, 1)])
    assert initiator(s) is ParticipantRole.OPERATOR
    assert initiator(snapshot([], [])) is None


def test_participants_are_listed_once() -> None:
    s = snapshot([], [msg("1", BUYER, 1), msg("2", BUYER, 2), msg("3", SHOP, 3)])
    assert participants(s) == [BUYER, SHOP]


def test_direction_follows_the_sender_role() -> None:
    assert direction(msg("1", SHOP, 0)) is Direction.OUTBOUND
    assert direction(msg("1", BUYER, 0)) is Direction.INBOUND
    assert direction(msg("1", OPERATOR, 0)) is Direction.INBOUND


def test_preview_flattens_whitespace_and_is_bounded() -> None:
    assert preview("a\n\n  b") == "a b"
    long = preview("x" * 500)
    assert len(long) == PREVIEW_LENGTH
    assert long.endswith("…")


def test_synced_fields_never_touch_workflow_fields() -> None:
    fields = synced_fields(snapshot([], [msg("1", BUYER, 1)])).fields
    assert not {"status", "read", "merchant_ticket_id", "tags"} & set(fields)


def test_created_at_falls_back_to_the_first_message() -> None:
    s = snapshot([], [msg("1", BUYER, 7), msg("2", BUYER, 3)])
    assert synced_fields(s).created_at == T0 + timedelta(minutes=3)


def test_the_customer_is_the_first_buyer_the_marketplace_identifies() -> None:
    known = Participant(role=ParticipantRole.CUSTOMER, name="Ana", marketplace_id="c-1")
    s = snapshot([], [msg("1", BUYER, 1), msg("2", known, 2)])
    assert customer(s) == known
    assert customer(snapshot([], [msg("1", BUYER, 1), msg("2", SHOP, 2)])) is None
    operator = Participant(role=ParticipantRole.OPERATOR, marketplace_id="op-1")
    assert customer(snapshot([], [msg("1", operator, 1)])) is None

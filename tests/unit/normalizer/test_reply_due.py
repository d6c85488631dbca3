"""Whether a discussion waits for the shop's reply and by when (domain/reply_due.py),
through the normalizer's batch path on fakes of its own ports.

The marketplace's own signal wins where it gives one (Mirakl M11 thread
``metadata.shop_reply_needed_since``); otherwise the latest buyer or operator message
no reply followed. The window is the family's (parley_connectors.reply_rules).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fakes.normalizer import FakeStore, RecordingSink

from parley_normalizer.handlers import Normalizer
from parley_schemas import (
    DISCUSSION_CREATED,
    MESSAGE_RECEIVED,
    MESSAGE_SENT,
    DeliveryResult,
    DeliveryState,
    Participant,
    ParticipantRole,
    RawMessage,
    RawThreadSnapshot,
)

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
BUYER = Participant(role=ParticipantRole.CUSTOMER, name="Ana", marketplace_id="c-1")
OPERATOR = Participant(role=ParticipantRole.OPERATOR, name="Carrefour")
SHOP = Participant(role=ParticipantRole.MERCHANT, name="Shop")


def msg(mid: str, minutes: int, sender: Participant = BUYER) -> RawMessage:
    return RawMessage(
        marketplace_message_id=mid,
        sender=sender,
        body=f"body of {mid}",
        sent_at=T0 + timedelta(minutes=minutes),
    )


def snap(
    *messages: RawMessage,
    family: str = "mirakl",
    marketplace: str = "carrefour",
    fetched: int = 60,
    **signal: Any,
) -> RawThreadSnapshot:
    return RawThreadSnapshot(
        connection_id="c",
        store_id="s1",
        marketplace=marketplace,
        family=family,
        thread_id="t1",
        messages=list(messages),
        fetched_at=T0 + timedelta(minutes=fetched),
        **signal,
    )


def sent(state: DeliveryState, minutes: int, mid: str | None = None) -> DeliveryResult:
    return DeliveryResult(
        command_id="cmd-00000001",
        discussion_id=snap().key.discussion_id,
        store_id="s1",
        marketplace="carrefour",
        thread_id="t1",
        state=state,
        body="On it",
        recipients=[ParticipantRole.CUSTOMER],
        marketplace_message_id=mid,
        attempts=1,
        occurred_at=T0 + timedelta(minutes=minutes),
    )


async def stored_after(*batches: list[Any]) -> dict[str, Any]:
    store = FakeStore()
    normalizer = Normalizer(store, RecordingSink(), clock=lambda: T0 + timedelta(days=1))
    for batch in batches:
        assert (await normalizer.process(batch)).errors == [None] * len(batch)
    [doc] = store.discussions.values()
    return doc


def due(doc: dict[str, Any]) -> tuple[bool, datetime | None, datetime | None]:
    return doc["reply_expected"], doc["reply_expected_since"], doc["reply_due_at"]


async def test_a_buyer_message_waits_for_a_reply_from_the_first_unanswered_one() -> None:
    doc = await stored_after([snap(msg("a", 0), msg("b", 10))])
    assert due(doc) == (True, T0, T0 + timedelta(hours=48))  # Mirakl: 48 h assumed
    # The same messages arriving newest first, in two snapshots: the same deadline.
    late = await stored_after([snap(msg("b", 10))], [snap(msg("a", 0), fetched=30)])
    assert due(late) == due(doc)


async def test_amazon_relayed_mail_is_due_within_amazons_24_hours() -> None:
    doc = await stored_after([snap(msg("a", 0), family="email_relay", marketplace="amazon-fr")])
    assert due(doc) == (True, T0, T0 + timedelta(hours=24))


async def test_a_reply_sent_ends_the_wait_and_a_new_buyer_message_starts_it_again() -> None:
    queued = await stored_after([snap(msg("a", 0))], [sent(DeliveryState.QUEUED, 5)])
    assert queued["reply_expected"] is True, "queued is not answered yet"
    failed = await stored_after([snap(msg("a", 0))], [sent(DeliveryState.FAILED, 5)])
    assert failed["reply_expected"] is True, "nor is a failed delivery"

    answered = await stored_after([snap(msg("a", 0))], [sent(DeliveryState.SENT, 5)])
    assert due(answered) == (False, None, None)

    again = await stored_after(
        [snap(msg("a", 0))], [sent(DeliveryState.SENT, 5)], [snap(msg("a", 0), msg("c", 20))]
    )
    since = T0 + timedelta(minutes=20)
    assert due(again) == (True, since, since + timedelta(hours=48))
    # A buyer message written before the reply but synced after it stays answered.
    crossed = await stored_after(
        [snap(msg("a", 0))], [sent(DeliveryState.SENT, 5)], [snap(msg("a", 0), msg("b", 3))]
    )
    assert due(crossed) == (False, None, None)


async def test_a_reply_written_on_the_marketplace_answers_too() -> None:
    doc = await stored_after([snap(msg("a", 0), msg("b", 10, SHOP))])
    assert doc["reply_expected"] is False


async def test_an_operator_message_asks_for_a_reply_like_a_buyers() -> None:
    doc = await stored_after([snap(msg("a", 0), msg("b", 10, SHOP), msg("c", 15, OPERATOR))])
    assert doc["reply_expected_since"] == T0 + timedelta(minutes=15)


async def test_the_marketplaces_own_signal_wins_over_the_messages() -> None:
    # Mirakl M11: metadata.shop_reply_needed_since absent = no reply needed, even though
    # the buyer wrote last (the operator closed the matter, say).
    not_needed = await stored_after([snap(msg("a", 0), reply_signal=True)])
    assert due(not_needed) == (False, None, None)

    since = T0 + timedelta(minutes=3)
    needed = await stored_after(
        [snap(msg("a", 0), msg("b", 10, SHOP), reply_signal=True, reply_expected_since=since)]
    )
    # The shop's message at 10 min came after the marketplace's "needed since": answered.
    assert needed["reply_expected"] is False
    later = T0 + timedelta(minutes=12)
    needed_again = await stored_after(
        [snap(msg("a", 0), msg("b", 10, SHOP), reply_signal=True, reply_expected_since=later)]
    )
    assert due(needed_again) == (True, later, later + timedelta(hours=48))


async def test_replaying_the_same_records_gives_the_same_deadline() -> None:
    batch: list[Any] = [snap(msg("a", 0), family="allegro", marketplace="allegro-pl")]
    once = await stored_after(batch)
    twice = await stored_after(batch, batch)
    assert due(once) == due(twice) == (True, T0, T0 + timedelta(hours=24))


async def test_message_events_carry_the_discussions_reply_state_after_them() -> None:
    store, sink = FakeStore(), RecordingSink()
    normalizer = Normalizer(store, sink, clock=lambda: T0 + timedelta(days=1))
    await normalizer.process([snap(msg("a", 0))])
    await normalizer.process([sent(DeliveryState.SENT, 5)])
    by_type = {e.type: e.data for e in sink.events}
    received = by_type[MESSAGE_RECEIVED.name]
    assert (received.reply_expected, received.reply_due_at) == (True, T0 + timedelta(hours=48))
    assert by_type[DISCUSSION_CREATED.name].reply_expected is True
    answered = by_type[MESSAGE_SENT.name]
    assert (answered.reply_expected, answered.reply_due_at) == (False, None)

"""Batched normalizing (parley_normalizer.handlers, .batches, through the platform's
batch loop parley_platform.batches) on fakes of its own ports.

Proves what the batch path must keep from the per-record one: a replay or an
out-of-order snapshot changes nothing it should not, a crash at any step loses and
duplicates nothing once the batch runs again, one bad record does not stop the
others, and a batch costs the same round trips whatever its size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes.normalizer import FakeStore, RecordingSink

from parley_normalizer.batches import batch_handler
from parley_normalizer.handlers import Normalizer, UnknownDiscussion
from parley_platform.batches import process_batch
from parley_platform.streams import RetryPolicy
from parley_schemas import (
    DELIVERY_RESULT,
    DELIVERY_RESULTS,
    DISCUSSION_CREATED,
    MARKETPLACE_RAW,
    MESSAGE_RECEIVED,
    MESSAGE_SENT,
    THREAD_SNAPSHOT,
    DeliveryResult,
    DeliveryState,
    Envelope,
    Participant,
    ParticipantRole,
    RawMessage,
    RawThreadSnapshot,
)
from parley_store import inbound_message_id

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
NOW = datetime(2026, 6, 2, 8, 0, tzinfo=UTC)
BUYER = Participant(role=ParticipantRole.CUSTOMER, name="Ana", marketplace_id="c-1")
SHOP = Participant(role=ParticipantRole.MERCHANT, name="Shop")


def msg(mid: str, minutes: int, sender: Participant = BUYER, body: str | None = None) -> RawMessage:
    return RawMessage(
        marketplace_message_id=mid,
        sender=sender,
        body=body or f"body of {mid}",
        sent_at=T0 + timedelta(minutes=minutes),
    )


def snap(
    thread: str, *messages: RawMessage, fetched: int = 60, subject: str = "Order 1"
) -> RawThreadSnapshot:
    return RawThreadSnapshot(
        connection_id="c",
        store_id="s1",
        marketplace="carrefour",
        family="mirakl",
        thread_id=thread,
        subject=subject,
        messages=list(messages),
        fetched_at=T0 + timedelta(minutes=fetched),
    )


def result(
    discussion_id: str, state: DeliveryState, mid: str | None = None, attempts: int = 1
) -> DeliveryResult:
    return DeliveryResult(
        command_id="cmd-00000001",
        discussion_id=discussion_id,
        store_id="s1",
        marketplace="carrefour",
        thread_id="t1",
        state=state,
        body="On it",
        recipients=[ParticipantRole.CUSTOMER],
        marketplace_message_id=mid,
        attempts=attempts,
        occurred_at=T0 + timedelta(minutes=30),
    )


def normalizer(store: FakeStore, sink: RecordingSink) -> Normalizer:
    return Normalizer(store, sink, clock=lambda: NOW)


def did(thread: str) -> str:
    return snap(thread).key.discussion_id


def discussion_messages(store: FakeStore, discussion_id: str) -> list[dict[str, Any]]:
    return [m for m in store.messages.values() if m["discussion_id"] == discussion_id]


async def test_a_batch_stores_each_discussion_once_and_a_replay_changes_and_emits_nothing() -> None:
    store, sink = FakeStore(), RecordingSink()
    n = normalizer(store, sink)
    batch = [snap(f"t{i}", msg(f"t{i}-a", 0), msg(f"t{i}-b", 5)) for i in range(3)]
    batch.append(snap("t0", msg("t0-a", 0), msg("t0-b", 5), msg("t0-c", 9)))  # same thread again

    outcome = await n.process(batch)

    assert outcome.errors == [None] * 4
    assert (outcome.discussions, outcome.new_messages) == (3, 7)
    t0 = store.discussions[did("t0")]
    assert t0["message_count"] == 3 == len(discussion_messages(store, did("t0")))
    assert t0["last_message_preview"] == "body of t0-c"
    assert t0["created_event_published"] is True
    assert t0["status"] == "new" and t0["read"] is False
    assert [e.type for e in sink.events].count(DISCUSSION_CREATED.name) == 3
    assert [e.type for e in sink.events].count(MESSAGE_RECEIVED.name) == 7
    assert store.pending == {}

    emitted = len(sink.events)
    stored = {k: dict(v) for k, v in store.discussions.items()}
    store.written.clear()
    assert (await n.process(batch)).errors == [None] * 4
    assert len(sink.events) == emitted, "a replay publishes nothing"
    assert store.written == [], "and writes no discussion"
    assert store.discussions == stored
    assert len(store.messages) == 7


async def test_round_trips_per_batch_do_not_grow_with_its_size() -> None:
    for size in (1, 50):
        store = FakeStore()
        await normalizer(store, RecordingSink()).process(
            [snap(f"t{i}", msg(f"m{i}", i)) for i in range(size)]
        )
        assert sorted(store.round_trips) == sorted(
            ["load_discussions", "load_pending", "load_messages", "write", "clear_pending"]
        ), size


async def test_an_older_snapshot_arriving_late_adds_its_messages_but_keeps_newer_fields() -> None:
    store, sink = FakeStore(), RecordingSink()
    n = normalizer(store, sink)
    newer = snap("t1", msg("a", 0), msg("c", 20), fetched=90, subject="Order 1 (updated)")
    older = snap("t1", msg("a", 0), msg("b", 10), fetched=30, subject="Order 1")

    await n.process([newer])
    await n.process([older])

    doc = store.discussions[did("t1")]
    assert doc["subject"] == "Order 1 (updated)"
    assert doc["message_count"] == 3
    assert doc["last_message_preview"] == "body of c", "the latest message, not the last applied"
    assert [e.type for e in sink.events].count(MESSAGE_RECEIVED.name) == 3


async def test_a_new_buyer_message_makes_a_read_discussion_unread_but_a_replay_does_not() -> None:
    store, sink = FakeStore(), RecordingSink()
    n = normalizer(store, sink)
    await n.process([snap("t1", msg("a", 0))])
    store.discussions[did("t1")].update(read=True, status="pending")  # the gateway's fields

    await n.process([snap("t1", msg("a", 0))])
    assert store.discussions[did("t1")]["read"] is True

    await n.process([snap("t1", msg("a", 0), msg("b", 5))])
    doc = store.discussions[did("t1")]
    assert (doc["read"], doc["status"]) == (False, "pending")


async def test_a_bad_record_fails_alone_and_the_rest_of_its_batch_is_stored() -> None:
    store, sink = FakeStore(), RecordingSink()
    outcome = await normalizer(store, sink).process(
        [
            snap("t1", msg("a", 0)),
            result("no-such-discussion", DeliveryState.SENT),
            snap("t2", msg("b", 0)),
        ]
    )
    first, bad, last = outcome.errors
    assert first is None and last is None
    assert isinstance(bad, UnknownDiscussion)
    assert set(store.discussions) == {did("t1"), did("t2")}


async def test_a_crash_between_messages_and_discussion_loses_and_duplicates_nothing() -> None:
    store, sink = FakeStore(), RecordingSink()
    n = normalizer(store, sink)
    batch = [snap("t1", msg("a", 0), msg("b", 5))]
    store.crash_before_discussions = ConnectionError("mongo gone")
    with pytest.raises(ConnectionError):
        await n.process(batch)
    assert len(store.messages) == 2 and store.discussions == {}
    assert sink.events == []

    await n.process(batch)  # the batch again: its offsets were never committed

    doc = store.discussions[did("t1")]
    assert doc["message_count"] == 2
    types = [e.type for e in sink.events]
    assert types == [DISCUSSION_CREATED.name, MESSAGE_RECEIVED.name, MESSAGE_RECEIVED.name]
    # The first pass's mark (its discussion never stored) was not read back, its events
    # came again from the records: each once, and the mark is gone with them.
    assert len(set(sink.ids())) == 3
    assert store.pending == {} == store.pending_events


async def test_a_publish_that_fails_after_the_commit_is_completed_by_the_replay_once() -> None:
    store, sink = FakeStore(), RecordingSink()
    n = normalizer(store, sink)
    batch = [snap("t1", msg("a", 0), msg("b", 5))]
    sink.fail_next = 1  # stored, then the broker is away for the first event
    with pytest.raises(ConnectionError):
        await n.process(batch)
    doc = store.discussions[did("t1")]
    assert doc["message_count"] == 2, "stored before the publish"
    assert store.pending_events[did("t1")] == [
        "created",
        *(f"{m}:1" for m in doc["message_ids"]),
    ], "left pending in its mark"

    await n.process(batch)  # the batch again: its offsets were never committed

    assert [e.type for e in sink.events] == [
        DISCUSSION_CREATED.name,
        MESSAGE_RECEIVED.name,
        MESSAGE_RECEIVED.name,
    ]
    assert len(set(sink.ids())) == 3, "each event once"
    assert store.pending == {} == store.pending_events


async def test_the_sweeper_publishes_what_a_crash_left_pending() -> None:
    store, sink = FakeStore(), RecordingSink()
    n = normalizer(store, sink)
    sink.fail_next = 1
    with pytest.raises(ConnectionError):
        await n.process([snap("t1", msg("a", 0))])

    swept = await n.sweep_pending(NOW + timedelta(seconds=1))

    assert swept == 1
    assert [e.type for e in sink.events] == [DISCUSSION_CREATED.name, MESSAGE_RECEIVED.name]
    assert store.pending == {} == store.pending_events


async def test_a_reply_synced_back_first_is_folded_into_its_delivery_and_never_stored_twice() -> (
    None
):
    store, sink = FakeStore(), RecordingSink()
    n = normalizer(store, sink)
    d = did("t1")
    await n.process([snap("t1", msg("a", 0), msg("mk-9", 31, sender=SHOP, body="On it"))])
    assert store.discussions[d]["message_count"] == 2

    await n.process([result(d, DeliveryState.SENT, mid="mk-9")])
    await n.process([snap("t1", msg("a", 0), msg("mk-9", 31, sender=SHOP, body="On it"))])

    messages = discussion_messages(store, d)
    assert len(messages) == 2 == store.discussions[d]["message_count"]
    (reply,) = [m for m in messages if m["direction"] == "outbound"]
    assert reply["command_id"] == "cmd-00000001" and reply["delivery"]["state"] == "sent"
    assert inbound_message_id(d, "mk-9") not in store.messages
    assert store.discussions[d]["last_message_id"] == reply["_id"]


async def test_delivery_states_only_move_forward_and_each_change_is_announced_once() -> None:
    store, sink = FakeStore(), RecordingSink()
    n = normalizer(store, sink)
    d = did("t1")
    await n.process([snap("t1", msg("a", 0))])
    # Queued then sent in one batch, a stale queued one after, and a replay of sent.
    await n.process([result(d, DeliveryState.QUEUED), result(d, DeliveryState.SENT, mid="mk-1")])
    await n.process([result(d, DeliveryState.QUEUED)])
    await n.process([result(d, DeliveryState.SENT, mid="mk-1")])

    (reply,) = [m for m in discussion_messages(store, d) if m["direction"] == "outbound"]
    assert reply["delivery"]["state"] == "sent"
    sent = [e for e in sink.events if e.type == MESSAGE_SENT.name]
    # One batch wrote queued then sent: only the version stored last is announced.
    assert [e.data.delivery_state for e in sent] == [DeliveryState.SENT]
    assert store.discussions[d]["message_count"] == 2


# ----------------------------------------------------------------- stream loop


@dataclass
class Message:
    topic: str
    offset: int
    partition: int = 0
    headers: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass
class Event:
    value: bytes
    message: Message
    key: bytes = b"k"


class DeadLetters:
    def __init__(self) -> None:
        self.reasons: list[tuple[int, str]] = []

    async def dead_letter(self, stage: str, reason: str, **where: Any) -> None:
        self.reasons.append((int(where["offset"]), reason))


RAW = "test.marketplace.raw.v1"
RESULTS = "test.delivery.results.v1"
TOPICS = {RAW: MARKETPLACE_RAW, RESULTS: DELIVERY_RESULTS}
FAST = RetryPolicy(max_attempts=2, base_delay=0.0001, max_delay=0.001)


async def normalize(events: list[Event], n: Normalizer, dead: DeadLetters) -> None:
    """What the normalizer's agent does with one batch of events."""
    await process_batch(events, TOPICS, batch_handler(n), n.handle, dead, stage="t", policy=FAST)


def raw_event(offset: int, snapshot: RawThreadSnapshot) -> Event:
    envelope = Envelope[RawThreadSnapshot](
        source="/test", type=THREAD_SNAPSHOT.name, subject=str(snapshot.key), data=snapshot
    )
    return Event(envelope.to_json_bytes(), Message(RAW, offset))


def result_event(offset: int, delivery: DeliveryResult) -> Event:
    envelope = Envelope[DeliveryResult](
        source="/test", type=DELIVERY_RESULT.name, subject="s", data=delivery
    )
    return Event(envelope.to_json_bytes(), Message(RESULTS, offset))


async def test_the_stream_dead_letters_the_bad_records_of_a_batch_and_stores_the_rest() -> None:
    store, sink, dead = FakeStore(), RecordingSink(), DeadLetters()
    events = [
        raw_event(0, snap("t1", msg("a", 0))),
        Event(b"not json", Message(RAW, 1)),
        result_event(2, result("no-such-discussion", DeliveryState.SENT)),
        raw_event(3, snap("t2", msg("b", 0))),
    ]

    await normalize(events, normalizer(store, sink), dead)

    assert [offset for offset, _ in dead.reasons] == [1, 2]
    assert "unprocessable" in dead.reasons[1][1]
    assert set(store.discussions) == {did("t1"), did("t2")}


async def test_the_stream_retries_a_batch_while_a_dependency_is_away() -> None:
    store, sink, dead = FakeStore(), RecordingSink(), DeadLetters()
    store.crash_before_discussions = ConnectionError("mongo gone")

    await normalize([raw_event(0, snap("t1", msg("a", 0)))], normalizer(store, sink), dead)

    assert dead.reasons == []
    assert store.discussions[did("t1")]["message_count"] == 1
    assert [e.type for e in sink.events] == [DISCUSSION_CREATED.name, MESSAGE_RECEIVED.name]


async def test_a_batch_that_cannot_be_stored_falls_back_to_single_records() -> None:
    store, sink, dead = FakeStore(), RecordingSink(), DeadLetters()
    store.poisoned = {did("t2")}

    await normalize(
        [raw_event(i, snap(f"t{i}", msg(f"m{i}", i))) for i in range(4)],
        normalizer(store, sink),
        dead,
    )

    assert [offset for offset, _ in dead.reasons] == [2]
    assert set(store.discussions) == {did("t0"), did("t1"), did("t3")}


async def test_delivery_results_are_stored_in_bulk_with_the_snapshots_of_their_batch() -> None:
    """The responder's results reach the normalizer's batch loop like snapshots: one
    batch of results and snapshots is one set of bulk writes, not one per record."""
    store, sink, dead = FakeStore(), RecordingSink(), DeadLetters()
    n = normalizer(store, sink)
    await normalize([raw_event(0, snap("t1", msg("a", 0)))], n, dead)
    d = did("t1")
    store.round_trips.clear()

    await normalize(
        [
            result_event(1, result(d, DeliveryState.QUEUED)),
            raw_event(2, snap("t2", msg("b", 0))),
            result_event(3, result(d, DeliveryState.SENT, mid="mk-1")),
        ],
        n,
        dead,
    )

    assert dead.reasons == []
    assert store.round_trips.count("write") == 1, store.round_trips
    (reply,) = [m for m in discussion_messages(store, d) if m["direction"] == "outbound"]
    assert reply["delivery"]["state"] == "sent"
    assert set(store.discussions) == {d, did("t2")}

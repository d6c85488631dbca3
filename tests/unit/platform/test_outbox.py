"""The outbox's publisher and relay over an in-memory store and transport."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from parley_platform.outbox import OutboxPublisher, OutboxRecord, OutboxRelay, stable_id
from parley_schemas import (
    CONVERSATION_COMMANDS,
    RESYNC_REQUESTED,
    Envelope,
    ResyncRequest,
    Topic,
    utcnow,
)


class MemoryOutbox:
    def __init__(self) -> None:
        self.rows: dict[str, OutboxRecord] = {}

    async def record(self, topic: Topic, envelopes: list[Envelope[Any]]) -> None:
        for e in envelopes:
            self.rows.setdefault(e.id, OutboxRecord(e.id, topic, e, utcnow()))

    async def pending(self, limit: int, older_than: Any) -> list[OutboxRecord]:
        due = sorted(
            (r for r in self.rows.values() if r.created_at < older_than),
            key=lambda r: (r.created_at, r.id),
        )
        return due[:limit]

    async def remove(self, record_id: str) -> None:
        self.rows.pop(record_id, None)

    async def backlog(self) -> tuple[int, Any]:
        return len(self.rows), min((r.created_at for r in self.rows.values()), default=None)


class Wire:
    """The broker: what it took, in order. ``down``: refuses; ``lose_ack``: takes the
    record but the sender hears a failure (the ack was lost)."""

    def __init__(self) -> None:
        self.taken: list[Envelope[Any]] = []
        self.down = False
        self.lose_ack = False

    async def publish(self, topic: Topic, envelope: Envelope[Any]) -> None:
        if self.down:
            raise ConnectionError("broker away")
        self.taken.append(envelope)
        if self.lose_ack:
            raise TimeoutError("ack lost")


def resync(n: int) -> Envelope[ResyncRequest]:
    return Envelope[ResyncRequest](
        source="/test",
        type=RESYNC_REQUESTED.name,
        subject="s1:m1:*",
        data=ResyncRequest(
            request_id=f"request-{n:04d}",
            store_id="s1",
            marketplace="m1",
            requested_by="test",
            requested_at=utcnow(),
        ),
    )


def seen_once_by_id(wire: Wire) -> list[str]:
    """What a consumer de-duplicating by CloudEvents id processes, in order."""
    seen: dict[str, None] = {}
    for e in wire.taken:
        seen.setdefault(e.id, None)
    return list(seen)


async def test_a_record_published_at_once_leaves_the_outbox() -> None:
    outbox, wire = MemoryOutbox(), Wire()
    envelope = resync(1)
    await OutboxPublisher(outbox, wire).publish(CONVERSATION_COMMANDS, envelope)
    assert [e.id for e in wire.taken] == [envelope.id]
    assert outbox.rows == {}


async def test_a_broker_outage_leaves_the_record_for_the_relay_and_the_caller_is_not_failed() -> (
    None
):
    outbox, wire = MemoryOutbox(), Wire()
    wire.down = True
    envelope = resync(1)
    await OutboxPublisher(outbox, wire).publish(CONVERSATION_COMMANDS, envelope)
    assert list(outbox.rows) == [envelope.id] and wire.taken == []

    relay = OutboxRelay(outbox, wire, min_age=0)
    with pytest.raises(ConnectionError):  # still away: kept
        await relay.run_once()
    assert list(outbox.rows) == [envelope.id]
    wire.down = False
    assert await relay.run_once() == 1
    assert [e.id for e in wire.taken] == [envelope.id] and outbox.rows == {}


async def test_a_lost_ack_puts_a_duplicate_on_the_wire_that_de_duplication_by_id_drops() -> None:
    outbox, wire = MemoryOutbox(), Wire()
    wire.lose_ack = True
    envelope = resync(1)
    await OutboxPublisher(outbox, wire).publish(CONVERSATION_COMMANDS, envelope)
    wire.lose_ack = False
    await OutboxRelay(outbox, wire, min_age=0).run_once()
    assert [e.id for e in wire.taken] == [envelope.id, envelope.id]  # twice on the wire
    assert seen_once_by_id(wire) == [envelope.id]  # once for the consumer
    assert outbox.rows == {}


async def test_the_relay_leaves_young_records_to_the_fast_path() -> None:
    outbox, wire = MemoryOutbox(), Wire()
    await outbox.record(CONVERSATION_COMMANDS, [resync(1)])
    assert await OutboxRelay(outbox, wire, min_age=60).run_once() == 0
    assert len(outbox.rows) == 1


async def test_the_relay_publishes_in_bounded_batches_oldest_first() -> None:
    outbox, wire = MemoryOutbox(), Wire()
    envelopes = [resync(n) for n in range(7)]
    for n, e in enumerate(envelopes):
        outbox.rows[e.id] = OutboxRecord(
            e.id, CONVERSATION_COMMANDS, e, utcnow() - timedelta(seconds=100 - n)
        )
    relay = OutboxRelay(outbox, wire, batch=3, min_age=0)
    assert await relay.run_once() == 3
    assert [e.id for e in wire.taken] == [e.id for e in envelopes[:3]]
    assert await relay.run_once() == 3
    assert await relay.run_once() == 1
    assert [e.id for e in wire.taken] == [e.id for e in envelopes]


async def test_a_record_written_again_keeps_its_first_version() -> None:
    outbox = MemoryOutbox()
    first = resync(1)
    again = first.model_copy(update={"source": "/elsewhere"})
    await outbox.record(CONVERSATION_COMMANDS, [first])
    await outbox.record(CONVERSATION_COMMANDS, [again])
    assert outbox.rows[first.id].envelope.source == "/test"


def test_stable_ids_are_the_same_for_the_same_parts_only() -> None:
    assert stable_id("cmd-1", 1, "sent") == stable_id("cmd-1", 1, "sent")
    assert stable_id("cmd-1", 1, "sent") != stable_id("cmd-1", 2, "sent")
    assert stable_id("a:b", "c") != stable_id("a", "b:c")
    assert len(stable_id("x")) == 32


def test_relay_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="batch"):
        OutboxRelay(MemoryOutbox(), Wire(), batch=0)


class SwallowingWire(Wire):
    """A transport whose client turns a cancellation into its own error, as a driver
    may: the relay's task is cancelled, yet its pass returns an ordinary failure."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()

    async def publish(self, topic: Topic, envelope: Envelope[Any]) -> None:
        self.entered.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise ConnectionError("operation cancelled") from None


async def test_a_relay_whose_pass_swallows_the_cancellation_still_stops() -> None:
    outbox, wire = MemoryOutbox(), SwallowingWire()
    await outbox.record(CONVERSATION_COMMANDS, [resync(1)])
    relay = OutboxRelay(outbox, wire, min_age=0, interval=0.01)
    relay.start()
    await asyncio.wait_for(wire.entered.wait(), 5)
    # Before the fix the loop went on after the swallowed cancellation: stop() hung.
    await asyncio.wait_for(relay.stop(), 2)
    assert len(outbox.rows) == 1  # not published: it waits for the next start


async def test_a_stopped_relay_can_start_again_and_relays_what_waits() -> None:
    outbox, wire = MemoryOutbox(), Wire()
    relay = OutboxRelay(outbox, wire, min_age=0, interval=0.01)
    relay.start()
    await relay.stop()
    waiting = resync(2)
    await outbox.record(CONVERSATION_COMMANDS, [waiting])
    relay.start()
    for _ in range(200):
        if not outbox.rows:
            break
        await asyncio.sleep(0.01)
    await relay.stop()
    assert [e.id for e in wire.taken] == [waiting.id]

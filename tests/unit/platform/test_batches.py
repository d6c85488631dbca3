"""Records taken in batches (parley_platform.batches), on fakes of the platform's ports.

The batch source is a real Faust stream in Faust's in-memory test context (no
broker) where bounds and acknowledgements are the point, and otherwise an async
generator of records shaped like Faust events that notes when the next batch is
asked for (what acknowledges a batch). The dead-letter sink is a fake of the
platform's own port. Proves: a batch holds at most ``max_records`` and a partial
batch is not held back; a batch is acknowledged only after its handler returned;
a dependency that is away is waited for; one bad record is dead-lettered while the
rest of its batch is stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faust
import pytest
from pymongo.errors import AutoReconnect

from parley_platform.batches import (
    BatchErrors,
    consume_batches,
    faust_batches,
    process_batch,
    run_to_completion,
)
from parley_platform.streams import Received, RetryPolicy, Unprocessable
from parley_schemas import (
    CONVERSATION_COMMANDS,
    REPLY_REQUESTED,
    Envelope,
    ParticipantRole,
    ReplyCommand,
)

TOPIC = "test.conversation.commands.v1"
TOPICS = {TOPIC: CONVERSATION_COMMANDS}
FAST = RetryPolicy(max_attempts=2, base_delay=0.0001, max_delay=0.001)


def command_bytes(n: int) -> bytes:
    command = ReplyCommand(
        command_id=f"cmd-{n:08d}",
        discussion_id="d1",
        store_id="s1",
        marketplace="carrefour",
        thread_id="t1",
        body=f"reply {n}",
        recipients=[ParticipantRole.CUSTOMER],
        requested_by="test",
        requested_at=datetime(2026, 5, 1, tzinfo=UTC),
    )
    return Envelope[ReplyCommand](
        source="/test", type=REPLY_REQUESTED.name, subject="s", data=command
    ).to_json_bytes()


def number(envelope: Envelope[Any]) -> int:
    return int(envelope.data.command_id.removeprefix("cmd-"))


@dataclass
class Message:
    offset: int
    topic: str = TOPIC
    partition: int = 0
    headers: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass
class Event:
    value: bytes
    message: Message
    key: bytes = b"k"


def event(n: int) -> Event:
    return Event(command_bytes(n), Message(n))


class DeadLetters:
    def __init__(self) -> None:
        self.offsets: list[int] = []
        self.reasons: list[str] = []

    async def dead_letter(self, stage: str, reason: str, **where: Any) -> None:
        self.offsets.append(int(where["offset"]))
        self.reasons.append(reason)


class Store:
    """A batch handler and a record handler over one in-memory set of stored records.

    ``batch_failures`` are raised by the next batch calls, one each; a record whose
    number is in ``bad`` fails (with ``bad_error``) in its batch and on its own."""

    def __init__(self) -> None:
        self.stored: list[int] = []
        self.batches: list[list[int]] = []
        self.alone: list[int] = []
        self.batch_failures: list[BaseException] = []
        self.bad: set[int] = set()
        self.bad_error: Exception = Unprocessable("no such discussion")

    async def handle_batch(self, records: Sequence[Received]) -> BatchErrors:
        self.batches.append([number(r.envelope) for r in records])
        if self.batch_failures:
            raise self.batch_failures.pop(0)
        errors: list[BaseException | None] = []
        for record in records:
            n = number(record.envelope)
            if n in self.bad:
                errors.append(self.bad_error)
            else:
                self.stored.append(n)
                errors.append(None)
        return errors

    async def handle_one(self, envelope: Envelope[Any]) -> None:
        n = number(envelope)
        self.alone.append(n)
        if n in self.bad:
            raise self.bad_error
        self.stored.append(n)


async def run(events: Sequence[Event], store: Store, dead: DeadLetters) -> None:
    await process_batch(
        events, TOPICS, store.handle_batch, store.handle_one, dead, stage="test", policy=FAST
    )


# ------------------------------------------------------------ bounds and offsets


async def test_a_faust_stream_comes_in_bounded_batches_acknowledged_after_the_handler(
    tmp_path: Path,
) -> None:
    """A real Faust stream (in-memory test context): no batch exceeds ``max_records``,
    the last, partial batch is handed over without waiting for more records (the wait
    bound), and no record of a batch is acknowledged while its handler runs."""
    app = faust.App("test-batches", store="memory://", datadir=str(tmp_path))
    store, dead = Store(), DeadLetters()
    sizes: list[int] = []
    messages: list[Any] = []
    acked_while_handling: list[bool] = []
    done = asyncio.Event()

    async def handle_batch(records: Sequence[Received]) -> BatchErrors:
        sizes.append(len(records))
        await asyncio.sleep(0)  # give Faust every chance to acknowledge early
        acked_while_handling.extend(m.acked for m in messages[-len(records) :])
        errors = await store.handle_batch(records)
        if len(store.stored) == 7:
            done.set()
        return errors

    async def agent(stream: faust.StreamT[Any]) -> None:
        async def events() -> AsyncIterator[Sequence[Any]]:
            async for batch in faust_batches(stream, 3, 0.05):
                messages.extend(e.message for e in batch)
                yield batch

        await consume_batches(
            events(), {}, handle_batch, store.handle_one, dead, stage="test", policy=FAST
        )

    test_agent = app.agent()(agent)
    async with test_agent.test_context() as running:
        for n in range(7):
            await running.put(command_bytes(n), key=b"k")
        await asyncio.wait_for(done.wait(), timeout=30)
        for _ in range(1000):  # the last batch is acknowledged once its loop moves on
            if all(m.acked for m in messages):
                break
            await asyncio.sleep(0.01)

    assert sorted(store.stored) == list(range(7)) and dead.offsets == []
    assert sum(sizes) == 7 and max(sizes) <= 3, sizes
    assert len(messages) == 7
    assert acked_while_handling == [False] * 7, "acknowledged before its batch was stored"
    assert all(m.acked for m in messages)


async def test_a_batch_is_acknowledged_only_once_its_handler_returned() -> None:
    """The source acknowledges a batch when the loop asks for the next one: that must
    happen after the handler stored it, also when a dependency was away meanwhile."""
    store, dead = Store(), DeadLetters()
    store.batch_failures = [AutoReconnect("mongo away")]
    log: list[str] = []

    async def batches() -> AsyncIterator[Sequence[Event]]:
        for first in (0, 3):
            yield [event(first + i) for i in range(3)]
            log.append(f"ack {first}..{first + 2}")

    async def handle_batch(records: Sequence[Received]) -> BatchErrors:
        log.append(f"handler {number(records[0].envelope)}")
        errors = await store.handle_batch(records)
        log.append(f"stored {number(records[0].envelope)}")
        return errors

    await consume_batches(
        batches(), TOPICS, handle_batch, store.handle_one, dead, stage="test", policy=FAST
    )

    assert log == [
        "handler 0",  # failed: MongoDB away
        "handler 0",
        "stored 0",
        "ack 0..2",
        "handler 3",
        "stored 3",
        "ack 3..5",
    ]
    assert store.stored == list(range(6)) and dead.offsets == []


async def test_a_stopping_worker_finishes_the_batch_in_flight_before_it_stops() -> None:
    finished = asyncio.Event()
    started = asyncio.Event()

    async def work() -> None:
        started.set()
        await asyncio.sleep(0.01)
        finished.set()

    task = asyncio.ensure_future(run_to_completion(work(), grace=30))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert finished.is_set(), "cancelled mid-batch without letting the batch finish"


# ------------------------------------------------------------------ failures


async def test_one_bad_record_is_dead_lettered_and_the_rest_of_its_batch_is_stored() -> None:
    store, dead = Store(), DeadLetters()
    store.bad = {2}

    await run([event(n) for n in range(5)], store, dead)

    assert store.batches == [[0, 1, 2, 3, 4]], "one handler call for the batch"
    assert sorted(store.stored) == [0, 1, 3, 4]
    assert store.alone == [2], "only the failed record runs again, on its own"
    assert dead.offsets == [2] and dead.reasons[0].startswith("unprocessable")


async def test_an_undecodable_record_is_dead_lettered_and_left_out_of_the_batch() -> None:
    store, dead = Store(), DeadLetters()
    events = [event(0), Event(b"not json", Message(1)), event(2)]

    await run(events, store, dead)

    assert store.batches == [[0, 2]]
    assert store.stored == [0, 2] and dead.offsets == [1]


async def test_a_batch_that_fails_as_a_whole_falls_back_to_one_record_at_a_time() -> None:
    """A bug in the batch (not a dependency away): each record runs on its own, so the
    record that causes it is dead-lettered (after the bug budget) and the rest stored."""
    store, dead = Store(), DeadLetters()
    store.batch_failures = [KeyError("bulk write refused")]
    store.bad = {1}
    store.bad_error = KeyError("poison")

    await run([event(n) for n in range(4)], store, dead)

    assert sorted(store.stored) == [0, 2, 3]
    assert store.alone.count(1) == FAST.max_attempts, "a bug gets its retry budget"
    assert dead.offsets == [1] and "failed 2 times" in dead.reasons[0]


async def test_a_dependency_away_is_waited_for_past_any_budget_and_nothing_dead_lettered() -> None:
    class RelayDown(Exception):
        pass

    store, dead = Store(), DeadLetters()
    store.batch_failures = [AutoReconnect("mongo away")] * 5 + [RelayDown("relay")] * 5

    await process_batch(
        [event(n) for n in range(3)],
        TOPICS,
        store.handle_batch,
        store.handle_one,
        dead,
        stage="test",
        policy=RetryPolicy(
            max_attempts=2, base_delay=0.0001, max_delay=0.001, transient=(RelayDown,)
        ),
    )

    assert len(store.batches) == 11, "retried as a batch, well past the bug budget of 2"
    assert store.alone == [] and dead.offsets == []
    assert store.stored == [0, 1, 2]


async def test_a_handler_that_answers_for_the_wrong_number_of_records_trusts_none() -> None:
    store, dead = Store(), DeadLetters()

    async def confused(records: Sequence[Received]) -> BatchErrors:
        return [None]

    await process_batch(
        [event(n) for n in range(3)],
        TOPICS,
        confused,
        store.handle_one,
        dead,
        stage="test",
        policy=FAST,
    )

    assert store.alone == [0, 1, 2] and dead.offsets == []

"""Per-connection delivery (parley_responder.scheduler), with in-memory fakes.

The reply path is a fake whose deliveries for a throttled connection wait on a gate
(the marketplace's Retry-After, as the responder's park-and-wait does): nothing of
another connection may wait behind it, one connection's replies keep their order,
accepted replies are in the durable queue before ``submit`` returns and leave it once
settled, and a restart resumes what the queue held.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from opentelemetry import trace
from pymongo.errors import AutoReconnect
from support.waiting import eventually

from parley_platform.streams import Received
from parley_responder.scheduler import DeliveryScheduler
from parley_schemas import REPLY_REQUESTED, Envelope, ParticipantRole, ReplyCommand

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def reply(command_id: str, store: str = "A", thread: str = "t1", retry: int = 0) -> ReplyCommand:
    return ReplyCommand(
        command_id=f"{command_id}-command",  # ids are at least 8 characters
        discussion_id=f"d-{store}-{thread}",
        store_id=store,
        marketplace="carrefour",
        thread_id=thread,
        body="Bonjour",
        recipients=[ParticipantRole.CUSTOMER],
        requested_by="test",
        requested_at=NOW,
        retry=retry,
    )


def short(command: ReplyCommand) -> str:
    return command.command_id.removesuffix("-command")


class FakeQueue:
    def __init__(self) -> None:
        self.items: dict[str, ReplyCommand] = {}
        self.opened: list[str] = []
        self.leases: dict[str, tuple[str, datetime]] = {}
        self.bulk: list[list[str]] = []  # each add_new call's commands
        self.bulk_faults: list[Exception] = []

    async def add(self, command: ReplyCommand) -> bool:
        self.opened.append(short(command))
        self.items[short(command)] = command
        return True

    async def add_new(self, commands: Sequence[ReplyCommand]) -> None:
        if self.bulk_faults:
            raise self.bulk_faults.pop(0)
        self.bulk.append([short(c) for c in commands])
        for command in commands:
            self.items.setdefault(short(command), command)

    async def remove(self, command: ReplyCommand) -> None:
        kept = self.items.get(short(command))
        if kept is not None and kept.retry == command.retry:
            del self.items[short(command)]

    async def pending(self) -> list[ReplyCommand]:
        return list(self.items.values())

    async def claim(self, command_id: str, owner: str, now: datetime, until: datetime) -> bool:
        short_id = command_id.removesuffix("-command")
        if short_id not in self.items:
            return False
        holder = self.leases.get(short_id)
        if holder is not None and holder[0] != owner and holder[1] >= now:
            return False
        self.leases[short_id] = (owner, until)
        return True


class Marketplaces:
    """Deliveries in the order they happened; a throttled store's wait on a gate."""

    def __init__(self, throttled: frozenset[str] = frozenset()) -> None:
        self.throttled = throttled
        self.gate = asyncio.Event()  # the Retry-After has passed
        self.parked: list[str] = []
        self.sent: list[str] = []
        self.faults: list[Exception] = []

    async def on_reply(self, command: ReplyCommand) -> None:
        if self.faults:
            raise self.faults.pop(0)
        if command.store_id in self.throttled and not self.gate.is_set():
            self.parked.append(short(command))
            await self.gate.wait()
        self.sent.append(short(command))


async def no_sleep(_: float) -> None:
    await asyncio.sleep(0)


async def until(condition: Callable[[], bool]) -> None:
    async def met() -> bool:
        return condition()

    await eventually(met, timeout=5, interval=0.001)


async def test_a_throttled_connection_does_not_hold_another_stores_reply() -> None:
    market = Marketplaces(throttled=frozenset({"A"}))
    queue = FakeQueue()
    scheduler = DeliveryScheduler(market, queue, sleep=no_sleep)
    await scheduler.submit(reply("a1", "A"))
    await scheduler.submit(reply("b1", "B"))  # returns although A is parked
    await until(lambda: market.sent == ["b1"])
    assert market.parked == ["a1"], "B went out while A was still parked"
    assert set(queue.items) == {"a1"}, "B settled and left the queue, A still in it"
    market.gate.set()  # A's Retry-After passed
    await scheduler.wait_idle()
    assert market.sent == ["b1", "a1"]
    assert queue.items == {}


async def test_one_connections_replies_keep_their_order_behind_its_pause() -> None:
    market = Marketplaces(throttled=frozenset({"A"}))
    scheduler = DeliveryScheduler(market, FakeQueue(), sleep=no_sleep)
    for cid in ("a1", "a2", "a3"):
        await scheduler.submit(reply(cid, "A"))
    await until(lambda: market.parked == ["a1"])
    assert market.sent == [], "the connection is paused as a whole"
    market.gate.set()
    await scheduler.wait_idle()
    assert market.sent == ["a1", "a2", "a3"]


async def test_the_agent_handler_returns_once_the_reply_is_durably_queued() -> None:
    market = Marketplaces(throttled=frozenset({"A"}))
    queue = FakeQueue()
    scheduler = DeliveryScheduler(market, queue, sleep=no_sleep)
    envelope = Envelope[ReplyCommand](
        source="/t", type=REPLY_REQUESTED.name, subject="s", data=reply("a1", "A")
    )
    await scheduler.handle(envelope)
    assert queue.opened == ["a1"] and "a1" in queue.items
    await scheduler.close()


async def test_a_restart_resumes_what_the_queue_held() -> None:
    queue = FakeQueue()
    await queue.add(reply("a1", "A"))  # accepted by a process that died
    await queue.add(reply("b1", "B"))
    market = Marketplaces()
    scheduler = DeliveryScheduler(market, queue, sleep=no_sleep)
    scheduler.start()
    await until(lambda: sorted(market.sent) == ["a1", "b1"])
    await scheduler.wait_idle()
    assert queue.items == {}


async def test_a_redelivered_command_still_queued_is_not_delivered_twice() -> None:
    market = Marketplaces(throttled=frozenset({"A"}))
    scheduler = DeliveryScheduler(market, FakeQueue(), sleep=no_sleep)
    await scheduler.submit(reply("a1", "A"))
    await scheduler.submit(reply("a1", "A"))  # Kafka redelivers before the commit
    market.gate.set()
    await scheduler.wait_idle()
    assert market.sent == ["a1"]


async def test_a_merchant_retry_queued_behind_its_first_round_stays_queued_until_run() -> None:
    market = Marketplaces(throttled=frozenset({"A"}))
    queue = FakeQueue()
    scheduler = DeliveryScheduler(market, queue, sleep=no_sleep)
    await scheduler.submit(reply("a1", "A"))
    await scheduler.submit(reply("a1", "A", retry=1))
    market.gate.set()
    await scheduler.wait_idle()
    assert market.sent == ["a1", "a1"]
    assert queue.items == {}


async def test_an_unreachable_database_pauses_the_delivery_and_loses_nothing() -> None:
    market = Marketplaces()
    market.faults = [AutoReconnect("mongo down")] * 4
    queue = FakeQueue()
    scheduler = DeliveryScheduler(market, queue, sleep=no_sleep)
    await scheduler.submit(reply("a1", "A"))
    await scheduler.wait_idle()
    assert market.sent == ["a1"] and queue.items == {}


async def test_accepted_replies_are_bounded() -> None:
    market = Marketplaces(throttled=frozenset({"A"}))
    scheduler = DeliveryScheduler(market, FakeQueue(), max_pending=2, sleep=no_sleep)
    await scheduler.submit(reply("a1", "A"))
    await scheduler.submit(reply("a2", "A"))
    third = asyncio.create_task(scheduler.submit(reply("a3", "A")))
    await until(lambda: market.parked == ["a1"])
    assert not third.done(), "the agent waits while two replies are unsettled"
    market.gate.set()
    await third
    await scheduler.wait_idle()
    assert market.sent == ["a1", "a2", "a3"]


async def test_a_reply_another_instance_is_delivering_is_left_to_it_until_its_lease_ends() -> None:
    queue = FakeQueue()
    now = [NOW]
    first_market = Marketplaces(throttled=frozenset({"A"}))
    first = DeliveryScheduler(
        first_market, queue, sleep=no_sleep, owner="one", lease=600, clock=lambda: now[0]
    )
    await first.submit(reply("a1", "A"))
    await until(lambda: first_market.parked == ["a1"])  # parked, under one's lease

    second_market = Marketplaces()
    second = DeliveryScheduler(
        second_market, queue, sleep=no_sleep, owner="two", lease=600, clock=lambda: now[0]
    )
    await second.resume()  # a second instance starting
    await second.wait_idle()
    assert second_market.sent == [], "not delivered twice while one holds it"
    assert "a1" in queue.items

    await first.close()  # one dies; its lease runs out
    now[0] = NOW + timedelta(seconds=601)
    await second.resume()
    await second.wait_idle()
    assert second_market.sent == ["a1"] and queue.items == {}


# ------------------------------------------------------------ batched acceptance


def received(command: ReplyCommand, offset: int, type_: str = REPLY_REQUESTED.name) -> Received:
    envelope = Envelope[ReplyCommand](source="/t", type=type_, subject="s", data=command)
    where = {"source_topic": "t.commands", "partition": 0, "offset": offset}
    return Received(envelope, where, trace.NonRecordingSpan(trace.INVALID_SPAN_CONTEXT))


async def test_a_batch_of_commands_is_accepted_in_one_bulk_write_and_delivered_in_its_order() -> (
    None
):
    market = Marketplaces()
    queue = FakeQueue()
    # Fewer slots than the batch has replies: the batch must not wait for itself.
    scheduler = DeliveryScheduler(market, queue, max_pending=2, sleep=no_sleep)
    batch = [
        received(reply("a1", "A"), 0),
        received(reply("b1", "B"), 1),
        received(reply("a2", "A"), 2),
        received(reply("a1", "A"), 3),  # the same command again: accepted once
        received(reply("a3", "A", retry=1), 4),  # a merchant retry: begins its round alone
        received(reply("a4", "A"), 5, type_="com.parley.something.else.v1"),
    ]

    errors = await scheduler.handle_batch(batch)

    assert errors is not None
    assert [e is None for e in errors] == [True] * 5 + [False]
    assert isinstance(errors[5], ValueError), "a foreign record fails on its own"
    assert queue.bulk == [["a1", "b1"], ["a2"]], "first rounds in bulk, max_pending at a time"
    assert queue.opened == ["a3"], "the merchant retry went through add"
    await scheduler.wait_idle()
    assert [c for c in market.sent if c.startswith("a")] == ["a1", "a2", "a3"]
    assert sorted(market.sent) == ["a1", "a2", "a3", "b1"], "each reply delivered once"


async def test_a_batch_whose_bulk_write_failed_gives_its_slots_back_and_goes_through_again() -> (
    None
):
    market = Marketplaces()
    queue = FakeQueue()
    queue.bulk_faults = [AutoReconnect("mongo away")]
    scheduler = DeliveryScheduler(market, queue, max_pending=2, sleep=no_sleep)
    batch = [received(reply("a1", "A"), 0), received(reply("b1", "B"), 1)]

    try:
        await scheduler.handle_batch(batch)
    except AutoReconnect:
        pass
    else:
        raise AssertionError("the failure of the bulk write must reach the stream loop")
    assert market.sent == [] and queue.items == {}, "nothing accepted, nothing sent"

    await scheduler.handle_batch(batch)  # the stream loop retries the batch

    await scheduler.wait_idle()
    assert sorted(market.sent) == ["a1", "b1"]


async def test_a_batch_redelivered_while_its_replies_are_held_accepts_nothing_twice() -> None:
    market = Marketplaces(throttled=frozenset({"A"}))
    queue = FakeQueue()
    scheduler = DeliveryScheduler(market, queue, sleep=no_sleep)
    batch = [received(reply("a1", "A"), 0), received(reply("a2", "A"), 1)]
    await scheduler.handle_batch(batch)
    await until(lambda: market.parked == ["a1"])

    await scheduler.handle_batch(batch)  # its offsets were not committed: a crash, say

    assert queue.bulk == [["a1", "a2"]], "held replies are not accepted again"
    market.gate.set()
    await scheduler.wait_idle()
    assert market.sent == ["a1", "a2"]

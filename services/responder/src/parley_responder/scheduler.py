"""Delivers replies per marketplace connection, so no store waits for another.

The Kafka agent only *accepts* a reply: :meth:`DeliveryScheduler.submit` writes the
delivery record and queues the command durably (:class:`~.ports.DeliveryQueue`),
hands it to the worker of its connection (store and marketplace) and returns, so the
offset is committed once nothing can be lost and the partition moves on (the agent
accepts a batch of commands at a time: :meth:`DeliveryScheduler.handle_batch`, bulk
writes for first rounds). Each connection has one worker, taking its replies in the
order they were accepted (one discussion belongs to one connection, so a
discussion's replies keep their order); different connections deliver concurrently.

A reply that meets a fault is parked by the :class:`~.handlers.Responder`
(``next_attempt_at`` on the record and in a ``queued`` result) and its worker waits
until then: that pauses only its own connection, which is what a 429 asks for (the
marketplace throttles the connection, not one reply), while every other
connection's replies go on. At start, :meth:`resume` hands the queue's commands to
their workers again: a reply accepted, parked or half-sent before a crash is
delivered (a half-sent one reconciled first) without Kafka redelivering it.

At most ``max_pending`` replies are accepted and unsettled at once; beyond that,
``submit`` waits, which holds the agent back (back-pressure) instead of memory
growing without bound.

Several responder instances share one queue, so a reply is delivered only under a
lease on its queue entry (``lease`` seconds, renewed while it is being delivered,
waits included): a restarting instance resuming the queue skips what a live one is
delivering, and takes over what a dead one left once its lease ran out. The queue is
swept again every ``lease`` seconds for such orphans.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from opentelemetry import trace

from parley_platform.batches import BatchErrors
from parley_platform.logging import get_logger
from parley_platform.streams import TRANSIENT_ERRORS, Received
from parley_platform.tasks import cancel_and_wait
from parley_platform.tracing import current_span_context, job_span
from parley_responder.ports import DeliveryQueue, ReplyDelivery
from parley_schemas import REPLY_REQUESTED, Envelope, ReplyCommand, utcnow

log = get_logger(__name__)

Connection = tuple[str, str]  # (store_id, marketplace)


class DeliveryScheduler:
    def __init__(
        self,
        delivery: ReplyDelivery,
        queue: DeliveryQueue,
        *,
        max_pending: int = 1000,
        bug_retries: int = 5,
        lease: float = 30.0,
        owner: str | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._delivery = delivery
        self._lease = lease
        self._owner = owner or uuid.uuid4().hex
        self._clock = clock
        self._queue = queue
        self._max_pending = max_pending
        self._slots = asyncio.Semaphore(max_pending)
        self._bug_retries = bug_retries
        self._sleep = sleep
        self._lanes: dict[Connection, asyncio.Queue[ReplyCommand]] = {}
        self._workers: dict[Connection, asyncio.Task[None]] = {}
        self._held: set[tuple[str, int]] = set()  # (command id, retry) accepted, unsettled
        # What asked for each held reply (the command's consumer span), for the trace of
        # its delivery attempts: a worker task outlives the record that started it.
        self._origins: dict[tuple[str, int], trace.SpanContext | None] = {}
        self._resumed: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    async def handle(self, envelope: Envelope[Any]) -> None:
        """The command agent's handler: returns once the reply is durably accepted."""
        if envelope.type != REPLY_REQUESTED.name:
            raise ValueError(f"responder does not handle {envelope.type}")
        await self.submit(envelope.data)

    async def handle_batch(self, records: Sequence[Received]) -> BatchErrors:
        """The command agent's batch handler (:mod:`parley_platform.batches`): returns
        once every reply of the batch is durably accepted, then its offsets may go.

        First rounds (most commands) are accepted with bulk writes
        (:meth:`~.ports.DeliveryQueue.add_new`); a merchant retry begins its round on
        its own (:meth:`submit`: one conditional write decides whether it may). Replies
        reach their connections' workers in the order of the batch, so one
        discussion's replies keep their order. Accepting never sends: what goes out,
        and when, is decided per delivery by the :class:`~.handlers.Responder` from its
        record, so a batch processed again (a crash before its offsets were committed)
        sends nothing twice.
        """
        errors: list[BaseException | None] = [None] * len(records)
        commands: dict[tuple[str, int], tuple[Received, ReplyCommand]] = {}
        for i, record in enumerate(records):
            if record.envelope.type != REPLY_REQUESTED.name:
                errors[i] = ValueError(f"responder does not handle {record.envelope.type}")
                continue
            command: ReplyCommand = record.envelope.data
            commands.setdefault((command.command_id, command.retry), (record, command))
        ordered = list(commands.values())  # a command twice in the batch: accepted once
        # At most max_pending slots are taken at once, so a batch never waits for itself.
        for start in range(0, len(ordered), self._max_pending):
            await self._accept(ordered[start : start + self._max_pending])
        return errors

    async def _accept(self, commands: Sequence[tuple[Received, ReplyCommand]]) -> None:
        fresh = {
            (command.command_id, 0): command
            for _, command in commands
            if command.retry == 0 and (command.command_id, 0) not in self._held
        }
        taken = 0
        try:
            for _ in fresh:
                await self._slots.acquire()
                taken += 1
            if fresh:
                await self._queue.add_new(list(fresh.values()))
        except BaseException:
            for _ in range(taken):
                self._slots.release()
            raise
        for record, command in commands:
            with record.scope():  # the delivery's trace follows from its command's
                if fresh.pop((command.command_id, command.retry), None) is not None:
                    log.debug("reply accepted", command_id=command.command_id)
                    self._dispatch(command)
                elif command.retry > 0:
                    await self.submit(command)

    async def on_reply(self, command: ReplyCommand) -> None:
        """The reply path for autoresponses: accepted like a merchant's reply."""
        await self.submit(command)

    async def submit(self, command: ReplyCommand) -> None:
        if (command.command_id, command.retry) in self._held:
            return  # redelivered while still queued here: it is delivered once
        await self._slots.acquire()
        try:
            queued = await self._queue.add(command)
        except BaseException:
            self._slots.release()
            raise
        if not queued:
            self._slots.release()
            log.info(
                "merchant retry not queued: stale or not retryable",
                command_id=command.command_id,
                retry=command.retry,
            )
            return
        self._dispatch(command)

    def start(self) -> None:
        """Resumes, in the background, what the queue held before this process, and
        sweeps it again every lease period for what a dead instance left."""
        if self._resumed is None:
            self._resumed = asyncio.create_task(self._sweep())

    async def _sweep(self) -> None:
        while True:
            await self.resume()
            await asyncio.sleep(self._lease)

    async def resume(self) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                pending = await self._queue.pending()
                break
            except TRANSIENT_ERRORS as exc:
                delay = _backoff(attempt)
                log.warning("delivery queue unavailable", error=repr(exc), delay=delay)
                await self._sleep(delay)
        waiting = [c for c in pending if (c.command_id, c.retry) not in self._held]
        if waiting:
            log.info("resuming queued replies", count=len(waiting))
        for command in waiting:
            if (command.command_id, command.retry) in self._held:
                continue
            await self._slots.acquire()
            self._dispatch(command)

    async def wait_idle(self) -> None:
        """Until every accepted reply settled (tests; a graceful stop)."""
        await self._idle.wait()

    async def close(self) -> None:
        tasks = [*self._workers.values(), *([self._resumed] if self._resumed else [])]
        await cancel_and_wait(*tasks)

    @property
    def connections_busy(self) -> int:
        return len(self._workers)

    def _dispatch(self, command: ReplyCommand) -> None:
        """Hands a command (its slot taken) to its connection's worker, once."""
        if (command.command_id, command.retry) in self._held:
            self._slots.release()  # accepted twice at once (redelivery, sweep)
            return
        self._held.add((command.command_id, command.retry))
        self._origins[(command.command_id, command.retry)] = current_span_context()
        self._idle.clear()
        key = (command.store_id, command.marketplace)
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = asyncio.Queue()
        lane.put_nowait(command)
        if key not in self._workers:
            self._workers[key] = asyncio.create_task(self._work(key, lane))

    async def _work(self, key: Connection, lane: asyncio.Queue[ReplyCommand]) -> None:
        """One connection's replies, one after the other; ends when none is left."""
        try:
            while not lane.empty():
                command = lane.get_nowait()
                try:
                    await self._deliver(command)
                finally:
                    self._held.discard((command.command_id, command.retry))
                    self._origins.pop((command.command_id, command.retry), None)
                    self._slots.release()
        finally:
            del self._workers[key]
            del self._lanes[key]
            if not self._workers:
                self._idle.set()

    async def _claim(self, command: ReplyCommand) -> bool:
        now = self._clock()
        until = now + timedelta(seconds=self._lease)
        return await self._queue.claim(command.command_id, self._owner, now, until)

    async def _under_lease(self, command: ReplyCommand) -> bool:
        """Delivers while renewing the lease; False if the lease was lost (another
        instance took the reply over): the delivery is then stopped, not finished."""
        delivery = asyncio.create_task(self._delivery.on_reply(command))
        lost = False

        async def renew() -> None:
            nonlocal lost
            while True:
                await asyncio.sleep(self._lease / 3)
                try:
                    kept = await self._claim(command)
                except TRANSIENT_ERRORS:
                    continue  # the database is away: so is any other instance's claim
                if not kept:
                    lost = True
                    delivery.cancel()
                    return

        renewing = asyncio.create_task(renew())
        try:
            await delivery
        except asyncio.CancelledError:
            if not lost:
                raise
            log.warning("delivery taken over by another instance", command_id=command.command_id)
            return False
        finally:
            renewing.cancel()
        return True

    async def _deliver(self, command: ReplyCommand) -> None:
        """Delivers under a lease, then removes the command from the queue. MongoDB or
        Kafka being away is waited out; a bug is retried a few times, then the command
        is left in the queue (swept again later) rather than dropped."""
        attempt = 0
        bugs = 0
        while True:
            attempt += 1
            try:
                with job_span(
                    "deliver reply",
                    {
                        "parley.command.id": command.command_id,
                        "parley.store.id": command.store_id,
                        "parley.marketplace": command.marketplace,
                        "parley.delivery.attempt": attempt,
                    },
                    follows=self._origins.get((command.command_id, command.retry)),
                ):
                    if not await self._claim(command):
                        return  # another instance is delivering it, or it is settled
                    if await self._under_lease(command):
                        await self._queue.remove(command)
                    return
            except TRANSIENT_ERRORS as exc:
                delay = _backoff(attempt)
                log.warning(
                    "delivery paused, infrastructure unavailable",
                    command_id=command.command_id,
                    error=repr(exc),
                    delay=delay,
                )
                await self._sleep(delay)
            except Exception:
                bugs += 1
                if bugs >= self._bug_retries:
                    log.exception(
                        "delivery left queued after repeated errors", command_id=command.command_id
                    )
                    return
                await self._sleep(_backoff(bugs))


def _backoff(attempt: int, base: float = 0.5, cap: float = 30.0) -> float:
    return float(random.uniform(0, min(cap, base * 2 ** (min(attempt, 20) - 1))))

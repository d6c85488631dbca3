"""Transactional outbox: a record to publish is durable before anyone relies on it.

A service that changes state and then publishes can crash in between; the outbox
makes the publish a consequence of a stored record instead of a hope. FerretDB v1 has
no multi-document transactions, so the guarantee rests on single-document writes:

1. :meth:`MongoOutbox.record` inserts one document per envelope into the service's own
   outbox collection (``outbox_<service>``), ``_id`` = the envelope's CloudEvents id.
   That insert is the commit point: before it nothing is promised, after it the record
   is published, however the process ends.
2. :class:`OutboxPublisher` then publishes at once (the fast path) and deletes the
   document by ``_id`` once the broker acknowledged it.
3. :class:`OutboxRelay`, a background loop in every instance, publishes what is left:
   documents older than ``min_age`` (so it does not race the fast path of a live
   request), in bounded batches, oldest first (records written together keep the
   order they were given: one discussion's events stay in order), each deleted by
   ``_id`` after its ack.

Delivery is at least once: a crash between the broker's ack and the delete, or the
relay and the fast path meeting on one record, puts the record on the wire twice with
the same id. Consumers de-duplicate by the CloudEvents ``id`` (docs/events.md), and
the id is fixed when the record is written, so a duplicate is always recognisable.

Callers whose own state lives elsewhere make their ids deterministic (:func:`stable_id`)
from what identifies the change (a command id, a delivery round), so writing the same
record again after a crash lands on the same ``_id`` (a duplicate-key insert is
ignored) and a re-published record keeps its id.

Every query is by ``_id`` except the relay's scan of the pending set, which reads the
whole (small, normally empty) collection and orders it in Python: FerretDB v1 pushes
down nothing but ``_id`` equality.

Test hook (off by default): with ``PARLEY_OUTBOX_CRASH_AFTER_RECORD=1`` in its
environment the process ends with ``os._exit(137)`` right after a record is stored and
before it is published, which is what a SIGKILL at the worst moment looks like; the
crash test (tests/reliability/test_outbox_crash.py) uses it. Never set it in a
deployment.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from parley_schemas import ALL_TOPICS, Envelope, Topic, as_utc, utcnow

from .logging import get_logger
from .metrics import OUTBOX_OLDEST_AGE, OUTBOX_QUEUED
from .tasks import cancel_and_wait

log = get_logger(__name__)

OUTBOX_PREFIX = "outbox_"
CRASH_HOOK = "PARLEY_OUTBOX_CRASH_AFTER_RECORD"
_NAMESPACE = uuid.UUID("9f4c1c52-3a55-4c1e-9a47-6f0b2f4d8a10")  # Parley's stable ids
_DUPLICATE_KEY = 11000
STOP_SECONDS = 5.0  # how long a shutdown waits for a relay pass in flight


def outbox_collection(service: str) -> str:
    """The outbox of one service: each service writes its own, and only its own."""
    return f"{OUTBOX_PREFIX}{service}"


def stable_id(*parts: object) -> str:
    """A CloudEvents id derived from what identifies the change: the same parts give the
    same id in every process, so a record written or published again is a duplicate
    a consumer can drop, never a second event."""
    return uuid.uuid5(_NAMESPACE, "\x1f".join(str(p) for p in parts)).hex


@dataclass(frozen=True)
class OutboxRecord:
    """One envelope waiting for its topic; ``id`` is the envelope's id."""

    id: str
    topic: Topic
    envelope: Envelope[Any]
    created_at: datetime


class Transport(Protocol):
    """Where records go: :class:`parley_platform.kafka.KafkaPublisher` in production."""

    async def publish(self, topic: Topic, envelope: Envelope[Any]) -> None: ...


class OutboxStore(Protocol):
    async def record(self, topic: Topic, envelopes: Sequence[Envelope[Any]]) -> None:
        """Durable once this returns; a record already there (same id) is kept as is."""

    async def pending(self, limit: int, older_than: datetime) -> list[OutboxRecord]:
        """At most ``limit`` records created before ``older_than``, oldest first."""
        ...

    async def remove(self, record_id: str) -> None:
        """Published: gone (by ``_id``)."""

    async def backlog(self) -> tuple[int, datetime | None]:
        """How many records wait, and when the oldest was written."""
        ...


_TOPICS: dict[str, Topic] = {t.name: t for t in ALL_TOPICS}


def _topic(name: str) -> Topic:
    topic = _TOPICS.get(name)
    if topic is None:
        raise LookupError(f"outbox record for unknown topic {name!r}")
    return topic


class MongoOutbox:
    """The service's outbox collection (see the module docstring)."""

    def __init__(self, db: AsyncDatabase[Any], service: str) -> None:
        self._col = db[f"{OUTBOX_PREFIX}{service}"]  # outbox_collection(service)

    @property
    def name(self) -> str:
        return self._col.name

    async def record(self, topic: Topic, envelopes: Sequence[Envelope[Any]]) -> None:
        if not envelopes:
            return
        now = utcnow()
        docs = [
            {
                "_id": e.id,
                "topic": topic.name,
                "envelope": e.model_dump(mode="json", by_alias=True),
                "created_at": now,
                "seq": seq,  # the order within one write: created_at is the same
            }
            for seq, e in enumerate(envelopes)
        ]
        try:
            if len(docs) == 1:
                await self._col.insert_one(docs[0])
            else:
                await self._col.insert_many(docs, ordered=False)
        except DuplicateKeyError:
            pass  # written before (a repeat after a crash): the stored one stands
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != _DUPLICATE_KEY for e in errors):
                raise
        if os.environ.get(CRASH_HOOK) == "1":
            os._exit(137)  # test hook only: see the module docstring

    async def pending(self, limit: int, older_than: datetime) -> list[OutboxRecord]:
        # The whole pending set, ordered here: it is small (normally empty), and FerretDB
        # would scan the collection for any filter or sort anyway.
        docs = [d async for d in self._col.find({})]
        due = [d for d in docs if as_utc(d["created_at"]) < older_than]
        due.sort(key=lambda d: (as_utc(d["created_at"]), d.get("seq", 0), str(d["_id"])))
        return [_record(d) for d in due[:limit]]

    async def remove(self, record_id: str) -> None:
        await self._col.delete_one({"_id": record_id})

    async def backlog(self) -> tuple[int, datetime | None]:
        docs = [d async for d in self._col.find({}, {"created_at": 1})]
        oldest = min((as_utc(d["created_at"]) for d in docs), default=None)
        return len(docs), oldest


def _record(doc: dict[str, Any]) -> OutboxRecord:
    return OutboxRecord(
        id=str(doc["_id"]),
        topic=_topic(str(doc["topic"])),
        envelope=Envelope[Any].model_validate(doc["envelope"]),
        created_at=as_utc(doc["created_at"]),
    )


class OutboxPublisher:
    """The outbox as a publisher: ``publish`` returns once the record is durable.

    It tries the broker at once; when that fails (broker away, timeout) the record
    stays for the relay and the caller is not told, because the record *will* go out:
    reporting a failure would invite the caller to act twice.
    """

    def __init__(
        self, outbox: OutboxStore, transport: Transport, *, timeout_seconds: float = 30.0
    ) -> None:
        self._outbox = outbox
        self._transport = transport
        self._timeout = timeout_seconds

    async def publish(self, topic: Topic, envelope: Envelope[Any]) -> None:
        await self.publish_many(topic, [envelope])

    async def publish_many(self, topic: Topic, envelopes: Sequence[Envelope[Any]]) -> None:
        await self._outbox.record(topic, envelopes)
        for envelope in envelopes:
            try:
                async with asyncio.timeout(self._timeout):
                    await self._transport.publish(topic, envelope)
            except Exception as exc:  # the relay publishes it: the record is stored
                log.warning(
                    "outbox record left for the relay",
                    record_id=envelope.id,
                    topic=topic.name,
                    error=type(exc).__name__,
                )
                return
            await self._outbox.remove(envelope.id)


class OutboxRelay:
    """Publishes what the fast path left behind (crash, broker outage), oldest first.

    ``min_age`` keeps it off records a live request is publishing right now; ``batch``
    bounds one pass; between passes it sleeps ``interval`` (longer after an error).
    """

    def __init__(
        self,
        outbox: OutboxStore,
        transport: Transport,
        *,
        batch: int = 100,
        interval: float = 1.0,
        min_age: float = 5.0,
    ) -> None:
        if batch < 1 or interval <= 0 or min_age < 0:
            raise ValueError("batch must be positive, interval positive, min_age >= 0")
        self._outbox = outbox
        self._transport = transport
        self._batch = batch
        self._interval = interval
        self._min_age = timedelta(seconds=min_age)
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> int:
        """One bounded pass; answers how many records it published."""
        published = 0
        for record in await self._outbox.pending(self._batch, utcnow() - self._min_age):
            await self._transport.publish(record.topic, record.envelope)
            await self._outbox.remove(record.id)
            published += 1
        if published:
            log.info("outbox records relayed", count=published)
        return published

    async def run(self) -> None:
        delay = self._interval
        while True:
            try:
                full = await self.run_once() >= self._batch
                delay = self._interval
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox relay pass failed", error=type(exc).__name__)
                full = False
                delay = min(delay * 2, 30.0)
            if not full:  # a full batch: more may wait, go on at once
                await asyncio.sleep(delay)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="outbox-relay")

    async def stop(self) -> None:
        """Ends the relay within ``STOP_SECONDS``: what it has not published stays in
        the outbox for the next start, so a shutdown never waits on a pass."""
        task, self._task = self._task, None
        if task is None:
            return
        # Cancelled again until it ends (parley_platform.tasks): a pass's driver call
        # can drop one cancellation, and the loop would then go on for ever.
        await cancel_and_wait(task, grace=STOP_SECONDS)


async def measure(outbox: OutboxStore) -> None:
    """``parley_outbox_queued`` / ``parley_outbox_oldest_age_seconds`` of a service whose
    outbox is this one (see parley_platform.metrics.export), on scrape."""
    count, oldest = await outbox.backlog()
    OUTBOX_QUEUED.set(count)
    OUTBOX_OLDEST_AGE.set(0.0 if oldest is None else max(0.0, (utcnow() - oldest).total_seconds()))

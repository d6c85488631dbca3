"""Faust plumbing shared by the stream processors (normalizer, responder).

Every record goes through the same two steps, whether a stage takes records one at
a time (:func:`consume_envelopes`) or in batches (:mod:`parley_platform.batches`):
:func:`receive` restores the trace context from the Kafka headers and decodes the
envelope (undecodable records go to the dead-letter topic and the stream goes on),
and :func:`handle_record` runs the handler under the retry policy. What happens to
a failing record depends on the class of its error (:func:`classify`):

- transient: a dependency that may come back (MongoDB or Kafka unreachable, a
  timeout, and whatever the caller adds, e.g. a marketplace or SMTP relay that is
  unavailable or rate-limits us): retried with capped backoff *without limit*,
  never dead-lettered, because skipping the record would lose what it asks for
  (the autoresponder's shop copy, say) while the dependency is merely away;
- unprocessable: the record can never be processed here (:class:`Unprocessable`, a
  record that fails validation): dead-lettered at once;
- anything else is a bug or a poison record: retried a few times, then
  dead-lettered so one record never stops a partition.

Faust commits an offset only after the handler returned (a batch's offsets only after
the batch handler returned), so a crash mid-record means the record is processed
again: handlers must be idempotent.

Every outcome is counted here, once for every stage (``parley_records_processed``,
``parley_records_failed`` per failed attempt and class, ``parley_records_dead_lettered``).
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Any, Generic, Protocol, TypeVar

import faust
from aiokafka.errors import KafkaError
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind
from pydantic import ValidationError
from pymongo.errors import ConnectionFailure

from parley_schemas import Envelope, Topic, UndecodableRecord, decode

from .kafka_security import KafkaSecurity, faust_broker_credentials
from .logging import dict_config, get_logger
from .metrics import RECORDS_DEAD_LETTERED, RECORDS_FAILED, RECORDS_PROCESSED
from .settings import EXIT_BAD_SETTINGS, ServiceSettings
from .tracing import extract_context

log = get_logger(__name__)
tracer = trace.get_tracer("parley.streams")

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionFailure,
    KafkaError,
    TimeoutError,
    ConnectionError,
)
Handler = Callable[[Envelope[Any]], Awaitable[None]]


class Unprocessable(Exception):
    """A well-formed record that can never be processed here (e.g. it names a discussion
    this environment does not have): dead-lettered at once, without retries."""


class DeadLetters(Protocol):
    """Where records that cannot be processed go (:class:`~.kafka.KafkaPublisher`)."""

    async def dead_letter(
        self,
        stage: str,
        reason: str,
        *,
        subject: str = "unknown",
        source_topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
        key: bytes | None = None,
        value: bytes | None = None,
        context: dict[str, Any] | None = None,
    ) -> None: ...


class Failure(StrEnum):
    """What a handler's error means for its record (see the module's docstring)."""

    TRANSIENT = "transient"  # retried without limit: the dependency may come back
    UNPROCESSABLE = "unprocessable"  # dead-lettered at once
    BUG = "bug"  # retried a few times, then dead-lettered


def classify(exc: BaseException, transient: tuple[type[BaseException], ...] = ()) -> Failure:
    """The class of a handler's error; ``transient`` adds the caller's own
    dependencies that may come back (the platform knows no marketplace errors)."""
    if isinstance(exc, Unprocessable | ValidationError):
        return Failure.UNPROCESSABLE
    if isinstance(exc, TRANSIENT_ERRORS + transient):
        return Failure.TRANSIENT
    return Failure.BUG


T = TypeVar("T")


def create_app(
    app_id: str, settings: ServiceSettings, *, web_port: int, web_bind: str = "127.0.0.1"
) -> faust.App:
    """A Faust app wired to our broker, with in-memory state and no leader topic.

    The broker connection's security comes from the settings (as for every other
    client: :mod:`.kafka_security`), and Faust's data directory is
    ``PARLEY_DATA_DIR/<app_id>``, never the working directory, which is read-only
    (and not ours) in a container.
    """
    brokers = ";".join(f"kafka://{b.strip()}" for b in settings.kafka_bootstrap_servers.split(","))
    return faust.App(
        app_id,
        broker=brokers,
        broker_credentials=faust_broker_credentials(KafkaSecurity.of(settings)),
        datadir=_data_dir(app_id, settings),
        store="memory://",
        topic_partitions=6,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        web_enabled=True,
        web_bind=web_bind,
        web_port=web_port,
        broker_commit_every=100,
        broker_commit_interval=1.0,
        # A killed worker's partitions move to a live one after this long, not 60 s.
        broker_session_timeout=15.0,
        broker_heartbeat_interval=3.0,
    )


def _data_dir(app_id: str, settings: ServiceSettings) -> str:
    """Makes the app's directory (Faust makes only the last level), private to the
    user: an unusable PARLEY_DATA_DIR stops the worker at start like a bad setting."""
    path = settings.data_dir / app_id
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.mkdir(exist_ok=True, mode=0o700)
    except OSError as exc:
        print(
            f"{app_id}: invalid setting PARLEY_DATA_DIR: cannot create {path} "
            f"({exc.strerror or type(exc).__name__})",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(EXIT_BAD_SETTINGS) from None
    return str(path)


def run_worker(app: faust.App, settings: ServiceSettings) -> None:
    """Run the worker in the foreground with our JSON logging."""
    worker = faust.Worker(
        app,
        loglevel=settings.log_level.lower(),
        logging_config=dict_config(settings.log_level),
        override_logging=True,
        quiet=True,
    )
    worker.execute_from_commandline()


def _headers(message: Any) -> list[tuple[str, bytes]]:
    headers = getattr(message, "headers", None) or []
    if isinstance(headers, Mapping):
        return list(headers.items())
    return list(headers)


@dataclass(frozen=True)
class RetryPolicy:
    """How a stage retries a failing record (or batch): ``max_attempts`` for a bug,
    capped exponential backoff with full jitter from ``base_delay`` to ``max_delay``,
    and ``transient``: the caller's own error classes of dependencies that may come
    back (retried without limit, see the module's docstring)."""

    max_attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 30.0
    transient: tuple[type[BaseException], ...] = ()

    def classify(self, exc: BaseException) -> Failure:
        return classify(exc, self.transient)

    def transient_delay(self, attempt: int, exc: BaseException) -> float:
        """The wait before retrying after a transient ``exc``, honouring a
        ``retry_after`` it carries, up to ``max_delay``."""
        delay = backoff(min(attempt, 30), self.base_delay, self.max_delay)
        asked = getattr(exc, "retry_after", None)
        if isinstance(asked, int | float):
            delay = min(self.max_delay, max(delay, float(asked)))
        return delay


def backoff(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter: a random wait up to ``base * 2**(attempt-1)``,
    at most ``cap``, so that many workers retrying at once do not retry in step."""
    return float(random.uniform(0, min(cap, base * 2 ** (attempt - 1))))


def consumer_span(stage: str, message: Any) -> Span:
    """A started (not current) consumer span for one record, continuing the trace its
    headers carry; the caller makes it current and ends it."""
    return tracer.start_span(
        f"{stage} {message.topic}",
        context=extract_context(_headers(message)),
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.destination.name": message.topic,
            "messaging.kafka.partition": message.partition,
            "messaging.kafka.offset": message.offset,
        },
    )


def record_location(event: Any) -> dict[str, Any]:
    """Where a record came from: what a dead letter carries to find and replay it."""
    message = event.message
    return {
        "source_topic": message.topic,
        "partition": message.partition,
        "offset": message.offset,
        "key": event.key if isinstance(event.key, bytes) else None,
        "value": event.value if isinstance(event.value, bytes) else None,
    }


@dataclass
class Received:
    """A decoded record on its way through a stage: its envelope, where it came from
    (what a dead letter carries) and its consumer span, started and not yet ended
    (whoever received it ends it)."""

    envelope: Envelope[Any]
    where: dict[str, Any]
    span: Span

    @property
    def topic(self) -> str:
        return str(self.where["source_topic"])

    def scope(self) -> AbstractContextManager[Any]:
        """Makes the record's span current (without ending it): what its handling
        publishes goes on in the record's trace."""
        return trace.use_span(self.span, end_on_exit=False)

    def location(self) -> dict[str, Any]:
        """The record's topic, partition and offset, for logs."""
        return _loc(self.where)


async def receive(
    event: Any, topics: Mapping[str, Topic], dead_letters: DeadLetters, stage: str
) -> Received | None:
    """Starts the record's consumer span and decodes it; an undecodable record is
    dead-lettered (its span ended) and None is returned: the stream goes on."""
    span = consumer_span(stage, event.message)
    where = record_location(event)
    with trace.use_span(span, end_on_exit=False):
        envelope = await _decode_or_dead_letter(event, topics, dead_letters, stage, where)
    if envelope is None:
        span.end()
        return None
    return Received(envelope, where, span)


async def _decode_or_dead_letter(
    event: Any,
    topics: Mapping[str, Topic],
    dead_letters: DeadLetters,
    stage: str,
    where: Mapping[str, Any],
) -> Envelope[Any] | None:
    message = event.message
    try:
        return decode(event.value, topics.get(message.topic), headers=_headers(message))
    except UndecodableRecord as exc:
        reason = str(exc)
        log.warning("record dead-lettered", reason=reason, **_loc(where))
        await _retry_forever(partial(dead_letters.dead_letter, stage, reason, **where))
        RECORDS_DEAD_LETTERED.labels(stage, message.topic, Failure.UNPROCESSABLE).inc()
        return None


async def consume_envelopes(
    events: AsyncIterator[Any],
    topics: Mapping[str, Topic],
    handle: Handler,
    dead_letters: DeadLetters,
    *,
    stage: str,
    policy: RetryPolicy | None = None,
) -> None:
    """Handles each record, one at a time; see the module's docstring for what a
    failure does (``policy``: the retries, and the caller's transient errors, retried
    honouring a ``retry_after`` they carry up to ``policy.max_delay`` until the record
    is processed, however long that takes). For records taken in batches, see
    :mod:`parley_platform.batches`."""
    policy = policy or RetryPolicy()
    async for event in events:
        received = await receive(event, topics, dead_letters, stage)
        if received is None:
            continue
        with trace.use_span(received.span, end_on_exit=True):
            await handle_record(received, handle, dead_letters, stage, policy)


async def handle_record(
    received: Received,
    handle: Handler,
    dead_letters: DeadLetters,
    stage: str,
    policy: RetryPolicy,
) -> None:
    """Runs ``handle`` on one record until it is processed or dead-lettered, by the
    class of each failure (see the module's docstring); returns either way."""
    failures = 0
    attempt = 0
    topic = received.topic
    while True:
        attempt += 1
        try:
            await handle(received.envelope)
        except Exception as exc:
            kind = policy.classify(exc)
            RECORDS_FAILED.labels(stage, topic, kind).inc()
            if kind is Failure.UNPROCESSABLE:
                await _dead_letter(received, dead_letters, stage, kind, f"unprocessable: {exc}")
                return
            if kind is Failure.TRANSIENT:
                delay = policy.transient_delay(attempt, exc)
                log.warning(
                    "dependency unavailable, retrying",
                    error=repr(exc),
                    delay=delay,
                    attempt=attempt,
                    **received.location(),
                )
                await asyncio.sleep(delay)
                continue
            failures += 1
            if failures >= policy.max_attempts:
                reason = f"handler failed {failures} times: {exc!r}"
                await _dead_letter(received, dead_letters, stage, kind, reason, with_traceback=True)
                return
            await asyncio.sleep(backoff(failures, policy.base_delay, policy.max_delay))
        else:
            RECORDS_PROCESSED.labels(stage, topic).inc()
            log.debug("record processed", attempts=attempt, **received.location())
            return


async def _dead_letter(
    received: Received,
    dead_letters: DeadLetters,
    stage: str,
    kind: Failure,
    reason: str,
    *,
    with_traceback: bool = False,
) -> None:
    """Logs (with the traceback for a bug), publishes the dead letter (waiting out a
    broker that is away) and counts it."""
    if with_traceback:
        log.exception("record dead-lettered", reason=reason, **received.location())
    else:
        log.warning("record dead-lettered", reason=reason, **received.location())
    await _retry_forever(
        partial(
            dead_letters.dead_letter,
            stage,
            reason,
            subject=received.envelope.subject,
            **received.where,
        )
    )
    RECORDS_DEAD_LETTERED.labels(stage, received.topic, kind).inc()


async def _retry_forever(action: Callable[[], Awaitable[None]]) -> None:
    attempt = 0
    while True:
        attempt += 1
        try:
            await action()
            return
        except TRANSIENT_ERRORS as exc:
            delay = backoff(attempt, 0.5, 30.0)
            log.warning("dead-letter publish failed, retrying", error=repr(exc), delay=delay)
            await asyncio.sleep(delay)


def _loc(where: Mapping[str, Any]) -> dict[str, Any]:
    return {k: where[k] for k in ("source_topic", "partition", "offset")}


class LazyResource(Generic[T]):
    """Builds a worker's adapters once, inside the worker's event loop, on first use.

    Faust starts agents before any hook could hand them objects, and MongoDB or Kafka
    may not be reachable yet at that moment: building is retried with backoff on
    infrastructure faults, and a failed build is not cached.
    """

    def __init__(self, factory: Callable[[], Awaitable[T]]) -> None:
        self._factory = factory
        self._value: T | None = None
        self._lock: asyncio.Lock | None = None

    async def get(self) -> T:
        if self._value is not None:
            return self._value
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            attempt = 0
            while self._value is None:
                attempt += 1
                try:
                    self._value = await self._factory()
                except TRANSIENT_ERRORS as exc:
                    delay = backoff(attempt, 0.5, 15.0)
                    log.warning("start-up dependency unavailable", error=repr(exc), delay=delay)
                    await asyncio.sleep(delay)
        return self._value

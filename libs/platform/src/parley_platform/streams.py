"""Faust plumbing shared by the stream processors (normalizer, responder).

Every record goes through :func:`consume_envelopes`: it restores the trace context
from the Kafka headers, decodes the envelope (undecodable records go to the
dead-letter topic and the stream goes on), and retries the handler. What happens to
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

Faust commits an offset only after the handler returned, so a crash mid-record
means the record is processed again: handlers must be idempotent.

Every outcome is counted here, once for every stage (``parley_records_processed``,
``parley_records_failed`` per failed attempt and class, ``parley_records_dead_lettered``).
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
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


async def decode_or_dead_letter(
    event: Any,
    topics: Mapping[str, Topic],
    dead_letters: DeadLetters,
    stage: str,
    where: Mapping[str, Any],
) -> Envelope[Any] | None:
    """The record's envelope, or None once an undecodable record is dead-lettered."""
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
    max_attempts: int = 5,
    base_delay: float = 0.2,
    max_delay: float = 30.0,
    transient: tuple[type[BaseException], ...] = (),
) -> None:
    """Handles each record; see the module's docstring for what a failure does.

    ``transient`` names the caller's error classes of dependencies that may come back:
    their records are retried (honouring a ``retry_after`` the error carries, up to
    ``max_delay``) until they are processed, however long that takes.
    """
    async for event in events:
        message = event.message
        with trace.use_span(consumer_span(stage, message), end_on_exit=True):
            where = record_location(event)
            envelope = await decode_or_dead_letter(event, topics, dead_letters, stage, where)
            if envelope is None:
                continue
            await _handle_with_retries(
                envelope,
                handle,
                dead_letters,
                stage,
                where,
                max_attempts,
                base_delay,
                max_delay,
                transient,
            )


async def _handle_with_retries(
    envelope: Envelope[Any],
    handle: Handler,
    dead_letters: DeadLetters,
    stage: str,
    where: dict[str, Any],
    max_attempts: int,
    base_delay: float,
    max_delay: float,
    transient: tuple[type[BaseException], ...],
) -> None:
    failures = 0
    attempt = 0
    while True:
        attempt += 1
        topic = str(where["source_topic"])
        try:
            await handle(envelope)
            RECORDS_PROCESSED.labels(stage, topic).inc()
            return
        except Exception as exc:
            kind = classify(exc, transient)
            RECORDS_FAILED.labels(stage, topic, kind).inc()
            if kind is Failure.UNPROCESSABLE:
                reason = f"unprocessable: {exc}"
                log.warning("record dead-lettered", reason=reason, **_loc(where))
                await _retry_forever(
                    partial(
                        dead_letters.dead_letter, stage, reason, subject=envelope.subject, **where
                    )
                )
                RECORDS_DEAD_LETTERED.labels(stage, topic, kind).inc()
                return
            if kind is Failure.TRANSIENT:
                delay = _backoff(min(attempt, 30), base_delay, max_delay)
                asked = getattr(exc, "retry_after", None)
                if isinstance(asked, int | float):
                    delay = min(max_delay, max(delay, float(asked)))
                log.warning(
                    "dependency unavailable, retrying",
                    error=repr(exc),
                    delay=delay,
                    attempt=attempt,
                    **_loc(where),
                )
                await asyncio.sleep(delay)
                continue
            failures += 1
            if failures >= max_attempts:
                reason = f"handler failed {failures} times: {exc!r}"
                log.exception("record dead-lettered", reason=reason, **_loc(where))
                await _retry_forever(
                    partial(
                        dead_letters.dead_letter, stage, reason, subject=envelope.subject, **where
                    )
                )
                RECORDS_DEAD_LETTERED.labels(stage, topic, kind).inc()
                return
            await asyncio.sleep(_backoff(failures, base_delay, max_delay))


async def _retry_forever(action: Callable[[], Awaitable[None]]) -> None:
    attempt = 0
    while True:
        attempt += 1
        try:
            await action()
            return
        except TRANSIENT_ERRORS as exc:
            delay = _backoff(attempt, 0.5, 30.0)
            log.warning("dead-letter publish failed, retrying", error=repr(exc), delay=delay)
            await asyncio.sleep(delay)


def _backoff(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter."""
    return float(random.uniform(0, min(cap, base * 2 ** (attempt - 1))))


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
                    delay = _backoff(attempt, 0.5, 15.0)
                    log.warning("start-up dependency unavailable", error=repr(exc), delay=delay)
                    await asyncio.sleep(delay)
        return self._value

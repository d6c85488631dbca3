"""Records taken in batches: one handler call (one set of bulk writes) per batch.

Why: a stage that writes one record at a time pays a few database round trips per
record; handed a batch, it pays a handful of bulk round trips per batch whatever its
size. A batch holds at most ``max_records`` records, waiting at most ``max_wait``
seconds for them (:func:`faust_batches`): the latency a lone record pays at most.

Each record goes through the very steps of the one-at-a-time loop
(:mod:`parley_platform.streams`): :func:`~parley_platform.streams.receive` decodes it
(an undecodable record is dead-lettered and the batch goes on without it), and a
record that has to run on its own runs through
:func:`~parley_platform.streams.handle_record`, with the same classes of failure and
the same retry policy. In between, the batch handler gets every decoded record at
once and says, per record, whether it was stored:

- a record the handler reports as failed does not stop the others: they are stored,
  and it runs again on its own (unprocessable: dead-lettered at once; a bug: a few
  attempts, then dead-lettered; a dependency away: waited for);
- a transient failure of the batch as a whole (MongoDB or Kafka away, or one of the
  policy's own transient errors) retries the batch with capped backoff, without
  limit; any other failure of the batch as a whole falls back to one record at a
  time, so only the record that causes it is dead-lettered and the rest are stored.

Offsets: a batch source acknowledges a batch's records only when the loop asks for
the next batch, that is once :func:`process_batch` returned: a worker killed
mid-batch processes the whole batch again, so batch handlers must be idempotent, like
record handlers. A cancellation (the worker stopping) lets the batch in flight finish
first, for up to ``grace`` seconds (:func:`run_to_completion`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, cast

import faust

from parley_schemas import Topic

from .logging import get_logger
from .metrics import RECORDS_FAILED, RECORDS_PROCESSED
from .streams import (
    DeadLetters,
    Failure,
    Handler,
    Received,
    RetryPolicy,
    handle_record,
    receive,
)

log = get_logger(__name__)

BatchErrors = Sequence[BaseException | None] | None
"""Per record, in order: None when it was stored, else why not; None for the whole
batch when every record was stored."""

BatchHandler = Callable[[Sequence[Received]], Awaitable[BatchErrors]]
"""Stores a batch of decoded records (bulk writes). Raises when the batch as a whole
failed; returns the records that failed on their own (:data:`BatchErrors`). It may
enter a record's :meth:`~parley_platform.streams.Received.scope` to publish in that
record's trace."""


def faust_batches(
    stream: faust.StreamT[Any], max_records: int, max_wait: float
) -> AsyncIterator[Sequence[Any]]:
    """Batches of a Faust agent's events: at most ``max_records``, waiting at most
    ``max_wait`` seconds to fill up. Faust acknowledges a batch's events (commits
    their offsets) only when the loop asks for the next batch."""
    concrete = cast(faust.Stream[Any], stream)  # StreamT does not declare take_events
    return concrete.take_events(max_records, within=max_wait)


async def consume_batches(
    batches: AsyncIterator[Sequence[Any]],
    topics: Mapping[str, Topic],
    handle_batch: BatchHandler,
    handle_one: Handler,
    dead_letters: DeadLetters,
    *,
    stage: str,
    policy: RetryPolicy | None = None,
    grace: float = 30.0,
) -> None:
    """Processes each batch of events (see the module's docstring); ``handle_one`` is
    the record handler a record that has to run on its own goes through."""
    async for events in batches:
        await run_to_completion(
            process_batch(
                events,
                topics,
                handle_batch,
                handle_one,
                dead_letters,
                stage=stage,
                policy=policy,
            ),
            grace,
        )


async def run_to_completion(work: Awaitable[None], grace: float) -> None:
    """Awaits ``work``; if cancelled meanwhile, lets it finish (up to ``grace`` s)
    before re-raising, so a stopping worker does not acknowledge a batch it has not
    stored."""
    task = asyncio.ensure_future(work)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        if not task.done():
            await asyncio.wait({task}, timeout=grace)
            task.cancel()
        raise


async def process_batch(
    events: Sequence[Any],
    topics: Mapping[str, Topic],
    handle_batch: BatchHandler,
    handle_one: Handler,
    dead_letters: DeadLetters,
    *,
    stage: str,
    policy: RetryPolicy | None = None,
) -> None:
    """One batch, until each of its records is stored or dead-lettered."""
    policy = policy or RetryPolicy()
    started = time.perf_counter()
    received: list[Received] = []
    alone: list[Received] = []
    try:
        for event in events:
            record = await receive(event, topics, dead_letters, stage)
            if record is not None:
                received.append(record)
        alone = await _store(received, handle_batch, stage, policy)
        for record in alone:
            with record.scope():
                await handle_record(record, handle_one, dead_letters, stage, policy)
    finally:
        for record in received:
            record.span.end()
    log.debug(
        "batch processed",
        stage=stage,
        records=len(events),
        undecodable=len(events) - len(received),
        run_alone=len(alone),
        seconds=round(time.perf_counter() - started, 3),
    )


async def _store(
    records: list[Received], handle_batch: BatchHandler, stage: str, policy: RetryPolicy
) -> list[Received]:
    """Stores the batch; returns the records to run again one at a time."""
    if not records:
        return []
    attempt = 0
    while True:
        attempt += 1
        try:
            errors = await handle_batch(records)
            break
        except Exception as exc:
            kind = policy.classify(exc)
            if kind is not Failure.TRANSIENT:
                log.warning(
                    "batch failed, one record at a time",
                    stage=stage,
                    error=repr(exc),
                    failure_class=kind.value,
                    records=len(records),
                )
                return records
            delay = policy.transient_delay(attempt, exc)
            log.warning(
                "dependency unavailable, retrying batch",
                stage=stage,
                error=repr(exc),
                delay=delay,
                attempt=attempt,
                records=len(records),
            )
            await asyncio.sleep(delay)
    outcomes = [None] * len(records) if errors is None else list(errors)
    if len(outcomes) != len(records):
        # A handler bug: which records were stored cannot be told, so none is trusted.
        log.error(
            "batch handler answered for the wrong number of records",
            stage=stage,
            records=len(records),
            answers=len(outcomes),
        )
        return records
    alone: list[Received] = []
    for record, error in zip(records, outcomes, strict=True):
        if error is None:
            RECORDS_PROCESSED.labels(stage, record.topic).inc()
            log.debug("record stored in its batch", **record.location())
        else:
            RECORDS_FAILED.labels(stage, record.topic, policy.classify(error)).inc()
            log.debug(
                "record failed in its batch, runs alone", error=repr(error), **record.location()
            )
            alone.append(record)
    return alone

"""The normalizer's stream loop: records in batches, stored in bulk, failures per record.

Why batches: one record at a time costs a dozen round trips to the database per
record; a batch (at most ``NORMALIZER_BATCH_MAX`` records, waiting at most
``NORMALIZER_BATCH_WAIT_MS`` for them) costs the same handful of bulk round trips
whatever its size (see :mod:`parley_normalizer.handlers`).

Offsets: Faust's ``take_events`` acknowledges a batch's records only when the loop
body that received them returns, so a worker killed mid-batch processes the whole
batch again (every step is idempotent: nothing lost, nothing visible twice). A
cancellation (the worker stopping) would also end the body: :func:`run_to_completion`
lets the batch in flight finish first, for up to ``grace`` seconds.

Failures keep the per-record policy of :mod:`parley_platform.streams` (``classify``):

- an undecodable record is dead-lettered at once, the batch goes on without it;
- a record that fails while it is applied (unprocessable, or a bug) does not stop the
  others: they are stored, and it is run again on its own through the platform's
  per-record policy (unprocessable: dead-lettered at once; a bug: a few attempts,
  then dead-lettered);
- a transient failure of the batch as a whole (MongoDB or Kafka away) retries the
  batch with capped backoff, without limit; any other failure of the batch as a whole
  falls back to one record at a time, so only the record that causes it is
  dead-lettered.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span

from parley_platform.logging import get_logger
from parley_platform.metrics import RECORDS_PROCESSED
from parley_platform.streams import (
    DeadLetters,
    Failure,
    _backoff,
    _handle_with_retries,
    classify,
    consumer_span,
    decode_or_dead_letter,
    record_location,
)
from parley_schemas import Envelope, Topic

from .handlers import Normalizer

log = get_logger(__name__)


@dataclass
class _Item:
    envelope: Envelope[Any]
    where: dict[str, Any]
    span: Span


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 30.0


async def consume_batches(
    batches: AsyncIterator[Sequence[Any]],
    topics: Mapping[str, Topic],
    normalizer: Normalizer,
    dead_letters: DeadLetters,
    *,
    stage: str,
    policy: RetryPolicy | None = None,
    grace: float = 30.0,
) -> None:
    """Processes each batch of Faust events (see the module's docstring)."""
    async for events in batches:
        await run_to_completion(
            process_batch(events, topics, normalizer, dead_letters, stage=stage, policy=policy),
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
    normalizer: Normalizer,
    dead_letters: DeadLetters,
    *,
    stage: str,
    policy: RetryPolicy | None = None,
) -> None:
    policy = policy or RetryPolicy()
    started = time.perf_counter()
    items: list[_Item] = []
    retry_alone: list[_Item] = []
    dead = 0
    try:
        for event in events:
            item = await _decode(event, topics, dead_letters, stage)
            if item is None:
                dead += 1
            else:
                items.append(item)
        retry_alone = await _store(items, normalizer, dead_letters, stage, policy)
        for item in retry_alone:
            with trace.use_span(item.span, end_on_exit=False):
                await _handle_with_retries(
                    item.envelope,
                    normalizer.handle,
                    dead_letters,
                    stage,
                    item.where,
                    policy.max_attempts,
                    policy.base_delay,
                    policy.max_delay,
                    (),
                )
    finally:
        for item in items:
            item.span.end()
    log.info(
        "batch normalized",
        records=len(events),
        undecodable=dead,
        run_alone=len(retry_alone),
        seconds=round(time.perf_counter() - started, 3),
    )


async def _decode(
    event: Any, topics: Mapping[str, Topic], dead_letters: DeadLetters, stage: str
) -> _Item | None:
    span = consumer_span(stage, event.message)
    where = record_location(event)
    with trace.use_span(span, end_on_exit=False):
        envelope = await decode_or_dead_letter(event, topics, dead_letters, stage, where)
    if envelope is None:
        span.end()
        return None
    return _Item(envelope, where, span)


async def _store(
    items: list[_Item],
    normalizer: Normalizer,
    dead_letters: DeadLetters,
    stage: str,
    policy: RetryPolicy,
) -> list[_Item]:
    """Stores the batch; returns the records to run again one at a time."""
    if not items:
        return []
    attempt = 0
    while True:
        attempt += 1
        try:
            result = await normalizer.handle_batch(
                [item.envelope for item in items],
                [partial(trace.use_span, item.span, end_on_exit=False) for item in items],
            )
            break
        except Exception as exc:
            if classify(exc) is not Failure.TRANSIENT:
                log.warning("batch failed, one record at a time", error=repr(exc))
                return items
            delay = _backoff(min(attempt, 30), policy.base_delay, policy.max_delay)
            log.warning(
                "dependency unavailable, retrying batch",
                error=repr(exc),
                delay=delay,
                attempt=attempt,
                records=len(items),
            )
            await asyncio.sleep(delay)
    alone: list[_Item] = []
    for item, error in zip(items, result.errors, strict=True):
        if error is None:
            RECORDS_PROCESSED.labels(stage, str(item.where["source_topic"])).inc()
        else:
            log.debug("record failed in its batch", error=repr(error), **_loc(item.where))
            alone.append(item)
    log.debug(
        "batch stored",
        records=len(items),
        discussions=result.discussions,
        new_messages=result.new_messages,
    )
    return alone


def _loc(where: Mapping[str, Any]) -> dict[str, Any]:
    return {k: where[k] for k in ("source_topic", "partition", "offset")}

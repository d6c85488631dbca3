"""The normalizer's service layer: applies a batch of records, stores it, publishes.

A batch (see :mod:`parley_normalizer.batches`) is processed in a fixed number of
round trips whatever its size, every one by ``_id`` (see domain.state for why):

1. read its discussions and the outbound messages its delivery results update, then
   the stored discussions' pending marks (events a crash left unpublished);
2. apply each record, in order, to its discussion's :class:`~.domain.state.Draft`
   (pure: a record that fails here is reported for itself, the others go on);
3. write the pending marks (the events to publish), customers, messages, then the
   discussions (the commit point);
4. publish every event not yet on Kafka (each discussion's in order, all of them
   acknowledged together), then remove the marks.

Every step is idempotent: a batch processed again after a crash (its offsets were
not committed) ends in the same state and publishes whatever is still pending. An
error in steps 1, 3 or 4 fails the whole batch (the caller retries it, or falls
back to one record at a time); only step 2 fails single records.

:meth:`Normalizer.sweep_pending`, run by a timer, publishes what a crash left
marked, so an event never waits for the discussion's next record.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from parley_platform.logging import get_logger
from parley_platform.streams import Unprocessable
from parley_schemas import (
    DELIVERY_RESULT,
    ORDER_ALERT,
    THREAD_SNAPSHOT,
    DeliveryResult,
    DiscussionKey,
    Envelope,
    OrderAlert,
    RawThreadSnapshot,
    utcnow,
)
from parley_store import MessageDocument, outbound_message_id

from . import events
from .domain import alerts
from .domain.retention import RetentionPolicies
from .domain.state import Draft, NoSuchDiscussion
from .ports import DiscussionStore, EventSink

log = get_logger(__name__)

Record = RawThreadSnapshot | DeliveryResult | OrderAlert
Scope = Callable[[], AbstractContextManager[Any]]


class UnknownDiscussion(Unprocessable):
    """A delivery result for a discussion the normalizer never built: replies are only
    accepted for stored discussions, so waiting will not make it appear."""


@dataclass(frozen=True)
class BatchResult:
    """Per record, in order: None when it was stored, else why it was not."""

    errors: list[Exception | None]
    discussions: int
    new_messages: int


def record_of(envelope: Envelope[Any]) -> Record:
    if envelope.type in (THREAD_SNAPSHOT.name, DELIVERY_RESULT.name, ORDER_ALERT.name):
        data: Record = envelope.data
        return data
    # The codec already refuses types foreign to the topic.
    raise ValueError(f"normalizer does not handle {envelope.type}")


def discussion_of(record: Record) -> str:
    if isinstance(record, RawThreadSnapshot):
        return DiscussionKey(
            store_id=record.store_id, marketplace=record.marketplace, thread_id=record.thread_id
        ).discussion_id
    if isinstance(record, DeliveryResult):
        return record.discussion_id
    return record.key.discussion_id


class Normalizer:
    def __init__(
        self,
        store: DiscussionStore,
        sink: EventSink,
        retention: RetentionPolicies | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._sink = sink
        self._retention = retention or RetentionPolicies()
        self._clock = clock

    # ------------------------------------------------------- one record at a time

    async def handle(self, envelope: Envelope[Any]) -> None:
        """One record as a batch of one; raises what failed it."""
        await self._one(record_of(envelope))

    async def on_snapshot(self, snapshot: RawThreadSnapshot) -> None:
        await self._one(snapshot)

    async def on_delivery(self, result: DeliveryResult) -> None:
        await self._one(result)

    async def on_alert(self, alert: OrderAlert) -> None:
        """Opens the alert's draft discussion once; a replay finds it and adds nothing."""
        await self._one(alert)

    async def _one(self, record: Record) -> None:
        (error,) = (await self.process([record])).errors
        if error is not None:
            raise error

    # ------------------------------------------------------------------ batches

    async def handle_batch(
        self, envelopes: Sequence[Envelope[Any]], scopes: Sequence[Scope] | None = None
    ) -> BatchResult:
        """Records of any of the three types; see :meth:`process`."""
        records: list[Record | None] = []
        early: dict[int, Exception] = {}
        for i, envelope in enumerate(envelopes):
            try:
                records.append(record_of(envelope))
            except ValueError as exc:
                records.append(None)
                early[i] = exc
        valid = [(i, r) for i, r in enumerate(records) if r is not None]
        result = await self.process(
            [r for _, r in valid], [scopes[i] for i, _ in valid] if scopes else None
        )
        errors: list[Exception | None] = [early.get(i) for i in range(len(envelopes))]
        for (i, _), error in zip(valid, result.errors, strict=True):
            errors[i] = error
        return BatchResult(errors, result.discussions, result.new_messages)

    async def process(
        self, records: Sequence[Record], scopes: Sequence[Scope] | None = None
    ) -> BatchResult:
        """Stores a batch and publishes its events (see the module's docstring).

        ``scopes`` (one per record) are entered while a discussion's events are
        published, the last record's of that discussion: its trace context then goes
        with the events. Raises when the batch as a whole could not be stored or
        published; records that could not be applied are in the result.
        """
        errors: list[Exception | None] = [None] * len(records)
        if not records:
            return BatchResult(errors, 0, 0)
        now = self._clock()
        ids = [discussion_of(r) for r in records]
        unique = list(dict.fromkeys(ids))
        stored, outbound = await asyncio.gather(
            self._store.load_discussions(unique),
            self._store.load_messages(
                [
                    outbound_message_id(r.discussion_id, r.command_id)
                    for r in records
                    if isinstance(r, DeliveryResult)
                ]
            ),
        )
        # Marks of stored discussions only: a mark whose discussion was never stored
        # (the crash came before the discussions' write) names only events the records
        # produce again, as new, when applied to a discussion that does not exist yet.
        pending = await self._store.load_pending([did for did in unique if did in stored])
        drafts = {did: Draft.of(did, stored.get(did), pending.get(did)) for did in unique}
        scope_of: dict[str, Scope] = {}
        for i, (record, did) in enumerate(zip(records, ids, strict=True)):
            before = drafts[did].copy()
            try:
                self._apply(drafts[did], record, outbound, now)
            except NoSuchDiscussion as exc:
                errors[i] = UnknownDiscussion(str(exc))
                drafts[did] = before
            except Exception as exc:  # a bug or poison record: this record only
                errors[i] = exc
                drafts[did] = before
            if scopes is not None:
                scope_of[did] = scopes[i]
        for draft in drafts.values():
            draft.finish(self._retention, now)
        await self._store.write(list(drafts.values()), now)
        due = [d for d in drafts.values() if d.exists and d.pending_entries()]
        await asyncio.gather(*(self._publish(d, scope_of.get(d.discussion_id)) for d in due))
        await self._store.clear_pending([d.discussion_id for d in due])
        return BatchResult(
            errors,
            discussions=len(unique),
            new_messages=sum(d.new_messages for d in drafts.values()),
        )

    def _apply(
        self, draft: Draft, record: Record, outbound: dict[str, dict[str, Any]], now: datetime
    ) -> None:
        if isinstance(record, RawThreadSnapshot):
            added = draft.apply_snapshot(record, now)
            log.debug(
                "snapshot normalized", discussion_id=draft.discussion_id, new_messages=len(added)
            )
        elif isinstance(record, DeliveryResult):
            stored = outbound.get(outbound_message_id(record.discussion_id, record.command_id))
            changed = draft.apply_delivery(record, stored)
            log.debug(
                "delivery recorded",
                discussion_id=record.discussion_id,
                command_id=record.command_id,
                state=record.state.value,
                changed=changed,
            )
        else:
            opened = draft.apply_alert(alerts.alert_discussion(record), record.buyer, now)
            log.debug(
                "alert opened" if opened else "alert already open",
                discussion_id=draft.discussion_id,
                kind=record.kind.value,
            )

    async def _publish(self, draft: Draft, scope: Scope | None = None) -> None:
        """Publishes the discussion's events not yet on Kafka, oldest first, in one
        acknowledged round trip."""
        with scope() if scope is not None else contextlib.nullcontext():
            discussion = draft.discussion()
            due: list[Envelope[Any]] = []
            if draft.created_pending:
                due.append(events.discussion_created(discussion))
            pending = draft.pending_messages()
            docs = {mid: draft.messages[mid] for mid, _ in pending if mid in draft.messages}
            missing = [mid for mid, _ in pending if mid not in docs]
            if missing:  # left by an earlier pass: read back by _id
                docs.update(await self._store.load_messages(missing))
            messages = sorted(
                (MessageDocument.model_validate(doc) for doc in docs.values()),
                key=lambda m: (m.sent_at, m.id),
            )
            for message in messages:
                due.extend(events.message_events(discussion, message))
            await self._sink.emit(*due)

    # ------------------------------------------------------------------ sweeper

    async def publish_pending(self, discussion_id: str) -> None:
        """Publishes every event not yet on Kafka for this discussion, oldest first."""
        stored, pending = await asyncio.gather(
            self._store.load_discussions([discussion_id]),
            self._store.load_pending([discussion_id]),
        )
        if discussion_id in stored:
            draft = Draft.of(discussion_id, stored[discussion_id], pending.get(discussion_id))
            await self._publish(draft)

    async def sweep_pending(self, older_than: datetime, limit: int = 100) -> int:
        """Publishes the events of discussions marked pending before ``older_than``.

        A mark that old outlived the pass that made it (a crash, or a publish that
        failed): the record will not come back if its offset was committed, and the
        discussion may get no other record for days. Each mark is claimed first, so
        two workers' sweepers never publish the same discussion at once; a claimed mark
        left by a crashed sweeper is old again one grace period later. Returns how many
        discussions were swept.
        """
        swept = 0
        for discussion_id, marked in await self._store.stale_pending(older_than, limit):
            claimed = self._clock()
            if not await self._store.claim_pending(discussion_id, marked, claimed):
                continue  # renewed by a new record, or another sweeper has it
            await self.publish_pending(discussion_id)
            await self._store.release_pending(discussion_id, claimed)
            swept += 1
        if swept:
            log.info("pending events swept", discussions=swept)
        return swept

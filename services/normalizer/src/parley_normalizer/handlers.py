"""The normalizer's service layer: one handler per record type, thin by design.

Each handler is idempotent: it can run again on the same record after a crash
and ends in the same state, publishing whatever events are still pending.

Before its writes a handler marks the discussion as having events pending, and
clears the mark once they are published. A crash (or a broker outage) in between
leaves the mark; :meth:`Normalizer.sweep_pending`, run by a timer, publishes what such
marks point at, so an event never waits for the discussion's next record.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from parley_platform.logging import get_logger
from parley_platform.streams import Unprocessable
from parley_schemas import (
    DELIVERY_RESULT,
    ORDER_ALERT,
    THREAD_SNAPSHOT,
    DeliveryResult,
    Direction,
    DiscussionKey,
    Envelope,
    OrderAlert,
    Participant,
    RawThreadSnapshot,
    utcnow,
)
from parley_store import DiscussionDocument

from . import events
from .domain import alerts, threads
from .domain.retention import RetentionPolicies, review
from .ports import DiscussionStore, EventSink

log = get_logger(__name__)


class UnknownDiscussion(Unprocessable):
    """A delivery result for a discussion the normalizer never built: replies are only
    accepted for stored discussions, so waiting will not make it appear."""


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

    async def handle(self, envelope: Envelope[Any]) -> None:
        if envelope.type == THREAD_SNAPSHOT.name:
            await self.on_snapshot(envelope.data)
        elif envelope.type == DELIVERY_RESULT.name:
            await self.on_delivery(envelope.data)
        elif envelope.type == ORDER_ALERT.name:
            await self.on_alert(envelope.data)
        else:  # the codec already refuses types foreign to the topic
            raise ValueError(f"normalizer does not handle {envelope.type}")

    async def on_snapshot(self, snapshot: RawThreadSnapshot) -> None:
        discussion_id = DiscussionKey(
            store_id=snapshot.store_id,
            marketplace=snapshot.marketplace,
            thread_id=snapshot.thread_id,
        ).discussion_id
        marked = await self._mark(discussion_id)
        created = await self._store.upsert_discussion(snapshot)
        inserted = await self._store.add_messages(discussion_id, snapshot.messages)
        if not created and any(m.direction is Direction.INBOUND for m in inserted):
            await self._store.mark_unread(discussion_id)
        await self._settle(discussion_id, threads.customer(snapshot))
        log.info(
            "snapshot normalized",
            discussion_id=discussion_id,
            created=created,
            new_messages=len(inserted),
        )
        await self.publish_pending(discussion_id, marked)

    async def on_delivery(self, result: DeliveryResult) -> None:
        if await self._store.get_discussion(result.discussion_id) is None:
            raise UnknownDiscussion(f"no discussion {result.discussion_id} for {result.command_id}")
        marked = await self._mark(result.discussion_id)
        await self._store.record_delivery(result)
        await self._settle(result.discussion_id, customer=None)
        log.info(
            "delivery recorded",
            discussion_id=result.discussion_id,
            command_id=result.command_id,
            state=result.state.value,
        )
        await self.publish_pending(result.discussion_id, marked)

    async def on_alert(self, alert: OrderAlert) -> None:
        """Opens the alert's draft discussion once; a replay finds it and adds nothing."""
        opened = alerts.alert_discussion(alert)
        marked = await self._mark(opened.discussion_id)
        created = await self._store.open_discussion(opened)
        inserted = await self._store.add_messages(opened.discussion_id, opened.messages)
        await self._settle(opened.discussion_id, alert.buyer)
        log.info(
            "alert opened" if created else "alert already open",
            discussion_id=opened.discussion_id,
            kind=alert.kind.value,
            new_messages=len(inserted),
        )
        await self.publish_pending(opened.discussion_id, marked)

    async def _settle(self, discussion_id: str, customer: Participant | None) -> None:
        """What follows any write to a discussion: summary, customer link, retention."""
        discussion = await self._store.refresh_summary(discussion_id)
        if discussion is None:
            return
        now = self._clock()
        if customer is not None:
            await self._link_customer(discussion, customer, now)
        retention = review(discussion, self._retention, now)
        if not retention.same_as(discussion):
            await self._store.set_retention(discussion_id, retention)

    async def _link_customer(
        self, discussion: DiscussionDocument, person: Participant, now: datetime
    ) -> None:
        """F8: the first identified buyer becomes the discussion's customer, for good."""
        if discussion.customer_id is not None or not (person.marketplace_id or "").strip():
            return
        customer_id = await self._store.ensure_customer(
            discussion.store_id, discussion.marketplace, person, now
        )
        await self._store.link_customer(discussion.id, customer_id)

    async def _mark(self, discussion_id: str) -> datetime:
        marked = self._clock()
        await self._store.mark_pending(discussion_id, marked)
        return marked

    async def publish_pending(self, discussion_id: str, marked: datetime | None = None) -> None:
        """Publishes every event not yet on Kafka for this discussion, oldest first, then
        clears the pending mark made at ``marked`` (if the discussion was marked)."""
        discussion = await self._store.get_discussion(discussion_id)
        if discussion is not None:
            if not discussion.created_event_published:
                await self._sink.emit(events.discussion_created(discussion))
                await self._store.mark_created_published(discussion_id)
            for message in await self._store.unpublished_messages(discussion_id):
                await self._sink.emit(events.message_event(discussion, message))
                await self._store.mark_published(message.id, message.event_version)
        if marked is not None:
            await self._store.clear_pending(discussion_id, marked)

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
            await self.publish_pending(discussion_id, claimed)
            swept += 1
        if swept:
            log.info("pending events swept", discussions=swept)
        return swept

"""The retention sweeper (F7): deletes expired discussions with their messages.

Why a sweeper: the normalizer computes ``expires_at`` whenever it writes a
discussion, but the status that decides the retention period is the gateway's, and
a discussion nobody writes to must still go when its time comes. On MongoDB alone a
TTL index on ``expires_at`` could do the deleting; FerretDB (the local stack) has no
TTL indexes, and a TTL index would delete discussions without their messages (they
live in another collection) anyway. So the normalizer's workers run :func:`sweep`
on a timer (``RETENTION_SWEEP_INTERVAL_SECONDS``), on MongoDB and FerretDB alike.

Each sweep first reviews the discussions whose status changed since retention last
saw them (the new status picks the period and restarts the clock), then deletes
those whose expiry has passed, reviewing each once more right before: a policy
that was lengthened since its expiry was stored never deletes it early.

Every worker sweeps (Faust runs timers on each one; there is no leader here): the
steps are idempotent and each deletion is conditional, so overlapping sweeps only
repeat work. Customers, delivery records and stored files are not touched.

Each deletion is announced (``com.parley.discussion.deleted.v1``) by the sweeper that
made it, so consumers forget the discussion too (docs/events.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from parley_platform.logging import get_logger
from parley_store import DiscussionStatus

from . import events
from .adapters.mongo_retention import MongoRetentionStore
from .domain.retention import RetentionPolicies, review
from .ports import EventSink, RetentionStore

log = get_logger(__name__)


class RetentionSweeper:
    def __init__(
        self, store: RetentionStore, policies: RetentionPolicies, sink: EventSink | None = None
    ) -> None:
        """``sink``: where deletions are announced; None announces nothing."""
        self._store = store
        self._policies = policies
        self._sink = sink

    async def sweep(self, now: datetime) -> int:
        """One pass; returns how many discussions were deleted."""
        reviewed = await self._review_status_changes(now)
        deleted = 0
        async for page in self._store.expired(now):
            for discussion in page:
                retention = review(discussion, self._policies, now)
                if not retention.same_as(discussion):
                    await self._store.set_retention(discussion.id, retention)
                if retention.is_expired(now) and await self._store.purge(
                    discussion.id, retention.status, now
                ):
                    deleted += 1
                    if self._sink is not None:
                        gone = discussion.model_copy(update={"status": retention.status})
                        await self._sink.emit(
                            events.discussion_deleted(gone, retention.expires_at, now)
                        )
        if reviewed or deleted:
            log.info("retention swept", reviewed=reviewed, deleted=deleted)
        return deleted

    async def _review_status_changes(self, now: datetime) -> int:
        reviewed = 0
        for status in DiscussionStatus:
            async for page in self._store.unreviewed(status):
                for discussion in page:
                    retention = review(discussion, self._policies, now)
                    await self._store.set_retention(discussion.id, retention)
                    reviewed += 1
        return reviewed


async def sweep(
    db: AsyncDatabase[Any],
    now: datetime,
    policies: RetentionPolicies | None = None,
    sink: EventSink | None = None,
) -> int:
    """Reviews and deletes what has expired at ``now``, announcing each deletion to
    ``sink``; returns the number deleted."""
    sweeper = RetentionSweeper(MongoRetentionStore(db), policies or RetentionPolicies(), sink)
    return await sweeper.sweep(now)

"""What the normalizer's handlers need from the outside world."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any, Protocol

from parley_schemas import Envelope
from parley_store import DiscussionDocument, DiscussionStatus

from .domain.retention import Retention
from .domain.state import Draft


class DiscussionStore(Protocol):
    """Every call reads or writes documents by ``_id`` only (see domain.state for why),
    many at once: one call per batch, not per record."""

    async def load_discussions(self, discussion_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The stored discussions among these ids (absent ones are left out), with the
        normalizer's bookkeeping fields filled in (see domain.state)."""
        ...

    async def load_messages(self, message_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The stored messages among these ids."""
        ...

    async def load_pending(self, discussion_ids: Sequence[str]) -> dict[str, list[str]]:
        """The entries of these discussions' pending marks (events not yet on Kafka)."""
        ...

    async def write(self, drafts: Sequence[Draft], marked_at: datetime) -> None:
        """Pending marks (each draft's events to publish, ``touched`` = ``marked_at``),
        customers, messages, then each discussion: the commit point, whose bookkeeping
        names only messages already stored and events already in its mark."""

    # A per-discussion mark of the events to publish, written before a batch's writes
    # and removed once they are out: what a crash leaves, the sweeper finds by age.
    async def clear_pending(self, discussion_ids: Sequence[str]) -> None: ...

    async def release_pending(self, discussion_id: str, marked: datetime) -> None:
        """Removes the mark made at ``marked``; a mark renewed since stays (sweeper)."""

    async def stale_pending(self, before: datetime, limit: int) -> list[tuple[str, datetime]]:
        """Up to ``limit`` marks (discussion id, when) last renewed before ``before``."""
        ...

    async def claim_pending(self, discussion_id: str, marked: datetime, at: datetime) -> bool:
        """Renews the mark made at ``marked`` to ``at``, if no one renewed it meanwhile:
        of several sweepers, one takes a discussion."""
        ...


class RetentionStore(Protocol):
    def unreviewed(self, status: DiscussionStatus) -> AsyncIterator[list[DiscussionDocument]]:
        """Pages of discussions whose status retention has not reviewed yet."""

    def expired(self, now: datetime) -> AsyncIterator[list[DiscussionDocument]]:
        """Pages of discussions whose stored expiry is at or before ``now``."""

    async def set_retention(self, discussion_id: str, retention: Retention) -> None: ...

    async def purge(self, discussion_id: str, status: DiscussionStatus, now: datetime) -> bool:
        """Deletes the discussion and its messages if it is still expired with that
        status; True when it was deleted."""


class EventSink(Protocol):
    async def emit(self, *envelopes: Envelope[Any]) -> None:
        """Publishes them in order; returns once all are acknowledged."""

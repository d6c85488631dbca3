"""What the normalizer's handlers need from the outside world."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any, Protocol

from parley_schemas import DeliveryResult, Envelope, Participant, RawMessage, RawThreadSnapshot
from parley_store import DiscussionDocument, DiscussionStatus, MessageDocument

from .domain.alerts import AlertDiscussion
from .domain.retention import Retention


class DiscussionStore(Protocol):
    async def upsert_discussion(self, snapshot: RawThreadSnapshot) -> bool:
        """Writes the synced fields; returns True when the discussion is new."""

    async def open_discussion(self, opened: AlertDiscussion) -> bool:
        """Creates a draft discussion unless it exists; True when it is new."""

    async def get_discussion(self, discussion_id: str) -> DiscussionDocument | None: ...

    async def add_messages(
        self, discussion_id: str, messages: Sequence[RawMessage]
    ) -> list[MessageDocument]:
        """Inserts the messages not seen before; returns those inserted."""

    async def mark_unread(self, discussion_id: str) -> None: ...

    async def record_delivery(self, result: DeliveryResult) -> MessageDocument | None:
        """Upserts the outbound message of a reply; None when the state is stale."""

    async def refresh_summary(self, discussion_id: str) -> DiscussionDocument | None:
        """Recomputes last message time, preview and count from the messages; returns
        the discussion as it is now (None if it does not exist)."""

    async def ensure_customer(
        self, store_id: str, marketplace: str, person: Participant, now: datetime
    ) -> str:
        """Creates the customer unless known; returns its id either way."""

    async def link_customer(self, discussion_id: str, customer_id: str) -> bool:
        """Links the discussion unless it already has a customer; True when linked."""

    async def set_retention(self, discussion_id: str, retention: Retention) -> None: ...

    async def unpublished_messages(self, discussion_id: str) -> list[MessageDocument]: ...

    async def mark_published(self, message_id: str, version: int) -> None: ...

    async def mark_created_published(self, discussion_id: str) -> None: ...

    # A per-discussion mark that events may be pending, made before a record's writes
    # and cleared once they are out: what a crash leaves, the sweeper finds by age.
    async def mark_pending(self, discussion_id: str, at: datetime) -> None: ...

    async def clear_pending(self, discussion_id: str, marked: datetime) -> None:
        """Removes the mark made at ``marked``; a mark renewed since stays."""

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
    async def emit(self, envelope: Envelope[Any]) -> None: ...

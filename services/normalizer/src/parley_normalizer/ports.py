"""What the normalizer's handlers need from the outside world."""

from __future__ import annotations

from typing import Any, Protocol

from parley_schemas import DeliveryResult, Envelope, RawThreadSnapshot
from parley_store import DiscussionDocument, MessageDocument


class DiscussionStore(Protocol):
    async def upsert_discussion(self, snapshot: RawThreadSnapshot) -> bool:
        """Writes the synced fields; returns True when the discussion is new."""

    async def get_discussion(self, discussion_id: str) -> DiscussionDocument | None: ...

    async def add_synced_messages(self, snapshot: RawThreadSnapshot) -> list[MessageDocument]:
        """Inserts the messages not seen before; returns those inserted."""

    async def mark_unread(self, discussion_id: str) -> None: ...

    async def record_delivery(self, result: DeliveryResult) -> MessageDocument | None:
        """Upserts the outbound message of a reply; None when the state is stale."""

    async def refresh_summary(self, discussion_id: str) -> None:
        """Recomputes last message time, preview and count from the messages."""

    async def unpublished_messages(self, discussion_id: str) -> list[MessageDocument]: ...

    async def mark_published(self, message_id: str, version: int) -> None: ...

    async def mark_created_published(self, discussion_id: str) -> None: ...


class EventSink(Protocol):
    async def emit(self, envelope: Envelope[Any]) -> None: ...

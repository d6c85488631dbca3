"""In-memory fakes of the gateway's ports, with the same semantics as the adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from parley_gateway.bootstrap import Bootstrap, Runtime
from parley_gateway.config import GatewaySettings
from parley_gateway.domain import DiscussionFilters, Position, Scope, StatusChange
from parley_gateway.ports import CommandNotQueued
from parley_gateway.service import DiscussionService
from parley_schemas import (
    DeliveryState,
    Direction,
    DiscussionKey,
    Envelope,
    Participant,
    ParticipantRole,
    ReplyCommand,
)
from parley_store import (
    DeliveryInfo,
    DiscussionDocument,
    DiscussionStatus,
    MessageDocument,
)

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def discussion(
    thread_id: str,
    *,
    store_id: str = "store-1",
    marketplace: str = "carrefour",
    minutes: int | None = 0,
    status: DiscussionStatus = DiscussionStatus.NEW,
    read: bool = False,
) -> DiscussionDocument:
    key = DiscussionKey(store_id=store_id, marketplace=marketplace, thread_id=thread_id)
    return DiscussionDocument(
        id=key.discussion_id,
        key=str(key),
        store_id=store_id,
        marketplace=marketplace,
        family="mirakl",
        channel="messages",
        thread_id=thread_id,
        subject=f"About {thread_id}",
        participants=[Participant(role=ParticipantRole.CUSTOMER, name="Ana")],
        created_at=T0,
        last_message_at=None if minutes is None else T0 + timedelta(minutes=minutes),
        last_message_preview="Hello",
        message_count=1,
        status=status,
        read=read,
    )


def message(
    doc: DiscussionDocument, mid: str, minutes: int, *, outbound: bool = False
) -> MessageDocument:
    return MessageDocument(
        id=f"{doc.id}-{mid}",
        discussion_id=doc.id,
        direction=Direction.OUTBOUND if outbound else Direction.INBOUND,
        sender=Participant(role=ParticipantRole.MERCHANT if outbound else ParticipantRole.CUSTOMER),
        recipients=[ParticipantRole.CUSTOMER] if outbound else [ParticipantRole.MERCHANT],
        body=f"message {mid}",
        sent_at=T0 + timedelta(minutes=minutes),
        delivery=DeliveryInfo(state=DeliveryState.SENT, attempts=1, updated_at=T0)
        if outbound
        else None,
    )


class InMemoryDiscussions:
    def __init__(self, *docs: DiscussionDocument) -> None:
        self.discussions = {d.id: d for d in docs}
        self.messages: list[MessageDocument] = []
        self.fail_status_change = False
        self.fail_ping = False

    def add_messages(self, *messages: MessageDocument) -> None:
        self.messages.extend(messages)

    def _visible(self, scope: Scope, discussion_id: str) -> DiscussionDocument | None:
        doc = self.discussions.get(discussion_id)
        return doc if doc is not None and scope.allows(doc.store_id) else None

    async def find_page(
        self, scope: Scope, filters: DiscussionFilters, after: Position | None, limit: int
    ) -> list[DiscussionDocument]:
        stores = scope.narrow(filters.store_ids)

        def wanted(d: DiscussionDocument) -> bool:
            return (
                (stores is None or d.store_id in stores)
                and (not filters.marketplaces or d.marketplace in filters.marketplaces)
                and (not filters.statuses or d.status in filters.statuses)
                and (filters.read is None or d.read is filters.read)
                and (after is None or Position.of(d).sort_key() < after.sort_key())
            )

        found = sorted(
            (d for d in self.discussions.values() if wanted(d)),
            key=lambda d: Position.of(d).sort_key(),
            reverse=True,
        )
        return found[:limit]

    async def get(self, scope: Scope, discussion_id: str) -> DiscussionDocument | None:
        return self._visible(scope, discussion_id)

    async def mark_read(self, scope: Scope, discussion_id: str) -> DiscussionDocument | None:
        doc = self._visible(scope, discussion_id)
        if doc is None:
            return None
        self.discussions[doc.id] = doc = doc.model_copy(update={"read": True})
        return doc

    async def messages_of(self, discussion: DiscussionDocument) -> list[MessageDocument]:
        mine = [m for m in self.messages if m.discussion_id == discussion.id]
        return sorted(mine, key=lambda m: (m.sent_at, m.id))

    async def change_status(self, scope: Scope, discussion_id: str, change: StatusChange) -> bool:
        if self.fail_status_change:
            raise ConnectionError("store went away")
        doc = self._visible(scope, discussion_id)
        if doc is None or not change.applies_to(doc.status):
            return False
        self.discussions[doc.id] = doc.model_copy(update={"status": change.to})
        return True

    async def ping(self) -> None:
        if self.fail_ping:
            raise ConnectionError("no server")


class RecordingPublisher:
    def __init__(self) -> None:
        self.published: list[Envelope[ReplyCommand]] = []
        self.fail = False

    async def publish_reply(self, envelope: Envelope[ReplyCommand]) -> None:
        if self.fail:
            raise CommandNotQueued("broker unavailable")
        self.published.append(envelope)


def fake_bootstrap(service: DiscussionService) -> Bootstrap:
    """A bootstrap for create_app that wires the given service instead of real adapters."""

    @asynccontextmanager
    async def wire(_: GatewaySettings) -> AsyncIterator[Runtime]:
        yield Runtime(service=service)

    return wire

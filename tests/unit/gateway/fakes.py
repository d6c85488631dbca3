"""In-memory fakes of the gateway's ports, with the same semantics as the adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from pymongo.errors import ServerSelectionTimeoutError
from unit.gateway.autoresponder_fakes import autoresponder_service

from parley_gateway.accounts import AccessService
from parley_gateway.autoresponder_service import AutoresponderService
from parley_gateway.bootstrap import Bootstrap, Runtime
from parley_gateway.config import GatewaySettings
from parley_gateway.domain import (
    SETTLED,
    Account,
    DiscussionFilters,
    Position,
    Scope,
    StatusChange,
    StoredKey,
    WorkflowUpdate,
)
from parley_gateway.ports import AccountExists, KeyIdTaken, WorkflowWrite
from parley_gateway.service import DiscussionService
from parley_schemas import (
    AttachmentRef,
    DeliveryState,
    Direction,
    DiscussionKey,
    Envelope,
    Participant,
    ParticipantRole,
    ReplyCommand,
    ResyncRequest,
)
from parley_store import (
    DeliveryInfo,
    DiscussionDocument,
    DiscussionStatus,
    DiscussionType,
    FileDownload,
    FileNotStored,
    MessageDocument,
)

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def discussion(
    thread_id: str,
    *,
    store_id: str = "store-1",
    marketplace: str = "carrefour",
    family: str = "mirakl",
    minutes: int | None = 0,
    status: DiscussionStatus = DiscussionStatus.NEW,
    read: bool = False,
    type: DiscussionType = DiscussionType.ORDER,
    order_id: str | None = None,
    subject: str | None = None,
    participants: Sequence[Participant] = (Participant(role=ParticipantRole.CUSTOMER, name="Ana"),),
) -> DiscussionDocument:
    key = DiscussionKey(store_id=store_id, marketplace=marketplace, thread_id=thread_id)
    return DiscussionDocument(
        id=key.discussion_id,
        key=str(key),
        store_id=store_id,
        marketplace=marketplace,
        family=family,
        channel="messages",
        thread_id=thread_id,
        subject=subject if subject is not None else f"About {thread_id}",
        type=type,
        order_id=order_id,
        participants=list(participants),
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

    def _matching(self, scope: Scope, filters: DiscussionFilters) -> list[DiscussionDocument]:
        stores = scope.narrow(filters.store_ids)
        return [
            d
            for d in self.discussions.values()
            if (stores is None or d.store_id in stores) and _matches(d, filters)
        ]

    async def find_page(
        self, scope: Scope, filters: DiscussionFilters, after: Position | None, limit: int
    ) -> list[DiscussionDocument]:
        found = sorted(
            (
                d
                for d in self._matching(scope, filters)
                if after is None or Position.of(d).sort_key() < after.sort_key()
            ),
            key=lambda d: Position.of(d).sort_key(),
            reverse=True,
        )
        return found[:limit]

    async def count_by_status(
        self, scope: Scope, filters: DiscussionFilters
    ) -> dict[DiscussionStatus, int]:
        counts: dict[DiscussionStatus, int] = {}
        for d in self._matching(scope, filters):
            counts[d.status] = counts.get(d.status, 0) + 1
        return counts

    async def count_at_risk(
        self, scope: Scope, filters: DiscussionFilters, due_before: datetime
    ) -> int:
        return sum(
            1
            for d in self._matching(scope, filters)
            if _due_before(d, due_before) and d.status not in SETTLED
        )

    async def get(self, scope: Scope, discussion_id: str) -> DiscussionDocument | None:
        return self._visible(scope, discussion_id)

    async def mark_read(self, scope: Scope, discussion_id: str) -> WorkflowWrite | None:
        doc = self._visible(scope, discussion_id)
        if doc is None:
            return None
        self.discussions[doc.id] = after = doc.model_copy(update={"read": True})
        return WorkflowWrite(doc, after)

    async def messages_of(self, discussion: DiscussionDocument) -> list[MessageDocument]:
        mine = [m for m in self.messages if m.discussion_id == discussion.id]
        return sorted(mine, key=lambda m: (m.sent_at, m.id))

    async def attachment_of(
        self, discussion: DiscussionDocument, file_id: str
    ) -> AttachmentRef | None:
        return next(
            (
                a
                for m in self.messages
                if m.discussion_id == discussion.id
                for a in m.attachments
                if a.file_id == file_id
            ),
            None,
        )

    async def change_status(
        self, scope: Scope, discussion_id: str, change: StatusChange
    ) -> WorkflowWrite | None:
        if self.fail_status_change:
            raise ConnectionError("store went away")
        doc = self._visible(scope, discussion_id)
        if doc is None or not change.applies_to(doc.status):
            return None
        self.discussions[doc.id] = after = doc.model_copy(update={"status": change.to})
        return WorkflowWrite(doc, after)

    async def update_workflow(
        self, scope: Scope, discussion_id: str, update: WorkflowUpdate
    ) -> WorkflowWrite | None:
        doc = self._visible(scope, discussion_id)
        if doc is None:
            return None
        self.discussions[doc.id] = after = DiscussionDocument.model_validate(
            {**doc.model_dump(by_alias=True), **update.fields()}
        )
        return WorkflowWrite(doc, after)

    async def set_status_many(
        self, scope: Scope, discussion_ids: Sequence[str], status: DiscussionStatus
    ) -> dict[str, WorkflowWrite]:
        found: dict[str, WorkflowWrite] = {}
        for i in discussion_ids:
            doc = self._visible(scope, i)
            if doc is not None:
                self.discussions[i] = after = doc.model_copy(update={"status": status})
                found[i] = WorkflowWrite(doc, after)
        return found

    async def ping(self) -> None:
        if self.fail_ping:
            raise ConnectionError("no server")


def _matches(d: DiscussionDocument, f: DiscussionFilters) -> bool:
    def contains(text: str | None, part: str) -> bool:
        return text is not None and part.lower() in text.lower()

    return (
        (not f.marketplaces or d.marketplace in f.marketplaces)
        and (not f.statuses or d.status in f.statuses)
        and (f.read is None or d.read is f.read)
        and (not f.types or d.type in f.types)
        and (not f.order_ids or d.order_id in f.order_ids)
        and f.tags <= set(d.tags)  # every tag asked for
        and (
            f.participant is None
            or any(
                contains(p.name, f.participant) or contains(p.email, f.participant)
                for p in d.participants
            )
        )
        and (f.subject is None or contains(d.subject, f.subject))
        and (f.since is None or (d.last_message_at is not None and d.last_message_at >= f.since))
        and (f.until is None or (d.last_message_at is not None and d.last_message_at < f.until))
        and (f.reply_due_before is None or _due_before(d, f.reply_due_before))
    )


def _due_before(d: DiscussionDocument, moment: datetime) -> bool:
    return d.reply_due_at is not None and d.reply_due_at < moment


class InMemoryFiles:
    """Stored files by id, served in small chunks like GridFS does."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[str, str, bytes]] = {}

    def add(self, file_id: str, name: str, content_type: str, content: bytes) -> None:
        self.files[file_id] = (name, content_type, content)

    async def download(self, file_id: str) -> FileDownload:
        if file_id not in self.files:
            raise FileNotStored(file_id)
        name, content_type, content = self.files[file_id]

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(content), 4):
                yield content[start : start + 4]

        return FileDownload(file_id, name, content_type, len(content), chunks())


class OutboxDown(ServerSelectionTimeoutError):
    """The command could not be stored for publishing: the outbox's MongoDB is down."""


class RecordingPublisher:
    def __init__(self) -> None:
        self.published: list[Envelope[ReplyCommand]] = []
        self.resyncs: list[Envelope[ResyncRequest]] = []
        self.fail = False

    async def publish_reply(self, envelope: Envelope[ReplyCommand]) -> None:
        if self.fail:
            raise OutboxDown("outbox not written")
        self.published.append(envelope)

    async def publish_resync(self, envelope: Envelope[ResyncRequest]) -> None:
        if self.fail:
            raise OutboxDown("outbox not written")
        self.resyncs.append(envelope)


class InMemoryAccounts:
    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.keys: dict[str, StoredKey] = {}

    async def add_account(self, account: Account) -> None:
        if account.id in self.accounts:
            raise AccountExists(account.id)
        self.accounts[account.id] = account

    async def get_account(self, account_id: str) -> Account | None:
        return self.accounts.get(account_id)

    async def list_accounts(self) -> list[Account]:
        return [self.accounts[k] for k in sorted(self.accounts)]

    async def list_keys(self, account_id: str) -> list[StoredKey]:
        keys = [k for k in self.keys.values() if k.account_id == account_id]
        return sorted(keys, key=lambda k: (k.created_at, k.key_id))

    async def add_key(self, key: StoredKey) -> None:
        if key.key_id in self.keys:
            raise KeyIdTaken(key.key_id)
        self.keys[key.key_id] = key

    async def get_key(self, key_id: str) -> StoredKey | None:
        return self.keys.get(key_id)

    async def revoke_key(self, key_id: str, revoked_at: datetime) -> bool:
        key = self.keys.get(key_id)
        if key is None:
            return False
        if key.revoked_at is None:
            self.keys[key_id] = replace(key, revoked_at=revoked_at)
        return True


PEPPER = b"unit-test-pepper"


def fake_bootstrap(
    service: DiscussionService,
    access: AccessService | None = None,
    autoresponders: AutoresponderService | None = None,
) -> Bootstrap:
    """A bootstrap for create_app that wires the given services instead of real adapters."""

    @asynccontextmanager
    async def wire(_: GatewaySettings) -> AsyncIterator[Runtime]:
        yield Runtime(
            service=service,
            access=access or AccessService(InMemoryAccounts(), PEPPER),
            autoresponders=autoresponders or autoresponder_service(),
        )

    return wire


ClientFor = Callable[..., httpx.AsyncClient]


@asynccontextmanager
async def started(app: FastAPI) -> AsyncIterator[ClientFor]:
    """Runs the app's lifespan and answers a maker of in-process clients,
    ``client_for(headers, base_url="http://gateway")``. The app's own errors come back
    as the 500 problem a server would answer, not as exceptions in the test."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)

    def client_for(
        headers: Mapping[str, str] | None = None, base_url: str = "http://gateway"
    ) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=transport, base_url=base_url, headers=headers)

    async with app.router.lifespan_context(app):
        yield client_for


class RecordingEvents:
    """The EventPublisher port in memory: what the service announced, in order."""

    def __init__(self) -> None:
        self.events: list[Envelope[Any]] = []
        self.fail = False

    async def publish(self, events: Sequence[Envelope[Any]]) -> None:
        if self.fail:
            raise ConnectionError("broker went away")
        self.events.extend(events)

"""Use cases of the gateway, independent of HTTP: list, count, open, reply, change the
workflow fields (one or many), ask for a resync.

The service takes the caller's :class:`Scope` on every call and hands it to every
query, so the API layer decides *who* the caller is and this layer what they may do.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from parley_gateway.domain import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    BulkOutcome,
    DiscussionFilters,
    Position,
    Scope,
    WorkflowUpdate,
    at_risk_before,
    check_marketplace_rules,
    clean_bulk_ids,
    clean_recipients,
    clean_reply_body,
    decode_cursor,
    encode_cursor,
    status_change_after,
)
from parley_gateway.files import FileService, check_attachments
from parley_gateway.ports import (
    CommandPublisher,
    DiscussionRepository,
    EventPublisher,
    FileStore,
    WorkflowWrite,
)
from parley_gateway.workflow_events import API, BULK, OPENED, REPLY, workflow_events
from parley_platform.logging import get_logger
from parley_schemas import (
    REPLY_REQUESTED,
    RESYNC_REQUESTED,
    DiscussionKey,
    Envelope,
    InvoiceDocument,
    ParticipantRole,
    ReplyAction,
    ReplyCommand,
    ResyncRequest,
    utcnow,
)
from parley_store import (
    DiscussionDocument,
    DiscussionStatus,
    FileDownload,
    FileNotStored,
    MessageDocument,
)

SOURCE = "/parley/gateway"

log = get_logger(__name__)


class DiscussionNotFound(LookupError):
    """No such discussion in the caller's scope."""

    def __init__(self, discussion_id: str) -> None:
        super().__init__(f"no discussion {discussion_id}")
        self.discussion_id = discussion_id


class AttachmentNotFound(LookupError):
    """No such attachment on the discussion's messages, or its file is not stored (yet)."""

    def __init__(self, discussion_id: str, file_id: str) -> None:
        super().__init__(f"no attachment {file_id} in discussion {discussion_id}")
        self.discussion_id = discussion_id
        self.file_id = file_id


@dataclass(frozen=True)
class DiscussionPage:
    items: list[DiscussionDocument]
    next_cursor: str | None


@dataclass(frozen=True)
class DiscussionThread:
    discussion: DiscussionDocument
    messages: list[MessageDocument]


@dataclass(frozen=True)
class ReplyRequest:
    body: str
    action: ReplyAction = ReplyAction.REPLY
    recipients: Sequence[ParticipantRole] = (ParticipantRole.CUSTOMER,)
    attachment_ids: Sequence[str] = ()  # files uploaded (POST /files) for the store


@dataclass(frozen=True)
class CheckedReply:
    """A reply that passed every rule, with the discussion it answers: what
    :meth:`DiscussionService.queue_reply` sends. Checking and queueing are two steps so a
    reply that carries a generated file (the order's invoice) is checked before the file
    is made and queued after, with no rule checked twice."""

    scope: Scope
    discussion: DiscussionDocument
    body: str
    action: ReplyAction
    recipients: list[ParticipantRole]
    attachment_ids: list[str]


@dataclass(frozen=True)
class QueuedReply:
    command_id: str
    discussion_id: str


@dataclass(frozen=True)
class QueuedResync:
    request_id: str
    discussion_id: str


@dataclass(frozen=True)
class BulkResult:
    discussion_id: str
    outcome: BulkOutcome


def new_command_id() -> str:
    return uuid.uuid4().hex


def key_of(discussion: DiscussionDocument) -> DiscussionKey:
    """The Kafka key of every record about the discussion: ``store:marketplace:thread``."""
    return DiscussionKey(
        store_id=discussion.store_id,
        marketplace=discussion.marketplace,
        thread_id=discussion.thread_id,
    )


class DiscussionService:
    def __init__(
        self,
        discussions: DiscussionRepository,
        commands: CommandPublisher,
        *,
        clock: Callable[[], datetime] = utcnow,
        command_ids: Callable[[], str] = new_command_id,
        files: FileStore | None = None,
        uploads: FileService | None = None,
        max_attachments: int = 10,
        events: EventPublisher | None = None,
        at_risk_window: timedelta = timedelta(hours=4),
    ) -> None:
        """``events``: where workflow changes are announced; None announces nothing
        (unit tests that do not look at events). ``at_risk_window``: how soon a reply
        due counts as "at risk" (overdue ones always do)."""
        self._events = events
        self._at_risk_window = at_risk_window
        self._uploads = uploads
        self._max_attachments = max_attachments
        self._discussions = discussions
        self._commands = commands
        self._files = files
        self._clock = clock
        self._command_ids = command_ids

    async def list_discussions(
        self,
        scope: Scope,
        filters: DiscussionFilters,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> DiscussionPage:
        """One page, newest activity first; raises InvalidCursor for a cursor not ours."""
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be within 1..{MAX_PAGE_SIZE}, got {limit}")
        after = decode_cursor(cursor) if cursor is not None else None
        # One extra item tells whether another page exists, so the last page never
        # carries a cursor that leads to an empty page.
        found = await self._discussions.find_page(scope, filters, after, limit + 1)
        items = found[:limit]
        more = len(found) > limit
        next_cursor = encode_cursor(Position.of(items[-1])) if more and items else None
        return DiscussionPage(items, next_cursor)

    async def count_by_status(
        self, scope: Scope, filters: DiscussionFilters
    ) -> dict[DiscussionStatus, int]:
        """Discussions per status for the inbox tabs: every status, zero included.

        The status filter is ignored, since the counts are what each status would show.
        """
        found = await self._discussions.count_by_status(scope, filters.without_statuses())
        return {status: found.get(status, 0) for status in DiscussionStatus}

    def at_risk_cutoff(self) -> datetime:
        """The moment before which a reply due counts as at risk, as of now: the inbox
        filters and highlights with it, so its view and its count agree with the
        configured window instead of a constant of its own."""
        return at_risk_before(self._clock(), self._at_risk_window)

    async def count_at_risk(
        self, scope: Scope, filters: DiscussionFilters, due_before: datetime | None = None
    ) -> int:
        """Discussions whose reply is overdue or due within the at-risk window, among
        those the filters (status aside) select, solved and closed ones left out.

        ``due_before``: the cutoff to count with (default: ``at_risk_cutoff()`` now), so a
        caller that also reports the cutoff reports the very one counted with."""
        if due_before is None:
            due_before = self.at_risk_cutoff()
        return await self._discussions.count_at_risk(scope, filters.without_statuses(), due_before)

    async def open_discussion(self, scope: Scope, discussion_id: str) -> DiscussionThread:
        """The discussion with its messages; opening it marks it read (F11).

        Read is set *before* the messages are fetched: a message arriving in between
        is then both shown and able to turn the discussion unread again.
        """
        write = await self._discussions.mark_read(scope, discussion_id)
        if write is None:
            raise DiscussionNotFound(discussion_id)
        await self._announce([write], OPENED)
        messages = await self._discussions.messages_of(write.after)
        return DiscussionThread(write.after, messages)

    async def open_attachment(self, scope: Scope, discussion_id: str, file_id: str) -> FileDownload:
        """A stored attachment of one of the discussion's messages (F11), as a stream.

        A file is served only through a discussion the caller may see and only if a
        message of that discussion carries it: knowing a file id is never enough. The
        name and type are those the message shows. Unlike opening the discussion,
        downloading does not mark it read.
        """
        discussion = await self._discussions.get(scope, discussion_id)
        if discussion is None:
            raise DiscussionNotFound(discussion_id)
        attachment = await self._discussions.attachment_of(discussion, file_id)
        if attachment is None:
            raise AttachmentNotFound(discussion_id, file_id)
        if self._files is None:
            raise RuntimeError("no file store is wired into the discussion service")
        try:
            stored = await self._files.download(file_id)
        except FileNotStored as exc:
            raise AttachmentNotFound(discussion_id, file_id) from exc
        return replace(
            stored,
            name=attachment.name or stored.name,
            content_type=attachment.content_type or stored.content_type,
        )

    async def request_reply(
        self, scope: Scope, discussion_id: str, reply: ReplyRequest, *, requested_by: str
    ) -> QueuedReply:
        """Checks the reply, then queues it (:meth:`check_reply`, :meth:`queue_reply`)."""
        checked = await self.check_reply(scope, discussion_id, reply)
        return await self.queue_reply(checked, requested_by=requested_by)

    async def check_reply(
        self, scope: Scope, discussion_id: str, reply: ReplyRequest, *, with_invoice: bool = False
    ) -> CheckedReply:
        """The reply against every rule (body, recipients, the marketplace's rules, the
        attachments): ReplyRejected or DiscussionNotFound, and nothing happens.
        ``with_invoice``: the order's invoice will be attached too (it counts)."""
        body = clean_reply_body(reply.body)
        recipients = clean_recipients(reply.recipients)
        discussion = await self._discussions.get(scope, discussion_id)
        if discussion is None:
            raise DiscussionNotFound(discussion_id)
        check_marketplace_rules(discussion.family, discussion.marketplace, body, recipients)
        attachment_ids = await check_attachments(
            self._uploads,
            discussion.store_id,
            reply.attachment_ids,
            self._max_attachments,
            with_invoice=with_invoice,
        )
        return CheckedReply(scope, discussion, body, reply.action, recipients, attachment_ids)

    async def queue_reply(
        self,
        checked: CheckedReply,
        *,
        requested_by: str,
        invoice: InvoiceDocument | None = None,
    ) -> QueuedReply:
        """Queues a checked reply for the responder, then applies its workflow effect.

        ``invoice``: a generated invoice the reply carries too (its file is the store's
        already); a family with a document channel (Mirakl OR74) also files it on the
        order, which defaults to the discussion's. The status changes only after the
        command is queued, so a failed publish leaves the discussion as it was.
        """
        discussion = checked.discussion
        attachment_ids = list(checked.attachment_ids)
        if invoice is not None and invoice.file_id not in attachment_ids:
            attachment_ids.append(invoice.file_id)
        key = key_of(discussion)
        command = ReplyCommand(
            command_id=self._command_ids(),
            discussion_id=discussion.id,
            store_id=discussion.store_id,
            marketplace=discussion.marketplace,
            thread_id=discussion.thread_id,
            action=checked.action,
            body=checked.body,
            recipients=checked.recipients,
            attachment_file_ids=attachment_ids,
            invoice=_invoice_of(invoice, discussion.order_id),
            requested_by=requested_by,
            requested_at=self._clock(),
        )
        await self._commands.publish_reply(
            Envelope[ReplyCommand](
                source=SOURCE, type=REPLY_REQUESTED.name, subject=str(key), data=command
            )
        )

        change = status_change_after(checked.action)
        try:
            changed = await self._discussions.change_status(checked.scope, discussion.id, change)
            await self._announce([changed] if changed else [], REPLY)
        except Exception:
            # The reply is queued and will be delivered: failing the request now would
            # invite a retry that sends it twice. The status is the lesser loss.
            log.exception(
                "reply queued but its status change failed",
                discussion_id=discussion.id,
                command_id=command.command_id,
                status=change.to.value,
            )
        log.info(
            "reply queued",
            discussion_id=discussion.id,
            command_id=command.command_id,
            action=checked.action.value,
        )
        return QueuedReply(command.command_id, discussion.id)

    async def update_workflow(
        self, scope: Scope, discussion_id: str, update: WorkflowUpdate
    ) -> DiscussionDocument:
        """Sets status, read, ticket id and/or tags, as given; answers the discussion."""
        write = await self._discussions.update_workflow(scope, discussion_id, update)
        if write is None:
            raise DiscussionNotFound(discussion_id)
        log.info("workflow fields set", discussion_id=discussion_id, fields=sorted(update.fields()))
        await self._announce([write], API)
        return write.after

    async def set_status_many(
        self, scope: Scope, discussion_ids: Sequence[str], status: DiscussionStatus
    ) -> list[BulkResult]:
        """One result per distinct id, in the order asked; ids outside the caller's scope
        are reported exactly like unknown ones and are never touched."""
        ids = clean_bulk_ids(discussion_ids)
        updated = await self._discussions.set_status_many(scope, ids, status)
        log.info("bulk status set", status=status.value, asked=len(ids), updated=len(updated))
        await self._announce([updated[i] for i in ids if i in updated], BULK)
        return [
            BulkResult(i, BulkOutcome.UPDATED if i in updated else BulkOutcome.NOT_FOUND)
            for i in ids
        ]

    async def request_resync(
        self, scope: Scope, discussion_id: str, *, requested_by: str
    ) -> QueuedResync:
        """Asks ingest to pull this discussion's thread from the marketplace now (F3)."""
        discussion = await self._discussions.get(scope, discussion_id)
        if discussion is None:
            raise DiscussionNotFound(discussion_id)
        request = ResyncRequest(
            request_id=self._command_ids(),
            store_id=discussion.store_id,
            marketplace=discussion.marketplace,
            thread_id=discussion.thread_id,
            requested_by=requested_by,
            requested_at=self._clock(),
        )
        # The discussion key, as ingest expects: the resync stays in order with
        # everything else about this discussion.
        await self._commands.publish_resync(
            Envelope[ResyncRequest](
                source=SOURCE,
                type=RESYNC_REQUESTED.name,
                subject=str(key_of(discussion)),
                data=request,
            )
        )
        log.info("resync queued", discussion_id=discussion.id, request_id=request.request_id)
        return QueuedResync(request.request_id, discussion.id)

    async def _announce(self, writes: Sequence[WorkflowWrite], cause: str) -> None:
        """Publishes what the writes changed (nothing for a write that changed nothing).

        The change is stored already and stays. The events go to the gateway's outbox
        (adapters/outbox_events.py), which publishes them now or once the broker is back;
        only a failure to store them there (the database gone right after the change)
        is logged here, not turned into a failed request: repeating the request would
        change nothing and so announce nothing either.
        """
        if self._events is None:
            return
        at = self._clock()
        events = [e for write in writes for e in workflow_events(write, cause=cause, at=at)]
        if not events:
            return
        try:
            await self._events.publish(events)
        except Exception:
            log.exception(
                "workflow change stored but not announced",
                events=[(e.type, e.data.discussion_id) for e in events],
            )

    async def check_ready(self) -> None:
        await self._discussions.ping()


def _invoice_of(invoice: InvoiceDocument | None, order_id: str | None) -> InvoiceDocument | None:
    if invoice is None or invoice.order_id or not order_id:
        return invoice
    return invoice.model_copy(update={"order_id": order_id})

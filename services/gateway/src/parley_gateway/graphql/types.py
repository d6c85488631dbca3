"""The GraphQL object types, enums and inputs, mapped from the same documents and
domain values as the REST models (parley_gateway.api.models), field for field."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import Enum

import strawberry

from parley_gateway.api.links import attachment_path
from parley_gateway.domain import BulkOutcome, DiscussionFilters
from parley_gateway.graphql.invoices import AttachedInvoiceType
from parley_gateway.service import BulkResult, DiscussionPage, DiscussionThread
from parley_schemas import (
    AttachmentRef,
    DeliveryStatus,
    Direction,
    Participant,
    ParticipantRole,
    ReplyAction,
)
from parley_store import (
    DeliveryInfo,
    DiscussionDocument,
    DiscussionStatus,
    DiscussionType,
    MessageDocument,
)

# The domain's own enums, exposed as they are: GraphQL values are the member names
# (NEW, REPLY_AND_SOLVE, …), so adding a member to the domain adds it here too.
DiscussionStatusEnum = strawberry.enum(DiscussionStatus, name="DiscussionStatus")
DiscussionTypeEnum = strawberry.enum(DiscussionType, name="DiscussionType")
ParticipantRoleEnum = strawberry.enum(ParticipantRole, name="ParticipantRole")
DirectionEnum = strawberry.enum(Direction, name="Direction")
DeliveryStateEnum = strawberry.enum(DeliveryStatus, name="DeliveryState")
ReplyActionEnum = strawberry.enum(ReplyAction, name="ReplyAction")
BulkOutcomeEnum = strawberry.enum(BulkOutcome, name="BulkOutcome")


@strawberry.enum(description="Who a reply goes to, where the marketplace allows a choice")
class Recipient(Enum):
    CUSTOMER = "customer"
    OPERATOR = "operator"

    @property
    def role(self) -> ParticipantRole:
        return ParticipantRole(self.value)


@strawberry.type(
    name="Organization",
    description="The company a participant acts for (B2B buyers), as the marketplace names it",
)
class OrganizationType:
    name: str | None
    id: str | None = strawberry.field(description="The marketplace's id for the company")


@strawberry.type(name="Participant")
class ParticipantType:
    role: ParticipantRole
    name: str | None
    email: str | None
    marketplace_id: str | None = strawberry.field(
        default=None, description="The marketplace's own id for this participant"
    )
    organization: OrganizationType | None = strawberry.field(
        default=None,
        description="The company the participant acts for, where the marketplace gives one",
    )

    @classmethod
    def of(cls, participant: Participant) -> ParticipantType:
        org = participant.organization
        return cls(
            role=participant.role,
            name=participant.name,
            email=participant.email,
            marketplace_id=participant.marketplace_id,
            organization=OrganizationType(name=org.name, id=org.id) if org else None,
        )


@strawberry.type(description="What a discussion is about, as the marketplace names it")
class Entity:
    type: str = strawberry.field(description="order, offer, product … (lower case)")
    id: str = strawberry.field(description="The marketplace's id of the order, offer or product")
    label: str | None = strawberry.field(description="The marketplace's label, if any")

    @classmethod
    def all_of(cls, doc: DiscussionDocument) -> list[Entity]:
        found = []
        for e in doc.entities:
            kind, entity_id = e.get("type"), e.get("id")
            if kind and entity_id:
                found.append(cls(type=kind, id=entity_id, label=e.get("label")))
        return found


@strawberry.type
class Attachment:
    name: str
    size: int | None
    content_type: str | None
    file_id: str | None = strawberry.field(description="Parley's stored file, once downloaded")
    url: str | None = strawberry.field(
        description="Path of the file on this API (GET with your API key); null until "
        "Parley has stored the file"
    )

    @classmethod
    def of(cls, attachment: AttachmentRef, discussion_id: str, root_path: str) -> Attachment:
        return cls(
            name=attachment.name,
            size=attachment.size,
            content_type=attachment.content_type,
            file_id=attachment.file_id,
            url=(
                attachment_path(discussion_id, attachment.file_id, root_path=root_path)
                if attachment.file_id
                else None
            ),
        )


@strawberry.type(description="Where a reply sent through Parley stands (F17)")
class Delivery:
    state: DeliveryStatus = strawberry.field(
        description="QUEUED, SENT, FAILED, or UNKNOWN: the last attempt may have reached the "
        "marketplace and it could not be confirmed; not sent again unless retried"
    )
    error: str | None = strawberry.field(
        description="Why delivery failed (in the marketplace's words), or why it is unknown"
    )
    attempts: int = strawberry.field(description="Attempts at the marketplace so far")
    retry: int = strawberry.field(description="How many times the merchant retried it")
    next_attempt_at: datetime | None = strawberry.field(
        default=None,
        description="Queued after a fault (rate limit, outage): when it will be tried next",
    )

    @classmethod
    def of(cls, delivery: DeliveryInfo) -> Delivery:
        return cls(
            state=DeliveryStatus.of(delivery.state, delivery.unconfirmed),
            error=delivery.error,
            attempts=delivery.attempts,
            retry=delivery.retry,
            next_attempt_at=delivery.next_attempt_at,
        )


@strawberry.type
class Message:
    id: strawberry.ID
    direction: Direction
    sender: ParticipantType
    recipients: list[ParticipantRole]
    body: str
    sent_at: datetime
    attachments: list[Attachment]
    delivery: Delivery | None = strawberry.field(
        description="Set on outbound replies sent through Parley; null otherwise"
    )

    @classmethod
    def of(cls, doc: MessageDocument, root_path: str) -> Message:
        outbound = doc.direction is Direction.OUTBOUND
        return cls(
            id=strawberry.ID(doc.id),
            direction=doc.direction,
            sender=ParticipantType.of(doc.sender),
            recipients=list(doc.recipients),
            body=doc.body,
            sent_at=doc.sent_at,
            attachments=[Attachment.of(a, doc.discussion_id, root_path) for a in doc.attachments],
            delivery=Delivery.of(doc.delivery) if outbound and doc.delivery else None,
        )


@strawberry.type(description="One row of the inbox")
class Discussion:
    id: strawberry.ID
    store_id: str
    marketplace: str
    channel: str = strawberry.field(description="The marketplace's channel, e.g. message_center")
    thread_id: str = strawberry.field(description="The marketplace's own thread id")
    subject: str | None
    type: DiscussionType
    status: DiscussionStatus
    read: bool
    order_id: str | None
    entities: list[Entity] = strawberry.field(
        description="What it is about: the order, offers or products the marketplace links"
    )
    participants: list[ParticipantType]
    last_message_at: datetime | None
    last_message_preview: str | None
    message_count: int
    merchant_ticket_id: str | None = strawberry.field(
        description="The merchant's own ticket id (assignMerchantDiscussionId)"
    )
    tags: list[str]
    reply_expected: bool = strawberry.field(
        description="The marketplace or the buyer waits for the shop's reply"
    )
    reply_due_at: datetime | None = strawberry.field(
        description="When the reply is due; null when none is expected"
    )

    @classmethod
    def of(cls, doc: DiscussionDocument) -> Discussion:
        return cls(
            id=strawberry.ID(doc.id),
            store_id=doc.store_id,
            marketplace=doc.marketplace,
            channel=doc.channel,
            thread_id=doc.thread_id,
            subject=doc.subject,
            type=doc.type,
            status=doc.status,
            read=doc.read,
            order_id=doc.order_id,
            entities=Entity.all_of(doc),
            participants=[ParticipantType.of(p) for p in doc.participants],
            last_message_at=doc.last_message_at,
            last_message_preview=doc.last_message_preview,
            message_count=doc.message_count,
            merchant_ticket_id=doc.merchant_ticket_id,
            tags=list(doc.tags),
            reply_expected=doc.reply_expected,
            reply_due_at=doc.reply_due_at,
        )


@strawberry.type(description="A discussion with its messages, oldest first")
class DiscussionDetail(Discussion):
    initiator: ParticipantRole | None
    created_at: datetime
    last_synced_at: datetime | None
    messages: list[Message]

    @classmethod
    def of_thread(cls, thread: DiscussionThread, root_path: str) -> DiscussionDetail:
        doc = thread.discussion
        summary = Discussion.of(doc)
        return cls(
            **{f.name: getattr(summary, f.name) for f in dataclasses.fields(Discussion)},
            initiator=doc.initiator,
            created_at=doc.created_at,
            last_synced_at=doc.last_synced_at,
            messages=[Message.of(m, root_path) for m in thread.messages],
        )


@strawberry.type(description="One page of the list, latest activity first")
class DiscussionConnection:
    items: list[Discussion]
    next_cursor: str | None = strawberry.field(
        description="Pass as `after` for the next page; null on the last page"
    )

    @classmethod
    def of(cls, page: DiscussionPage) -> DiscussionConnection:
        return cls(items=[Discussion.of(d) for d in page.items], next_cursor=page.next_cursor)


AtRiskCount = Callable[[], Awaitable[int]]


@strawberry.type(description="How many discussions each inbox tab holds, under the filters")
class StatusCounts:
    new: int
    open: int
    pending: int
    solved: int
    closed: int
    at_risk: int = strawberry.field(
        resolver=lambda root: _count_at_risk(root),
        description="Replies overdue or due soon (GATEWAY_REPLY_AT_RISK_HOURS), solved and "
        "closed discussions left out",
    )
    at_risk_before: datetime = strawberry.field(
        description="The cutoff atRisk counts with (UTC): now plus the at-risk window. List "
        "with replyDueBefore set to it to see those discussions"
    )
    # What at_risk counts under: asked for only when the field is selected.
    at_risk_of: strawberry.Private[AtRiskCount | None] = None

    @classmethod
    def of(
        cls,
        counts: dict[DiscussionStatus, int],
        at_risk_before: datetime,
        at_risk: AtRiskCount | None = None,
    ) -> StatusCounts:
        """``at_risk`` counts replies due before ``at_risk_before``: the field reports the
        very cutoff counted with."""
        return cls(
            **{status.value: n for status, n in counts.items()},
            at_risk_before=at_risk_before,
            at_risk_of=at_risk,
        )


async def _count_at_risk(root: StatusCounts) -> int:
    return await root.at_risk_of() if root.at_risk_of is not None else 0


@strawberry.input(description="The list filters, as in REST; a field left out does not filter")
class DiscussionFilter:
    status: list[DiscussionStatus] | None = strawberry.field(
        default=None, description="Only these statuses (ignored by counts)"
    )
    type: list[DiscussionType] | None = None
    marketplace: list[str] | None = None
    read: bool | None = strawberry.field(
        default=None, description="Only read (true) or unread (false)"
    )
    order_id: list[str] | None = strawberry.field(
        default=None, description="Only discussions about these orders (exact)"
    )
    entity_id: list[str] | None = strawberry.field(
        default=None,
        description="Only discussions about these orders, offers or products: the "
        "marketplace's id as in `entities.id` (exact)",
    )
    tag: list[str] | None = strawberry.field(
        default=None,
        description="Only discussions holding ALL these tags (each one narrows further); "
        "any case, each a slug like `late-delivery`",
    )
    participant: str | None = strawberry.field(
        default=None, description="A participant's name or email contains this (any case)"
    )
    subject: str | None = strawberry.field(
        default=None, description="The subject contains this (any case)"
    )
    store_ids: list[str] | None = strawberry.field(
        default=None,
        description="Only these of your stores; several give a cross-store view. "
        "Default: all your stores",
    )
    since: datetime | None = strawberry.field(
        default=None, description="Last message at or after this time (with a zone)"
    )
    until: datetime | None = strawberry.field(
        default=None, description="Last message before this time (with a zone)"
    )
    reply_due_before: datetime | None = strawberry.field(
        default=None,
        description="A reply is expected and due before this time, overdue ones included",
    )

    def to_domain(self) -> DiscussionFilters:
        """The domain's filters; their own rules (lengths, zones, ranges) apply."""
        return DiscussionFilters(
            statuses=frozenset(self.status or ()),
            types=frozenset(self.type or ()),
            marketplaces=frozenset(self.marketplace or ()),
            read=self.read,
            order_ids=frozenset(self.order_id or ()),
            entity_ids=frozenset(self.entity_id or ()),
            tags=frozenset(self.tag or ()),
            participant=self.participant,
            subject=self.subject,
            store_ids=frozenset(self.store_ids or ()),
            since=self.since,
            until=self.until,
            reply_due_before=self.reply_due_before,
        )


@strawberry.type
class ReplyQueued:
    command_id: str = strawberry.field(description="Idempotency key of the reply, end to end")
    discussion_id: strawberry.ID
    state: str = strawberry.field(default="queued", description="Always queued")
    invoice: AttachedInvoiceType | None = strawberry.field(
        default=None, description="The invoice attached with attachInvoice; null without"
    )


@strawberry.type
class RetryQueued:
    command_id: str
    discussion_id: strawberry.ID
    retry: int = strawberry.field(description="The merchant retry round now queued (1 first)")
    state: str = strawberry.field(default="queued", description="Always queued")


@strawberry.type
class ResyncQueued:
    request_id: str
    discussion_id: strawberry.ID
    state: str = strawberry.field(default="queued", description="Always queued")


@strawberry.type
class BulkStatusResult:
    id: strawberry.ID
    outcome: BulkOutcome = strawberry.field(
        description="NOT_FOUND also covers discussions outside your stores"
    )


@strawberry.type
class BulkStatusPayload:
    status: DiscussionStatus
    updated: int
    results: list[BulkStatusResult] = strawberry.field(
        description="One per distinct id, in request order"
    )

    @classmethod
    def of(cls, status: DiscussionStatus, results: list[BulkResult]) -> BulkStatusPayload:
        return cls(
            status=status,
            updated=sum(r.outcome is BulkOutcome.UPDATED for r in results),
            results=[
                BulkStatusResult(id=strawberry.ID(r.discussion_id), outcome=r.outcome)
                for r in results
            ],
        )

"""Request and response bodies of the REST API.

Kept apart from the store's documents on purpose: the API is a contract with
clients, the documents are an internal read model that may change shape freely.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from parley_gateway.api.invoice_models import AttachedInvoiceOut, InvoiceOrderIn
from parley_gateway.api.links import attachment_path
from parley_gateway.domain import MAX_BULK_IDS, MAX_REPLY_CHARS, BulkOutcome
from parley_gateway.domain.workflow import MAX_TAG_CHARS, MAX_TAGS, MAX_TICKET_ID_CHARS
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


class ApiModel(BaseModel):
    model_config = ConfigDict(frozen=True)


class OrganizationOut(ApiModel):
    """The company a participant acts for (B2B buyers), as the marketplace names it."""

    name: str | None = None
    id: str | None = Field(default=None, description="The marketplace's id for the company")


class ParticipantOut(ApiModel):
    role: ParticipantRole
    name: str | None = None
    email: str | None = None
    marketplace_id: str | None = Field(
        default=None, description="The marketplace's own id for this participant"
    )
    organization: OrganizationOut | None = Field(
        default=None,
        description="The company the participant acts for, where the marketplace "
        "gives one; null otherwise",
    )

    @classmethod
    def of(cls, participant: Participant) -> ParticipantOut:
        org = participant.organization
        return cls(
            role=participant.role,
            name=participant.name,
            email=participant.email,
            marketplace_id=participant.marketplace_id,
            organization=OrganizationOut(name=org.name, id=org.id) if org else None,
        )


class EntityOut(ApiModel):
    """What a discussion is about, as the marketplace names it."""

    type: str = Field(
        description="order, offer, product … (the marketplace's kind, lower case)",
        examples=["order", "offer"],
    )
    id: str = Field(description="The marketplace's id of the order, offer or product")
    label: str | None = Field(default=None, description="The marketplace's label, if any")

    @classmethod
    def all_of(cls, doc: DiscussionDocument) -> list[EntityOut]:
        return [
            cls(type=e["type"], id=e["id"], label=e.get("label"))
            for e in doc.entities
            if e.get("type") and e.get("id")
        ]


class DiscussionSummary(ApiModel):
    """One row of the inbox."""

    id: str = Field(description="Opaque, URL-safe discussion id")
    store_id: str
    marketplace: str = Field(examples=["carrefour", "allegro", "amazon_fr"])
    channel: str = Field(description="The marketplace's channel, e.g. message_center")
    thread_id: str = Field(description="The marketplace's own thread id")
    subject: str | None
    type: DiscussionType
    status: DiscussionStatus
    read: bool
    order_id: str | None
    entities: list[EntityOut] = Field(
        description="What it is about: the order, offers or products the marketplace links"
    )
    participants: list[ParticipantOut]
    last_message_at: datetime | None
    last_message_preview: str | None
    message_count: int
    merchant_ticket_id: str | None
    tags: list[str]
    reply_expected: bool = Field(
        description="The marketplace or the buyer waits for the shop's reply: the "
        "marketplace's own signal where it gives one (Mirakl), else the latest buyer or "
        "operator message no reply followed"
    )
    reply_due_at: datetime | None = Field(
        description="When the reply is due (the marketplace's reply window); null when "
        "none is expected"
    )

    @classmethod
    def of(cls, doc: DiscussionDocument) -> DiscussionSummary:
        return cls(**_summary_fields(doc))


class DiscussionPage(ApiModel):
    items: list[DiscussionSummary]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page; null on the last page"
    )


class AttachmentOut(ApiModel):
    name: str
    size: int | None
    content_type: str | None
    file_id: str | None = Field(description="Parley's stored file, once downloaded")
    download_url: str | None = Field(
        default=None,
        description="Path of the file on this API (GET with your API key); null until "
        "Parley has stored the file",
        examples=["/discussions/d_abc/attachments/665f1c2e9b1e8a0012345678"],
    )

    @classmethod
    def of(
        cls, attachment: AttachmentRef, discussion_id: str, root_path: str = ""
    ) -> AttachmentOut:
        return cls(
            name=attachment.name,
            size=attachment.size,
            content_type=attachment.content_type,
            file_id=attachment.file_id,
            download_url=(
                attachment_path(discussion_id, attachment.file_id, root_path=root_path)
                if attachment.file_id
                else None
            ),
        )


class DeliveryOut(ApiModel):
    """Where a reply sent through Parley stands (F17)."""

    state: DeliveryStatus = Field(
        description="queued, sent, failed, or unknown: the last attempt may have reached the "
        "marketplace and it could not be confirmed; not sent again unless the merchant "
        "retries (POST …/deliveries/{command_id}/retry)"
    )
    error: str | None = Field(
        description="Why delivery failed (in the marketplace's words), or why it is unknown"
    )
    attempts: int = Field(description="Attempts at the marketplace so far")
    retry: int = Field(default=0, description="How many times the merchant retried it")
    next_attempt_at: datetime | None = Field(
        default=None,
        description="Queued after a fault (rate limit, outage): when it will be tried next",
    )

    @classmethod
    def of(cls, delivery: DeliveryInfo) -> DeliveryOut:
        return cls(
            state=DeliveryStatus.of(delivery.state, delivery.unconfirmed),
            error=delivery.error,
            attempts=delivery.attempts,
            retry=delivery.retry,
            next_attempt_at=delivery.next_attempt_at,
        )


class MessageOut(ApiModel):
    id: str
    direction: Direction
    sender: ParticipantOut
    recipients: list[ParticipantRole]
    body: str
    sent_at: datetime
    attachments: list[AttachmentOut]
    delivery: DeliveryOut | None = Field(
        description="Set on outbound replies sent through Parley; null otherwise"
    )
    command_id: str | None = Field(
        default=None,
        description="The reply's command id (outbound replies sent through Parley): retry a "
        "failed delivery with POST /discussions/{id}/deliveries/{command_id}/retry",
    )

    @classmethod
    def of(cls, doc: MessageDocument, root_path: str = "") -> MessageOut:
        outbound = doc.direction is Direction.OUTBOUND
        return cls(
            id=doc.id,
            direction=doc.direction,
            sender=ParticipantOut.of(doc.sender),
            recipients=list(doc.recipients),
            body=doc.body,
            sent_at=doc.sent_at,
            attachments=[
                AttachmentOut.of(a, doc.discussion_id, root_path) for a in doc.attachments
            ],
            delivery=DeliveryOut.of(doc.delivery) if outbound and doc.delivery else None,
            command_id=doc.command_id if outbound else None,
        )


class DiscussionDetail(DiscussionSummary):
    """A discussion with its messages, oldest first."""

    initiator: ParticipantRole | None
    created_at: datetime
    last_synced_at: datetime | None
    messages: list[MessageOut]

    @classmethod
    def of_thread(
        cls, doc: DiscussionDocument, messages: list[MessageDocument], root_path: str = ""
    ) -> DiscussionDetail:
        return cls(
            **_summary_fields(doc),
            initiator=doc.initiator,
            created_at=doc.created_at,
            last_synced_at=doc.last_synced_at,
            messages=[MessageOut.of(m, root_path) for m in messages],
        )


def _summary_fields(doc: DiscussionDocument) -> dict[str, object]:
    return {
        "id": doc.id,
        "store_id": doc.store_id,
        "marketplace": doc.marketplace,
        "channel": doc.channel,
        "thread_id": doc.thread_id,
        "subject": doc.subject,
        "type": doc.type,
        "status": doc.status,
        "read": doc.read,
        "order_id": doc.order_id,
        "entities": EntityOut.all_of(doc),
        "participants": [ParticipantOut.of(p) for p in doc.participants],
        "last_message_at": doc.last_message_at,
        "last_message_preview": doc.last_message_preview,
        "message_count": doc.message_count,
        "merchant_ticket_id": doc.merchant_ticket_id,
        "tags": list(doc.tags),
        "reply_expected": doc.reply_expected,
        "reply_due_at": doc.reply_due_at,
    }


class Recipient(StrEnum):
    """Who a reply goes to, where the marketplace allows a choice."""

    CUSTOMER = "customer"
    OPERATOR = "operator"


MAX_ATTACHMENT_IDS = 50  # the request's bound; the configured per-reply limit is checked after
FileIdIn = Annotated[str, StringConstraints(min_length=1, max_length=64)]

ReplyBody = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_REPLY_CHARS)
]


class ReplyIn(BaseModel):
    """A reply to send; plain text only (HTML is refused with 422)."""

    model_config = ConfigDict(extra="forbid")

    body: ReplyBody = Field(
        description=f"Plain text, 1..{MAX_REPLY_CHARS} characters after trimming",
        examples=["Hello, your parcel left our warehouse today."],
    )
    action: ReplyAction = Field(
        default=ReplyAction.REPLY,
        description="reply_and_solve sets status solved, reply_and_pending sets pending; "
        "a plain reply opens a new discussion",
    )
    recipients: list[Recipient] = Field(
        default_factory=lambda: [Recipient.CUSTOMER], min_length=1, max_length=2
    )
    attachment_ids: list[FileIdIn] = Field(
        default_factory=list,
        max_length=MAX_ATTACHMENT_IDS,
        description="Files uploaded with POST /files for the discussion's store; sent "
        "natively where the marketplace accepts them, else as download links in the text",
    )
    attach_invoice: InvoiceOrderIn | None = Field(
        default=None,
        description="Attach the invoice of the discussion's order (issued now, or the "
        "same one again if it was): sent like any attachment, natively or as a link",
    )


class FileOut(ApiModel):
    """A file uploaded for a store, to attach to replies by its id."""

    id: str
    name: str
    size: int
    content_type: str
    store_id: str


class RetryAccepted(ApiModel):
    command_id: str
    retry: int = Field(description="The merchant retry round now queued (1 for the first)")
    state: Literal["queued"] = "queued"


class ReplyAccepted(ApiModel):
    command_id: str = Field(description="Idempotency key of the reply, end to end")
    state: Literal["queued"] = "queued"
    invoice: AttachedInvoiceOut | None = Field(
        default=None, description="The invoice attached (attach_invoice)"
    )


class StatusCounts(ApiModel):
    """How many discussions each inbox tab holds, under the same filters as the list."""

    new: int
    open: int
    pending: int
    solved: int
    closed: int
    at_risk: int = Field(
        description="Replies overdue or due within GATEWAY_REPLY_AT_RISK_HOURS (4 by "
        "default), solved and closed discussions left out"
    )
    at_risk_before: datetime = Field(
        description="The cutoff at_risk counted with (UTC): now plus the at-risk window. "
        "List with reply_due_before set to it to see those discussions"
    )


class DiscussionPatch(BaseModel):
    """The workflow fields to set; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    status: DiscussionStatus | None = None
    read: bool | None = Field(default=None, description="false marks the discussion unread")
    merchant_ticket_id: str | None = Field(
        default=None,
        description=f"The merchant's own ticket id, 1..{MAX_TICKET_ID_CHARS} printable "
        "characters; null removes it",
        examples=["ZD-48213"],
    )
    tags: list[str] | None = Field(
        default=None,
        description=f"Replaces the tags: at most {MAX_TAGS} slugs of lowercase letters, digits "
        f"and hyphens, up to {MAX_TAG_CHARS} characters each; [] removes them all",
        examples=[["late-delivery", "vip"]],
    )

    @field_validator("status", "read", "tags", mode="before")
    @classmethod
    def _only_the_ticket_id_clears(cls, value: object, info: ValidationInfo) -> object:
        # Runs only for fields actually sent: leaving a field out is how to keep it.
        if value is None:
            raise ValueError(f"{info.field_name} cannot be null; leave it out to keep it")
        return value


DiscussionIdIn = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class BulkStatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[DiscussionIdIn] = Field(min_length=1, max_length=MAX_BULK_IDS)
    status: DiscussionStatus


class BulkStatusResult(ApiModel):
    id: str
    outcome: BulkOutcome = Field(
        description="not_found also covers discussions outside the caller's stores"
    )


class BulkStatusOut(ApiModel):
    status: DiscussionStatus
    updated: int
    results: list[BulkStatusResult] = Field(description="One per distinct id, in request order")


class ResyncAccepted(ApiModel):
    request_id: str
    state: Literal["queued"] = "queued"

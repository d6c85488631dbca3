"""Commands from the gateway to the responder."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from .common import ParticipantRole, Record


class ReplyAction(StrEnum):
    REPLY = "reply"
    REPLY_AND_SOLVE = "reply_and_solve"
    REPLY_AND_PENDING = "reply_and_pending"


class InvoiceKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class InvoiceDocument(Record):
    """The invoice (or credit note) a reply carries, named so a family with a document
    channel (Mirakl order documents) can also file it on the order.

    ``file_id`` is one of the command's ``attachment_file_ids``: the PDF travels with
    the message as before; this only says which file it is and for which order.
    """

    file_id: str = Field(min_length=1)
    number: str = Field(min_length=1, description="The document's number, as printed")
    order_id: str | None = Field(
        default=None, description="The marketplace's order the document belongs to"
    )
    kind: InvoiceKind = InvoiceKind.INVOICE


class ReplyCommand(Record):
    """One reply to deliver; ``command_id`` is the idempotency key end to end."""

    command_id: str = Field(min_length=8, max_length=64)
    discussion_id: str
    store_id: str
    marketplace: str
    thread_id: str
    action: ReplyAction = ReplyAction.REPLY
    body: str = Field(min_length=1, max_length=10_000)
    recipients: list[ParticipantRole] = Field(min_length=1)
    attachment_file_ids: list[str] = Field(default_factory=list)
    requested_by: str
    retry: int = Field(
        default=0,
        ge=0,
        description="0 for the merchant's request; n for the merchant's n-th retry of a "
        "failed delivery of the same command_id (a new attempt, never a second reply)",
    )
    requested_at: datetime
    invoice: InvoiceDocument | None = Field(
        default=None,
        description="Which attachment is the invoice, with its order: set by the gateway "
        "for attach_invoice; a family with order documents also files it on the order",
    )


class ResyncRequest(Record):
    """Pull one discussion (``thread_id`` set) or a whole connection again, now (F3)."""

    request_id: str = Field(min_length=8, max_length=64)
    store_id: str
    marketplace: str
    thread_id: str | None = None
    requested_by: str
    requested_at: datetime

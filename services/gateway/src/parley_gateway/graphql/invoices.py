"""Invoices in GraphQL (F20), resolved by the same InvoiceService as REST.

Settings, orders and refunds travel as JSON objects of the REST bodies' shape (the
invoicer's model is the one definition of an invoice; GraphQL does not restate it):
they are checked by the same pydantic models as REST, so the same input is refused the
same way, with ``extensions.field`` naming the field.
"""

from __future__ import annotations

from datetime import date
from typing import Any, cast

import strawberry
from pydantic import BaseModel, ValidationError
from strawberry.scalars import JSON

from parley_gateway.api.invoice_models import CreditNoteIn, InvoiceOrderIn, InvoiceSettingsIn
from parley_gateway.graphql.context import GraphQLContext
from parley_gateway.graphql.errors import InvalidArgument
from parley_gateway.ports import IssuedDocument
from parley_gateway.service import QueuedReply, ReplyRequest

Info = strawberry.Info[GraphQLContext, None]


@strawberry.type(description="An invoice or credit note of a discussion")
class InvoiceDocument:
    number: str
    kind: str
    file_id: strawberry.ID
    download: str = strawberry.field(description="GET this path (API key) for the PDF")
    created: bool | None = strawberry.field(
        default=None, description="On issue: false when it was issued before (the same one)"
    )
    issue_date: date | None = None
    order_id: str | None = None
    currency: str | None = None
    total_incl_vat: str | None = None


@strawberry.type(
    name="AttachedInvoice",
    description="The invoice a reply carries: its number, and its id as the reply's attachment",
)
class AttachedInvoiceType:
    number: str
    attachment_id: strawberry.ID = strawberry.field(
        description="The copy attached to the reply (a file of the discussion's store)"
    )
    file_id: strawberry.ID = strawberry.field(description="The invoice's own file id")
    download: str = strawberry.field(description="GET this path (API key) for the PDF")


def _download(info: Info, discussion_id: str, file_id: str) -> str:
    return f"{info.context.root_path}/discussions/{discussion_id}/invoices/{file_id}"


def _checked(model: type[BaseModel], value: Any, argument: str) -> dict[str, Any]:
    try:
        checked: dict[str, Any] = model.model_validate(value).model_dump(
            mode="json", exclude_none=True
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in (argument, *error["loc"]))
        raise InvalidArgument(field, error["msg"], error["type"]) from exc
    return checked


def _issued(info: Info, discussion_id: str, issued: IssuedDocument) -> InvoiceDocument:
    return InvoiceDocument(
        number=issued.number,
        kind=issued.kind,
        file_id=strawberry.ID(issued.file_id),
        download=_download(info, discussion_id, issued.file_id),
        created=issued.created,
    )


async def invoice_settings(info: Info, store_id: str) -> JSON:
    context = info.context
    return cast(JSON, await context.invoices.settings(context.scope, store_id))


async def discussion_invoices(info: Info, discussion_id: strawberry.ID) -> list[InvoiceDocument]:
    context = info.context
    documents = await context.invoices.documents(context.scope, str(discussion_id))
    return [
        InvoiceDocument(
            number=str(d["number"]),
            kind=str(d.get("kind", "invoice")),
            file_id=strawberry.ID(str(d["file_id"])),
            download=_download(info, str(discussion_id), str(d["file_id"])),
            issue_date=date.fromisoformat(d["issue_date"]) if d.get("issue_date") else None,
            order_id=d.get("order_id"),
            currency=d.get("currency"),
            total_incl_vat=d.get("total_incl_vat"),
        )
        for d in documents
        if d.get("file_id")
    ]


async def save_invoice_settings(info: Info, store_id: str, settings: JSON) -> JSON:
    context = info.context
    scope = context.scope
    checked = _checked(InvoiceSettingsIn, settings, "settings")
    return cast(JSON, await context.invoices.save_settings(scope, store_id, checked))


async def issue_invoice(info: Info, discussion_id: strawberry.ID, order: JSON) -> InvoiceDocument:
    context = info.context
    scope = context.scope
    checked = _checked(InvoiceOrderIn, order, "order")
    issued = await context.invoices.issue(scope, str(discussion_id), checked, at="#/order")
    return _issued(info, str(discussion_id), issued)


async def issue_credit_note(
    info: Info, discussion_id: strawberry.ID, refund: JSON
) -> InvoiceDocument:
    context = info.context
    scope = context.scope
    checked = _checked(CreditNoteIn, refund, "refund")
    issued = await context.invoices.credit(scope, str(discussion_id), checked, at="#/refund")
    return _issued(info, str(discussion_id), issued)


async def reply_with_invoice(
    info: Info, discussion_id: str, reply: ReplyRequest, order: JSON
) -> tuple[QueuedReply, AttachedInvoiceType]:
    """A reply's ``attachInvoice``: the reply queued with the order's invoice, by the
    same use case as REST's ``attach_invoice`` (the reply is checked before any invoice
    is issued)."""
    context = info.context
    caller = context.caller
    checked = _checked(InvoiceOrderIn, order, "attachInvoice")
    done = await context.invoices.reply(
        caller.scope,
        discussion_id,
        reply,
        checked,
        requested_by=caller.account_id,
        at="#/attachInvoice",
    )
    return done.queued, AttachedInvoiceType(
        number=done.document.number,
        attachment_id=strawberry.ID(done.file_id),
        file_id=strawberry.ID(done.document.file_id),
        download=_download(info, discussion_id, done.document.file_id),
    )

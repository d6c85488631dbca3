"""Write side of the GraphQL API: every REST action, through the same DiscussionService
and the same domain rules (a reply or a tag refused by REST is refused here too)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from parley_gateway.domain import WorkflowUpdate
from parley_gateway.graphql.autoresponders import (
    Autoresponder,
    AutoresponderTestSent,
    restore_autoresponder_default,
    save_autoresponder,
    send_autoresponder_test,
)
from parley_gateway.graphql.context import GraphQLContext
from parley_gateway.graphql.invoices import (
    InvoiceDocument,
    issue_credit_note,
    issue_invoice,
    reply_with_invoice,
    save_invoice_settings,
)
from parley_gateway.graphql.types import (
    BulkStatusPayload,
    Discussion,
    Recipient,
    ReplyQueued,
    ResyncQueued,
    RetryQueued,
)
from parley_gateway.service import ReplyRequest
from parley_schemas import ReplyAction
from parley_store import DiscussionStatus

Info = strawberry.Info[GraphQLContext, None]


async def _update(
    info: Info, discussion_id: strawberry.ID, update: Callable[[], WorkflowUpdate]
) -> Discussion:
    """Sets workflow fields; ``update`` is built only once the caller is known, so an
    anonymous caller learns nothing about the rules, only that a key is needed."""
    context = info.context
    scope = context.scope
    return Discussion.of(await context.service.update_workflow(scope, str(discussion_id), update()))


async def reply(
    info: Info,
    discussion_id: strawberry.ID,
    body: str,
    action: ReplyAction = ReplyAction.REPLY,
    recipients: Annotated[
        list[Recipient] | None, strawberry.argument(description="Default: the customer")
    ] = None,
    attachment_ids: Annotated[
        list[strawberry.ID] | None,
        strawberry.argument(description="Files uploaded for the store (POST /files) to attach"),
    ] = None,
    attach_invoice: Annotated[
        JSON | None,
        strawberry.argument(
            description="Attach the invoice of the discussion's order (issued now, or the "
            "same one again); the order is issueInvoice's, the REST body's shape"
        ),
    ] = None,
) -> ReplyQueued | None:
    context = info.context
    caller = context.caller
    roles = [r.role for r in recipients] if recipients is not None else [Recipient.CUSTOMER.role]
    asked = ReplyRequest(
        body=body,
        action=action,
        recipients=roles,
        attachment_ids=[str(i) for i in attachment_ids or ()],
    )
    invoice = None
    if attach_invoice is None:
        queued = await context.service.request_reply(
            caller.scope, str(discussion_id), asked, requested_by=caller.account_id
        )
    else:
        queued, invoice = await reply_with_invoice(info, str(discussion_id), asked, attach_invoice)
    return ReplyQueued(
        command_id=queued.command_id,
        discussion_id=strawberry.ID(queued.discussion_id),
        invoice=invoice,
    )


async def set_status(
    info: Info, discussion_id: strawberry.ID, status: DiscussionStatus
) -> Discussion | None:
    return await _update(info, discussion_id, lambda: WorkflowUpdate.of(status=status))


async def bulk_set_status(
    info: Info, ids: list[strawberry.ID], status: DiscussionStatus
) -> BulkStatusPayload:
    context = info.context
    scope = context.scope
    results = await context.service.set_status_many(scope, [str(i) for i in ids], status)
    return BulkStatusPayload.of(status, results)


async def mark_read(info: Info, discussion_id: strawberry.ID) -> Discussion | None:
    return await _update(info, discussion_id, lambda: WorkflowUpdate.of(read=True))


async def mark_unread(info: Info, discussion_id: strawberry.ID) -> Discussion | None:
    return await _update(info, discussion_id, lambda: WorkflowUpdate.of(read=False))


async def set_tags(info: Info, discussion_id: strawberry.ID, tags: list[str]) -> Discussion | None:
    return await _update(info, discussion_id, lambda: WorkflowUpdate.of(tags=tags))


async def assign_merchant_discussion_id(
    info: Info, discussion_id: strawberry.ID, merchant_discussion_id: str | None
) -> Discussion | None:
    ticket = merchant_discussion_id
    return await _update(info, discussion_id, lambda: WorkflowUpdate.of(merchant_ticket_id=ticket))


async def resync(info: Info, discussion_id: strawberry.ID) -> ResyncQueued | None:
    context = info.context
    caller = context.caller
    queued = await context.service.request_resync(
        caller.scope, str(discussion_id), requested_by=caller.account_id
    )
    return ResyncQueued(
        request_id=queued.request_id, discussion_id=strawberry.ID(queued.discussion_id)
    )


async def retry_delivery(
    info: Info, discussion_id: strawberry.ID, command_id: str
) -> RetryQueued | None:
    context = info.context
    scope = context.scope
    queued = await context.deliveries.retry(scope, str(discussion_id), command_id)
    return RetryQueued(
        command_id=queued.command_id,
        discussion_id=strawberry.ID(queued.discussion_id),
        retry=queued.retry,
    )


@strawberry.type(
    description="Every mutation is safe to repeat with the HTTP header Idempotency-Key "
    "(1..255 printable ASCII characters, e.g. a UUID) on a POST carrying that single "
    "mutation: the first response is kept 24 h for your account and returned again, "
    "marked Idempotent-Replayed: true, to a request with the same key, which then does "
    "nothing new. The same key with another request is refused with HTTP 422, and while "
    "the first request is still running with HTTP 409 and Retry-After (problem+json). "
    "Text arguments (reply bodies, templates, tags) refuse control characters other than "
    "tab/newline/CR, bidi overrides and invisible-only text (VALIDATION, reason "
    "control_character, bidi_control or empty) and are stored in Unicode NFC."
)
class Mutation:
    reply: ReplyQueued | None = strawberry.mutation(
        resolver=reply,
        description="Queue a plain-text reply (HTML is refused). REPLY_AND_SOLVE sets the "
        "status solved, REPLY_AND_PENDING pending; a plain reply opens a new discussion. "
        "attachInvoice attaches the order's invoice (invoice says which)",
    )
    set_status: Discussion | None = strawberry.mutation(
        resolver=set_status, description="Set the workflow status of one discussion"
    )
    bulk_set_status: BulkStatusPayload = strawberry.mutation(
        resolver=bulk_set_status,
        description="Set the status of up to 100 discussions; one result per distinct id "
        "(NOT_FOUND also for ids outside your stores)",
    )
    mark_read: Discussion | None = strawberry.mutation(
        resolver=mark_read, description="Mark the discussion read"
    )
    mark_unread: Discussion | None = strawberry.mutation(
        resolver=mark_unread,
        description="Mark the discussion unread (a new incoming message also does)",
    )
    set_tags: Discussion | None = strawberry.mutation(
        resolver=set_tags,
        description="Replace the tags: lowercase slugs like late-delivery; [] removes them all",
    )
    assign_merchant_discussion_id: Discussion | None = strawberry.mutation(
        resolver=assign_merchant_discussion_id,
        description="Assign the merchant's own ticket id (1..64 printable characters); "
        "null removes it",
    )
    resync: ResyncQueued | None = strawberry.mutation(
        resolver=resync, description="Pull this discussion from the marketplace again, now"
    )
    retry_delivery: RetryQueued | None = strawberry.mutation(
        resolver=retry_delivery,
        description="One more delivery round for a failed reply (its commandId); "
        "CONFLICT for a delivery that has not failed",
    )
    save_invoice_settings: JSON = strawberry.mutation(
        resolver=save_invoice_settings,
        description="Save a store's invoice settings (the REST body's shape)",
    )
    issue_invoice: InvoiceDocument = strawberry.mutation(
        resolver=issue_invoice,
        description="The invoice of the discussion's order, issued once (the same again "
        "on repeats); the order is the REST body's shape",
    )
    issue_credit_note: InvoiceDocument = strawberry.mutation(
        resolver=issue_credit_note,
        description="A credit note for a refund of the discussion's invoiced order, issued "
        "once per refund_id (the same again on repeats); the refund is the REST body's "
        "shape, without lines the whole invoice is credited. CONFLICT when the order has "
        "no invoice yet",
    )
    save_autoresponder: Autoresponder = strawberry.mutation(
        resolver=save_autoresponder,
        description="Replace an autoresponder's settings (plain text, known placeholders "
        "only; enabling needs the shop's address)",
    )
    restore_autoresponder_default: Autoresponder = strawberry.mutation(
        resolver=restore_autoresponder_default,
        description="Put back the marketplace's default text and language; the switch "
        "and the addresses stay",
    )
    send_autoresponder_test: AutoresponderTestSent = strawberry.mutation(
        resolver=send_autoresponder_test,
        description="Mail the text, with sample values, to the notification addresses",
    )

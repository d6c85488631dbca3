"""The discussions resource: list and counts (F10), detail (F11), replies (F12),
workflow changes one by one and in bulk, resync (F13, F14).

Every route needs an API key (F15) and sees only the stores of the key's account: a
discussion of another account answers 404 exactly like an unknown one, never 403.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from parley_gateway.api.content import FILE_RESPONSE, file_response
from parley_gateway.api.dependencies import CallerScope, RequestedBy, Service, get_caller
from parley_gateway.api.invoice_models import AttachedInvoiceOut
from parley_gateway.api.invoices import get_invoices
from parley_gateway.api.models import (
    BulkStatusIn,
    BulkStatusOut,
    BulkStatusResult,
    DiscussionDetail,
    DiscussionPage,
    DiscussionPatch,
    DiscussionSummary,
    ReplyAccepted,
    ReplyIn,
    ResyncAccepted,
    StatusCounts,
)
from parley_gateway.api.problems import PROBLEM_RESPONSES
from parley_gateway.domain import (
    DEFAULT_PAGE_SIZE,
    KEEP,
    MAX_PAGE_SIZE,
    BulkOutcome,
    DiscussionFilters,
    WorkflowUpdate,
)
from parley_gateway.domain.listing import MAX_CONTAINS_CHARS, MAX_CURSOR_CHARS
from parley_gateway.service import ReplyRequest
from parley_schemas import ParticipantRole
from parley_store import DiscussionStatus, DiscussionType

router = APIRouter(
    prefix="/discussions",
    tags=["discussions"],
    # Also on routes that would not otherwise ask for the caller: none is ever public.
    dependencies=[Depends(get_caller)],
    responses={401: PROBLEM_RESPONSES[401]},
)

DiscussionId = Annotated[
    str, Path(min_length=1, max_length=128, description="The discussion's opaque id")
]


class ListFilters:
    """The filters shared by the list and the counts (the counts ignore status)."""

    def __init__(
        self,
        marketplace: Annotated[
            list[str] | None, Query(description="Only these marketplaces (repeatable)")
        ] = None,
        store_id: Annotated[
            list[str] | None,
            Query(
                description="Only these of your stores (repeatable); several give a "
                "cross-store view. Default: all your stores"
            ),
        ] = None,
        read: Annotated[
            bool | None, Query(description="Only read (true) or unread (false)")
        ] = None,
        types: Annotated[
            list[DiscussionType] | None,
            Query(alias="type", description="Only these types (repeatable)"),
        ] = None,
        order_id: Annotated[
            list[str] | None,
            Query(description="Only discussions about these orders (repeatable, exact)"),
        ] = None,
        entity_id: Annotated[
            list[str] | None,
            Query(
                description="Only discussions about these orders, offers or products: the "
                "marketplace's id as in `entities[].id` (repeatable, exact)"
            ),
        ] = None,
        tag: Annotated[
            list[str] | None,
            Query(
                description="Only discussions holding ALL these tags (repeatable: each "
                "`tag` narrows further); any case, each a slug like `late-delivery`"
            ),
        ] = None,
        participant: Annotated[
            str | None,
            Query(
                min_length=1,
                max_length=MAX_CONTAINS_CHARS,
                description="A participant's name or email contains this (case-insensitive)",
            ),
        ] = None,
        subject: Annotated[
            str | None,
            Query(
                min_length=1,
                max_length=MAX_CONTAINS_CHARS,
                description="The subject contains this (case-insensitive)",
            ),
        ] = None,
        since: Annotated[
            datetime | None,
            Query(description="Last message at or after this time (ISO 8601 with zone)"),
        ] = None,
        until: Annotated[
            datetime | None,
            Query(description="Last message before this time (ISO 8601 with zone)"),
        ] = None,
        reply_due_before: Annotated[
            datetime | None,
            Query(
                description="A reply is expected and due before this time, overdue ones "
                "included (ISO 8601 with zone)"
            ),
        ] = None,
    ) -> None:
        self.filters = DiscussionFilters(
            marketplaces=frozenset(marketplace or ()),
            store_ids=frozenset(store_id or ()),
            read=read,
            types=frozenset(types or ()),
            order_ids=frozenset(order_id or ()),
            entity_ids=frozenset(entity_id or ()),
            tags=frozenset(tag or ()),
            participant=participant,
            subject=subject,
            since=since,
            until=until,
            reply_due_before=reply_due_before,
        )


Filters = Annotated[ListFilters, Depends()]


@router.get(
    "",
    summary="List discussions, latest activity first",
    responses={s: PROBLEM_RESPONSES[s] for s in (400, 422)},
)
async def list_discussions(
    service: Service,
    scope: CallerScope,
    where: Filters,
    status: Annotated[
        list[DiscussionStatus] | None, Query(description="Only these statuses (repeatable)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[
        str | None,
        Query(max_length=MAX_CURSOR_CHARS, description="next_cursor of the previous page"),
    ] = None,
) -> DiscussionPage:
    filters = replace(where.filters, statuses=frozenset(status or ()))
    page = await service.list_discussions(scope, filters, limit=limit, cursor=cursor)
    return DiscussionPage(
        items=[DiscussionSummary.of(d) for d in page.items], next_cursor=page.next_cursor
    )


@router.get(
    "/counts",
    summary="How many discussions each status holds, under the list's filters",
    responses={422: PROBLEM_RESPONSES[422]},
)
async def count_discussions(service: Service, scope: CallerScope, where: Filters) -> StatusCounts:
    counts = await service.count_by_status(scope, where.filters)
    cutoff = service.at_risk_cutoff()
    at_risk = await service.count_at_risk(scope, where.filters, cutoff)
    return StatusCounts(
        **{status.value: n for status, n in counts.items()}, at_risk=at_risk, at_risk_before=cutoff
    )


@router.post(
    "/bulk-status",
    summary="Set the status of up to 100 discussions",
    response_description="One result per distinct id; not_found also for other accounts' ids",
    responses={422: PROBLEM_RESPONSES[422]},
)
async def bulk_status(body: BulkStatusIn, service: Service, scope: CallerScope) -> BulkStatusOut:
    results = await service.set_status_many(scope, body.ids, body.status)
    return BulkStatusOut(
        status=body.status,
        updated=sum(r.outcome is BulkOutcome.UPDATED for r in results),
        results=[BulkStatusResult(id=r.discussion_id, outcome=r.outcome) for r in results],
    )


@router.get(
    "/{discussion_id}",
    name="get_discussion",
    summary="A discussion with its messages; marks it read",
    responses={404: PROBLEM_RESPONSES[404]},
)
async def get_discussion(
    discussion_id: DiscussionId, request: Request, service: Service, scope: CallerScope
) -> DiscussionDetail:
    thread = await service.open_discussion(scope, discussion_id)
    return DiscussionDetail.of_thread(
        thread.discussion, thread.messages, request.scope.get("root_path", "")
    )


@router.get(
    "/{discussion_id}/attachments/{file_id}",
    summary="Download an attachment of one of the discussion's messages",
    response_class=StreamingResponse,
    responses={
        200: FILE_RESPONSE,
        404: PROBLEM_RESPONSES[404],
    },
)
async def download_attachment(
    discussion_id: DiscussionId,
    file_id: Annotated[
        str,
        Path(min_length=1, max_length=128, description="file_id of the message's attachment"),
    ],
    service: Service,
    scope: CallerScope,
) -> StreamingResponse:
    return file_response(await service.open_attachment(scope, discussion_id, file_id))


@router.patch(
    "/{discussion_id}",
    summary="Set status, read state, the merchant's ticket id or tags",
    responses={s: PROBLEM_RESPONSES[s] for s in (404, 422)},
)
async def patch_discussion(
    discussion_id: DiscussionId, patch: DiscussionPatch, service: Service, scope: CallerScope
) -> DiscussionSummary:
    update = WorkflowUpdate.of(
        status=patch.status,
        read=patch.read,
        merchant_ticket_id=(
            patch.merchant_ticket_id if "merchant_ticket_id" in patch.model_fields_set else KEEP
        ),
        tags=patch.tags,
    )
    return DiscussionSummary.of(await service.update_workflow(scope, discussion_id, update))


@router.post(
    "/{discussion_id}/replies",
    status_code=202,
    summary="Queue a reply for delivery to the marketplace",
    response_description="Queued; follow the delivery state on the discussion (Location)",
    # ``invoice`` only when one was attached: plain replies answer as they always did.
    response_model_exclude_none=True,
    responses={s: PROBLEM_RESPONSES[s] for s in (404, 413, 422, 503)},
)
async def reply(
    discussion_id: DiscussionId,
    reply: ReplyIn,
    request: Request,
    response: Response,
    service: Service,
    scope: CallerScope,
    requested_by: RequestedBy,
) -> ReplyAccepted:
    asked = ReplyRequest(
        body=reply.body,
        action=reply.action,
        recipients=[ParticipantRole(r.value) for r in reply.recipients],
        attachment_ids=reply.attachment_ids,
    )
    invoice = None
    if reply.attach_invoice is None:
        queued = await service.request_reply(scope, discussion_id, asked, requested_by=requested_by)
    else:
        with_invoice = await get_invoices(request).reply(
            scope,
            discussion_id,
            asked,
            reply.attach_invoice.supplied(),
            requested_by=requested_by,
        )
        queued = with_invoice.queued
        invoice = AttachedInvoiceOut(
            number=with_invoice.document.number, attachment_id=with_invoice.file_id
        )
    _locate(request, response, queued.discussion_id)
    return ReplyAccepted(command_id=queued.command_id, invoice=invoice)


@router.post(
    "/{discussion_id}/resync",
    status_code=202,
    summary="Pull this discussion from the marketplace again, now",
    response_description="Queued for ingest; the discussion updates when the sync is done",
    responses={s: PROBLEM_RESPONSES[s] for s in (404, 503)},
)
async def resync(
    discussion_id: DiscussionId,
    request: Request,
    response: Response,
    service: Service,
    scope: CallerScope,
    requested_by: RequestedBy,
) -> ResyncAccepted:
    queued = await service.request_resync(scope, discussion_id, requested_by=requested_by)
    _locate(request, response, queued.discussion_id)
    return ResyncAccepted(request_id=queued.request_id)


def _locate(request: Request, response: Response, discussion_id: str) -> None:
    location = request.app.url_path_for("get_discussion", discussion_id=discussion_id)
    response.headers["Location"] = request.scope.get("root_path", "") + location

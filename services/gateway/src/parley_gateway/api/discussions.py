"""The discussions resource: list (F10), detail (F11), replies (F12)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from parley_gateway.api.dependencies import CallerScope, RequestedBy, Service
from parley_gateway.api.models import (
    DiscussionDetail,
    DiscussionPage,
    DiscussionSummary,
    ReplyAccepted,
    ReplyIn,
)
from parley_gateway.api.problems import PROBLEM_RESPONSES
from parley_gateway.domain import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, DiscussionFilters
from parley_gateway.domain.listing import MAX_CURSOR_CHARS
from parley_gateway.service import ReplyRequest
from parley_schemas import ParticipantRole
from parley_store import DiscussionStatus

router = APIRouter(prefix="/discussions", tags=["discussions"])

DiscussionId = Annotated[
    str, Path(min_length=1, max_length=128, description="The discussion's opaque id")
]


@router.get(
    "",
    summary="List discussions, latest activity first",
    responses={s: PROBLEM_RESPONSES[s] for s in (400, 422)},
)
async def list_discussions(
    service: Service,
    scope: CallerScope,
    marketplace: Annotated[
        list[str] | None, Query(description="Only these marketplaces (repeatable)")
    ] = None,
    status: Annotated[
        list[DiscussionStatus] | None, Query(description="Only these statuses (repeatable)")
    ] = None,
    store_id: Annotated[
        list[str] | None, Query(description="Only these stores (repeatable)")
    ] = None,
    read: Annotated[bool | None, Query(description="Only read (true) or unread (false)")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[
        str | None,
        Query(max_length=MAX_CURSOR_CHARS, description="next_cursor of the previous page"),
    ] = None,
) -> DiscussionPage:
    filters = DiscussionFilters(
        marketplaces=frozenset(marketplace or ()),
        statuses=frozenset(status or ()),
        store_ids=frozenset(store_id or ()),
        read=read,
    )
    page = await service.list_discussions(scope, filters, limit=limit, cursor=cursor)
    return DiscussionPage(
        items=[DiscussionSummary.of(d) for d in page.items], next_cursor=page.next_cursor
    )


@router.get(
    "/{discussion_id}",
    name="get_discussion",
    summary="A discussion with its messages; marks it read",
    responses={404: PROBLEM_RESPONSES[404]},
)
async def get_discussion(
    discussion_id: DiscussionId, service: Service, scope: CallerScope
) -> DiscussionDetail:
    thread = await service.open_discussion(scope, discussion_id)
    return DiscussionDetail.of_thread(thread.discussion, thread.messages)


@router.post(
    "/{discussion_id}/replies",
    status_code=202,
    summary="Queue a reply for delivery to the marketplace",
    response_description="Queued; follow the delivery state on the discussion (Location)",
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
    queued = await service.request_reply(
        scope,
        discussion_id,
        ReplyRequest(
            body=reply.body,
            action=reply.action,
            recipients=[ParticipantRole(r.value) for r in reply.recipients],
        ),
        requested_by=requested_by,
    )
    location = request.app.url_path_for("get_discussion", discussion_id=queued.discussion_id)
    response.headers["Location"] = request.scope.get("root_path", "") + location
    return ReplyAccepted(command_id=queued.command_id)

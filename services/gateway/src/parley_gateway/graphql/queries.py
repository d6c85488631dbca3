"""Read side of the GraphQL API: the same use cases as REST's GETs, through the same
DiscussionService, so both APIs list, count and open discussions identically."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from parley_gateway.domain import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, DiscussionFilters
from parley_gateway.graphql.autoresponders import (
    Autoresponder,
    get_autoresponder,
    list_autoresponders,
)
from parley_gateway.graphql.connections import MarketplaceConnection, list_connections
from parley_gateway.graphql.context import GraphQLContext
from parley_gateway.graphql.errors import InvalidArgument
from parley_gateway.graphql.invoices import InvoiceDocument, discussion_invoices, invoice_settings
from parley_gateway.graphql.types import (
    DiscussionConnection,
    DiscussionDetail,
    DiscussionFilter,
    StatusCounts,
)

Info = strawberry.Info[GraphQLContext, None]


def _filters_of(filters: DiscussionFilter | None) -> DiscussionFilters:
    return filters.to_domain() if filters is not None else DiscussionFilters()


async def list_discussions(
    info: Info,
    filters: DiscussionFilter | None = None,
    first: Annotated[
        int, strawberry.argument(description=f"Page size, 1..{MAX_PAGE_SIZE}")
    ] = DEFAULT_PAGE_SIZE,
    after: Annotated[
        str | None, strawberry.argument(description="nextCursor of the previous page")
    ] = None,
) -> DiscussionConnection:
    context = info.context
    scope = context.scope
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise InvalidArgument(
            "first", f"first must be within 1..{MAX_PAGE_SIZE}, not {first}", "out_of_range"
        )
    page = await context.service.list_discussions(
        scope, _filters_of(filters), limit=first, cursor=after
    )
    return DiscussionConnection.of(page)


async def open_discussion(info: Info, id: strawberry.ID) -> DiscussionDetail | None:
    context = info.context
    thread = await context.service.open_discussion(context.scope, str(id))
    return DiscussionDetail.of_thread(thread, context.root_path)


async def count_discussions(info: Info, filters: DiscussionFilter | None = None) -> StatusCounts:
    context = info.context
    scope = context.scope
    where = _filters_of(filters)
    service = context.service
    cutoff = service.at_risk_cutoff()
    return StatusCounts.of(
        await service.count_by_status(scope, where),
        at_risk_before=cutoff,
        at_risk=lambda: service.count_at_risk(scope, where, cutoff),
    )


@strawberry.type
class Query:
    discussions: DiscussionConnection = strawberry.field(
        resolver=list_discussions,
        description="Your discussions, latest activity first, one page at a time",
    )
    discussion: DiscussionDetail | None = strawberry.field(
        resolver=open_discussion,
        description="A discussion with its messages; opening it marks it read",
    )
    counts: StatusCounts = strawberry.field(
        resolver=count_discussions,
        description="How many discussions each status holds under the filters (whose "
        "status is ignored): the inbox tabs",
    )
    autoresponders: list[Autoresponder] = strawberry.field(
        resolver=list_autoresponders,
        description="Your saved autoresponders (or those of the given stores of yours)",
    )
    autoresponder: Autoresponder = strawberry.field(
        resolver=get_autoresponder,
        description="One autoresponder; its defaults (disabled, default text) until saved",
    )
    connections: list[MarketplaceConnection] = strawberry.field(
        resolver=list_connections,
        description="Your marketplace connections (or those of the given stores of yours)"
        " and their sync health",
    )
    invoice_settings: JSON = strawberry.field(
        resolver=invoice_settings,
        description="A store's invoice settings (the REST body's shape); NOT_FOUND if none",
    )
    discussion_invoices: list[InvoiceDocument] = strawberry.field(
        resolver=discussion_invoices,
        description="A discussion's invoices and credit notes, each with its PDF's path",
    )

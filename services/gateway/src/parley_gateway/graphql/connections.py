"""Marketplace connections in GraphQL (F2, F3): the same ConnectionService as REST's
``GET /connections``, so both show the caller's stores only and never a credential."""

from __future__ import annotations

from datetime import datetime

import strawberry

from parley_gateway.connections import ConnectionStatus
from parley_gateway.graphql.context import GraphQLContext
from parley_store import SyncErrorKind

Info = strawberry.Info[GraphQLContext, None]

# Registered with strawberry; fields are annotated with the domain enum itself.
SyncErrorKindEnum = strawberry.enum(
    SyncErrorKind,
    name="SyncErrorKind",
    description="Why a sync failed: rate limited, marketplace unavailable, credentials"
    " refused (auth failed) or a fault on Parley's side (internal)",
)


@strawberry.type(description="The last failed sync of a connection")
class SyncFailure:
    kind: SyncErrorKind
    message: str = strawberry.field(description="What went wrong; never a credential")
    at: datetime


@strawberry.type(description="One store's connection to one marketplace, and its sync health")
class MarketplaceConnection:
    id: strawberry.ID
    store_id: str
    family: str = strawberry.field(description="The marketplace API family: mirakl, allegro, …")
    marketplace: str
    messaging_enabled: bool
    health: str = strawberry.field(description="ok, or needs_attention when a person must act")
    health_reason: str | None
    last_sync_at: datetime | None = strawberry.field(description="End of the last good sync")
    last_error: SyncFailure | None = strawberry.field(
        description="The last failed sync, until a sync succeeds again"
    )
    consecutive_failures: int = strawberry.field(description="Failed syncs since a success")
    next_sync_at: datetime | None = strawberry.field(description="Null: as soon as possible")
    inbound_address: str | None = strawberry.field(
        description="email_relay only: the address to set in the marketplace back office"
    )

    @classmethod
    def of(cls, status: ConnectionStatus) -> MarketplaceConnection:
        error = status.last_error
        return cls(
            id=strawberry.ID(status.id),
            store_id=status.store_id,
            family=status.family,
            marketplace=status.marketplace,
            messaging_enabled=status.messaging_enabled,
            health=status.health,
            health_reason=status.health_reason,
            last_sync_at=status.last_sync_at,
            last_error=(
                SyncFailure(kind=error.kind, message=error.message, at=error.at)
                if error is not None
                else None
            ),
            consecutive_failures=status.consecutive_failures,
            next_sync_at=status.next_sync_at,
            inbound_address=status.inbound_address,
        )


async def list_connections(
    info: Info, store_ids: list[str] | None = None
) -> list[MarketplaceConnection]:
    context = info.context
    found = await context.connections.list(context.scope, store_ids or ())
    return [MarketplaceConnection.of(c) for c in found]

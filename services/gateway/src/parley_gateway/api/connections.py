"""The connections resource (F2, F3): the caller's marketplace connections and how
their sync is going, so a merchant sees at once that credentials were refused or
that a marketplace keeps failing. Read only: connections are set up by operators
(``parley connections add``) and owned by ingest. Never shows credentials.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from parley_gateway.api.dependencies import CallerScope, get_caller
from parley_gateway.api.problems import PROBLEM_RESPONSES
from parley_gateway.bootstrap import Runtime
from parley_gateway.connections import ConnectionService, ConnectionStatus
from parley_store import SyncErrorKind

router = APIRouter(
    prefix="/connections",
    tags=["connections"],
    dependencies=[Depends(get_caller)],
    responses={401: PROBLEM_RESPONSES[401]},
)


def get_connections(request: Request) -> ConnectionService:
    runtime: Runtime = request.app.state.runtime
    if runtime.connections is None:
        raise HTTPException(503, "connections are not available on this gateway")
    return runtime.connections


Connections = Annotated[ConnectionService, Depends(get_connections)]


class LastErrorOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: SyncErrorKind = Field(
        description="rate_limited, unavailable (marketplace fault), auth_failed (credentials"
        " refused) or internal (a fault on Parley's side)"
    )
    message: str = Field(description="What went wrong; never a credential")
    at: datetime


class ConnectionOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    store_id: str
    family: str = Field(description="The marketplace API family: mirakl, allegro, fnac, …")
    marketplace: str = Field(description="The marketplace instance, e.g. carrefour, amazon_fr")
    messaging_enabled: bool
    health: str = Field(description="ok, or needs_attention when a person must act")
    health_reason: str | None
    last_sync_at: datetime | None = Field(description="End of the last successful sync")
    last_error: LastErrorOut | None = Field(
        description="The last failed sync, until a sync succeeds again"
    )
    consecutive_failures: int = Field(description="Failed syncs since the last success")
    next_sync_at: datetime | None = Field(description="Next sync; null: as soon as possible")
    inbound_address: str | None = Field(
        description="email_relay only: the address to set in the marketplace back office"
    )

    @classmethod
    def of(cls, status: ConnectionStatus) -> ConnectionOut:
        error = status.last_error
        return cls(
            id=status.id,
            store_id=status.store_id,
            family=status.family,
            marketplace=status.marketplace,
            messaging_enabled=status.messaging_enabled,
            health=status.health,
            health_reason=status.health_reason,
            last_sync_at=status.last_sync_at,
            last_error=(
                LastErrorOut(kind=error.kind, message=error.message, at=error.at)
                if error is not None
                else None
            ),
            consecutive_failures=status.consecutive_failures,
            next_sync_at=status.next_sync_at,
            inbound_address=status.inbound_address,
        )


class ConnectionList(BaseModel):
    items: list[ConnectionOut]


@router.get(
    "",
    summary="Your marketplace connections and their sync health",
    responses={s: PROBLEM_RESPONSES[s] for s in (422, 503)},
)
async def list_connections(
    service: Connections,
    scope: CallerScope,
    store_id: Annotated[
        list[str] | None, Query(description="Only these of your stores (repeatable)")
    ] = None,
) -> ConnectionList:
    found = await service.list(scope, store_id or ())
    return ConnectionList(items=[ConnectionOut.of(c) for c in found])

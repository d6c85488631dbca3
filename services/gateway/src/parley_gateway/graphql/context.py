"""Who a GraphQL request comes from, resolved as for REST (F15).

The caller is found by :func:`parley_gateway.sessions.authenticate`, as REST's: an API
key from ``Authorization: Bearer`` or ``X-API-Key``, else the web inbox's session
cookie, with the same CSRF rule: a POST authenticated by the cookie must send
``X-Requested-With: parley-inbox`` or the whole request is refused with REST's 403
problem+json before anything runs (a GraphQL POST may be a mutation, and even a query
answered to a forged cross-site request is work done on the merchant's behalf).
Mutations never run over GET (see :func:`parley_gateway.graphql.schema.graphql_router`),
so a cookie-authenticated GET needs no header.

A missing or bad key (or session) does not fail the HTTP request: the schema
(committed in the repository anyway) stays introspectable, so GraphiQL and code
generators work, while every field that touches data asks
:meth:`GraphQLContext.scope` and fails with ``UNAUTHENTICATED``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from strawberry.fastapi import BaseContext

from parley_gateway.accounts import AccessService, NotAuthenticated
from parley_gateway.api.dependencies import get_access, get_presented_key, get_service
from parley_gateway.autoresponder_service import AutoresponderService
from parley_gateway.bootstrap import Runtime
from parley_gateway.connections import ConnectionService
from parley_gateway.deliveries import DeliveryService
from parley_gateway.domain import Caller, Scope
from parley_gateway.invoices import InvoiceService
from parley_gateway.service import DiscussionService
from parley_gateway.sessions import CSRF_HEADER, SESSION_COOKIE, authenticate


class Unavailable(RuntimeError):
    """A capability this gateway was started without."""


class GraphQLContext(BaseContext):
    def __init__(
        self,
        service: DiscussionService,
        caller: Caller | None,
        *,
        key_presented: bool,
        root_path: str = "",
        deliveries: DeliveryService | None = None,
        autoresponders: AutoresponderService | None = None,
        connections: ConnectionService | None = None,
        invoices: InvoiceService | None = None,
    ) -> None:
        super().__init__()
        self.service = service
        self._deliveries = deliveries
        self._autoresponders = autoresponders
        self._connections = connections
        self._invoices = invoices
        self.root_path = root_path
        self._caller = caller
        self._key_presented = key_presented

    @property
    def caller(self) -> Caller:
        """The authenticated caller; NotAuthenticated when the request had no valid key."""
        if self._caller is None:
            raise NotAuthenticated(presented=self._key_presented)
        return self._caller

    @property
    def deliveries(self) -> DeliveryService:
        """Delivery retries (F17); Unavailable when this gateway runs without them."""
        if self._deliveries is None:
            raise Unavailable("delivery retries are not available on this gateway")
        return self._deliveries

    @property
    def autoresponders(self) -> AutoresponderService:
        """Autoresponder settings (F19); Unavailable when this gateway runs without them."""
        if self._autoresponders is None:
            raise Unavailable("autoresponders are not available on this gateway")
        return self._autoresponders

    @property
    def connections(self) -> ConnectionService:
        """Marketplace connections (F2, F3); Unavailable when this gateway runs without."""
        if self._connections is None:
            raise Unavailable("connections are not available on this gateway")
        return self._connections

    @property
    def invoices(self) -> InvoiceService:
        """Invoices (F20); Unavailable when this gateway runs without them."""
        if self._invoices is None:
            raise Unavailable("invoices are not available on this gateway")
        return self._invoices

    @property
    def scope(self) -> Scope:
        """The stores of the caller's account: every resolver queries within them."""
        return self.caller.scope


async def get_context(
    request: Request,
    service: Annotated[DiscussionService, Depends(get_service)],
    access: Annotated[AccessService, Depends(get_access)],
    presented: Annotated[str | None, Depends(get_presented_key)],
) -> GraphQLContext:
    """A FastAPI dependency: the context of one GraphQL request.

    CsrfRefused is not caught: the app's handler answers it (403 problem+json).
    """
    runtime: Runtime = request.app.state.runtime
    session_secret = request.cookies.get(SESSION_COOKIE)
    try:
        caller: Caller | None = await authenticate(
            access,
            runtime.sessions,
            presented_key=presented,
            session_secret=session_secret,
            method=request.method,
            csrf_header=request.headers.get(CSRF_HEADER),
        )
    except NotAuthenticated:
        caller = None
    return GraphQLContext(
        service,
        caller,
        key_presented=bool(presented or session_secret),
        root_path=request.scope.get("root_path", ""),
        deliveries=runtime.deliveries,
        autoresponders=runtime.autoresponders,
        connections=runtime.connections,
        invoices=runtime.invoices,
    )

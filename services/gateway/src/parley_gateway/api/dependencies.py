"""What every route needs: the service of the running app and who the caller is.

The caller is the account behind the API key of the request (F15), sent as
``Authorization: Bearer <key>`` or ``X-API-Key: <key>``; its stores are the scope
every query of the request runs in.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from parley_gateway.accounts import AccessService
from parley_gateway.bootstrap import Runtime
from parley_gateway.config import GatewaySettings
from parley_gateway.domain import Caller, Scope
from parley_gateway.service import DiscussionService

# auto_error=False: a missing key is answered by the problem handler, as problem+json
# with WWW-Authenticate, not by FastAPI's own error. Declared here so that OpenAPI
# (and the "Authorize" button of /docs) knows both ways to send a key.
_bearer = HTTPBearer(
    auto_error=False, scheme_name="BearerKey", description="Authorization: Bearer <API key>"
)
_header_key = APIKeyHeader(
    name="X-API-Key", auto_error=False, scheme_name="HeaderKey", description="X-API-Key: <API key>"
)


def get_service(request: Request) -> DiscussionService:
    runtime: Runtime = request.app.state.runtime
    return runtime.service


def get_access(request: Request) -> AccessService:
    runtime: Runtime = request.app.state.runtime
    return runtime.access


def get_settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


def get_presented_key(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    header_key: Annotated[str | None, Security(_header_key)],
) -> str | None:
    """The API key the request carries, if any, not yet checked."""
    return bearer.credentials if bearer is not None else header_key


async def get_caller(
    access: Annotated[AccessService, Depends(get_access)],
    presented: Annotated[str | None, Depends(get_presented_key)],
) -> Caller:
    """The authenticated caller; NotAuthenticated (401) otherwise."""
    return await access.authenticate(presented)


def get_scope(caller: Annotated[Caller, Depends(get_caller)]) -> Scope:
    """The stores of the caller's account: every query of the request stays in them."""
    return caller.scope


def get_requested_by(caller: Annotated[Caller, Depends(get_caller)]) -> str:
    """Who asks for a command: the caller's account id."""
    return caller.account_id


Service = Annotated[DiscussionService, Depends(get_service)]
Settings = Annotated[GatewaySettings, Depends(get_settings)]
CallerScope = Annotated[Scope, Depends(get_scope)]
RequestedBy = Annotated[str, Depends(get_requested_by)]

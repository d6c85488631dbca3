"""What every route needs: the service of the running app and who the caller is.

The caller is the account behind the API key of the request (F15), sent as
``Authorization: Bearer <key>`` or ``X-API-Key: <key>``, or the web inbox's session
cookie (``POST /session`` exchanges a key for it); its stores are the scope every query
of the request runs in. A key in a header wins over the cookie.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import (
    APIKeyCookie,
    APIKeyHeader,
    HTTPAuthorizationCredentials,
    HTTPBearer,
)

from parley_gateway.accounts import AccessService
from parley_gateway.bootstrap import Runtime
from parley_gateway.config import GatewaySettings
from parley_gateway.domain import Caller, Scope
from parley_gateway.service import DiscussionService
from parley_gateway.sessions import (
    CSRF_HEADER,
    CSRF_VALUE,
    SESSION_COOKIE,
    SessionService,
    authenticate,
)

# auto_error=False: a missing key is answered by the problem handler, as problem+json
# with WWW-Authenticate, not by FastAPI's own error. Declared here so that OpenAPI
# (and the "Authorize" button of /docs) knows both ways to send a key.
_bearer = HTTPBearer(
    auto_error=False, scheme_name="BearerKey", description="Authorization: Bearer <API key>"
)
_header_key = APIKeyHeader(
    name="X-API-Key", auto_error=False, scheme_name="HeaderKey", description="X-API-Key: <API key>"
)

_session_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    scheme_name="SessionCookie",
    description="The web inbox's session (POST /session); unsafe methods also need "
    f"{CSRF_HEADER}: {CSRF_VALUE}",
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


def get_sessions(request: Request) -> SessionService | None:
    runtime: Runtime = request.app.state.runtime
    return runtime.sessions


async def get_caller(
    request: Request,
    access: Annotated[AccessService, Depends(get_access)],
    presented: Annotated[str | None, Depends(get_presented_key)],
    session_secret: Annotated[str | None, Security(_session_cookie)],
) -> Caller:
    """The authenticated caller; NotAuthenticated (401) otherwise, CsrfRefused (403) for
    a cookie-authenticated unsafe request without the inbox's header."""
    return await authenticate(
        access,
        get_sessions(request),
        presented_key=presented,
        session_secret=session_secret,
        method=request.method,
        csrf_header=request.headers.get(CSRF_HEADER),
    )


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

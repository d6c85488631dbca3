"""``/session``: the web inbox signs in with an API key and gets a session cookie.

``POST /session`` checks the key (in the JSON body or the usual headers) and sets an
HttpOnly, SameSite=Strict cookie (Secure over https) holding a random session secret;
the key itself is never stored in the browser. ``GET /session`` tells the inbox who is
signed in and which stores it sees; ``DELETE /session`` signs out. A bad key answers
401 problem+json and sets no cookie.
"""

from __future__ import annotations

from datetime import datetime
from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Body, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from parley_gateway.accounts import NotAuthenticated
from parley_gateway.api.dependencies import get_caller, get_presented_key, get_sessions
from parley_gateway.api.problems import (
    PROBLEM_RESPONSES,
    PROBLEM_TYPE_BASE,
    Problem,
    problem_response,
)
from parley_gateway.domain import Caller
from parley_gateway.sessions import (
    CSRF_HEADER,
    CSRF_VALUE,
    SESSION_COOKIE,
    CsrfRefused,
    SessionService,
)

SESSION_PATH = "/session"

router = APIRouter(tags=["session"])


class SessionIn(BaseModel):
    api_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=512,
        description="The API key to sign in with; or send it as Authorization: Bearer",
    )


class SessionOut(BaseModel):
    account_id: str
    store_ids: list[str] = Field(description="The stores this session sees")
    expires_at: datetime | None = Field(
        default=None, description="When the session ends (answered when it is opened)"
    )


def _sessions(request: Request) -> SessionService:
    sessions = get_sessions(request)
    if sessions is None:
        raise NotAuthenticated(presented=False)
    return sessions


def _stores_of(caller: Caller) -> list[str]:
    """An account's stores (an API caller's scope is always a set of stores)."""
    return sorted(caller.scope.store_ids or ())


def _secure(request: Request) -> bool:
    """Secure cookies over https (a TLS-terminating proxy says so in X-Forwarded-Proto)."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


@router.post(
    SESSION_PATH,
    summary="Sign the web inbox in: exchange an API key for a session cookie",
    status_code=HTTPStatus.CREATED,
    responses={401: PROBLEM_RESPONSES[401], 422: PROBLEM_RESPONSES[422]},
)
async def open_session(
    request: Request,
    response: Response,
    presented: Annotated[str | None, Depends(get_presented_key)],
    body: Annotated[SessionIn | None, Body()] = None,
) -> SessionOut:
    sessions = _sessions(request)
    key = (body.api_key if body is not None else None) or presented
    opened = await sessions.open(key)
    response.set_cookie(
        SESSION_COOKIE,
        opened.secret,
        max_age=int(sessions.ttl.total_seconds()),
        path="/",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    response.headers["Cache-Control"] = "no-store"
    return SessionOut(
        account_id=opened.caller.account_id,
        store_ids=_stores_of(opened.caller),
        expires_at=opened.expires_at,
    )


@router.get(
    SESSION_PATH,
    summary="Who is signed in (by the session cookie or an API key) and which stores",
    responses={401: PROBLEM_RESPONSES[401]},
)
async def read_session(caller: Annotated[Caller, Depends(get_caller)]) -> SessionOut:
    return SessionOut(account_id=caller.account_id, store_ids=_stores_of(caller))


@router.delete(
    SESSION_PATH,
    summary="Sign out: the session ends and its cookie is cleared",
    status_code=HTTPStatus.NO_CONTENT,
    responses={403: {"model": Problem, "description": "Cookie without the inbox's header"}},
)
async def close_session(request: Request) -> Response:
    secret = request.cookies.get(SESSION_COOKIE)
    if secret and request.headers.get(CSRF_HEADER) != CSRF_VALUE:
        raise CsrfRefused()
    sessions = get_sessions(request)
    if sessions is not None:
        await sessions.close(secret)
    response = Response(status_code=HTTPStatus.NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


async def _csrf_refused(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CsrfRefused)
    return problem_response(
        request,
        HTTPStatus.FORBIDDEN,
        str(exc),
        problem_type=PROBLEM_TYPE_BASE + "csrf-header-missing",
        title="Missing anti-forgery header",
    )


def install_session_routes(app: FastAPI) -> None:
    """The routes and the 403 answer of a forged (header-less) cookie request."""
    app.include_router(router)
    app.add_exception_handler(CsrfRefused, _csrf_refused)

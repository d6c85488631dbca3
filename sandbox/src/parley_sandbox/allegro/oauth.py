"""Allegro's OAuth token endpoint, ``POST /allegro/auth/oauth/token``.

Only ``grant_type=refresh_token`` is served: the authorization-code step needs a person
at a browser, which the control API stands in for (``/_sandbox/allegro/{account}/
authorize``). The application authenticates with HTTP Basic (client id and secret);
the grant's parameters are read from the query string or a form body, the two ways
Allegro's examples send them. Each refresh rotates the refresh token.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from parley_sandbox.allegro.routes import PREFIX, answer, malformed, sandbox_of, suffer
from parley_sandbox.allegro.store import OAuthError

router = APIRouter(prefix=PREFIX)


@router.post("/auth/oauth/token")
async def token(request: Request) -> Response:
    params = dict(request.query_params)
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        params.update(parse_qsl((await request.body()).decode("utf-8", "replace")))
    client_id, secret = basic_credentials(request.headers.get("authorization"))
    if params.get("grant_type") != "refresh_token":
        raise OAuthError(400, "unsupported_grant_type", "Only refresh_token is supported here")
    refresh_token = params.get("refresh_token")
    if not refresh_token:
        raise OAuthError(400, "invalid_request", "Missing refresh_token")
    sandbox = sandbox_of(request)
    account = sandbox.account_of_refresh_token(refresh_token)
    fault = account.faults.take("token")
    if fault is not None:
        await suffer(fault)
    tokens: dict[str, Any] = sandbox.refresh(client_id, secret, refresh_token)
    if malformed(fault):
        tokens.pop("access_token")
    if fault is None:
        return JSONResponse(tokens)
    return answer(tokens, "application/json", fault)


def basic_credentials(header: str | None) -> tuple[str, str]:
    if not header or not header.startswith("Basic "):
        raise OAuthError(401, "invalid_client", "Full authentication is required")
    try:
        decoded = base64.b64decode(header.removeprefix("Basic ").strip(), validate=True)
        client_id, _, secret = decoded.decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise OAuthError(401, "invalid_client", "Malformed Basic credentials") from exc
    return client_id, secret

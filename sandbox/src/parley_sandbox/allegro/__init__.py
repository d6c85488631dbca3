"""The Allegro family: Message Center and post-purchase issues, OAuth, control API.

:func:`mount` is the one call the sandbox application makes: it installs the state,
the API under ``/allegro`` (token endpoint included), the control API under
``/_sandbox/allegro`` and the handlers that render refusals as Allegro does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from parley_sandbox.allegro import control, oauth, routes, wire
from parley_sandbox.allegro.seed import seed_allegro
from parley_sandbox.allegro.store import (
    AllegroError,
    AllegroSandbox,
    OAuthError,
    RateLimitedAnswer,
)
from parley_sandbox.mirakl.store import Clock


def mount(app: FastAPI, *, seed: bool, now: Callable[[], datetime] | None = None) -> None:
    app.state.allegro = AllegroSandbox(seed=seed, clock=Clock(now), seeder=seed_allegro)

    @app.exception_handler(AllegroError)
    async def allegro_error(request: Request, exc: AllegroError) -> JSONResponse:
        headers = {}
        if isinstance(exc, RateLimitedAnswer):
            headers["Retry-After"] = str(exc.retry_after)
        return JSONResponse(
            wire.errors(exc.code, exc.message, exc.path),
            exc.status,
            headers=headers,
            media_type=routes.PUBLIC_V1,
        )

    @app.exception_handler(OAuthError)
    async def oauth_error(request: Request, exc: OAuthError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
        return JSONResponse(wire.oauth_error(exc.error, exc.description), exc.status, headers)

    app.include_router(oauth.router)
    app.include_router(routes.router)
    app.include_router(control.router)


__all__ = ["mount"]

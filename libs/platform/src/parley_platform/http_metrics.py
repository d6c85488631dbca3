"""Request latency of the ASGI services (gateway, ingest, invoicer) and their /metrics.

A request is labelled by its route *template* (``/links/{token}``), never its path:
the path holds ids and, for download links, a bearer token, and every distinct path
would be a series of its own. Paths no route matches share one label (``unmatched``),
so probing scanners cannot grow the series either.

Plain ASGI, duck-typed on Starlette's routes (``matches``, ``path``, a mount's
``routes``): the platform library does not depend on the web framework its services
happen to use.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from .metrics import (
    CONTENT_TYPE,
    HTTP_REQUEST_DURATION,
    describe_service,
    method_label,
    scrape,
    status_class,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

METRICS_PATH = "/metrics"
UNMATCHED = "unmatched"
# starlette.routing.Match: NONE, PARTIAL (path matches, method does not), FULL.
_NONE, _FULL = 0, 2


def _is_mount(route: Any) -> bool:
    return hasattr(route, "routes") and getattr(route, "endpoint", None) is None


def match_template(routes: Iterable[Any], scope: Scope) -> str:
    """The template of the route that serves ``scope`` (a method mismatch counts: the
    405 is still that route's), or ``unmatched``."""
    partial: str | None = None
    for route in routes:
        outcome, child = route.matches(scope)
        match = getattr(outcome, "value", outcome)  # an Enum, not an IntEnum
        if match == _NONE:
            continue
        template = str(getattr(route, "path", "") or "")
        if _is_mount(route):
            inner = match_template(route.routes, {**scope, **child})
            template += "/{path}" if inner == UNMATCHED else inner
        if match == _FULL:
            return template or "/"
        partial = partial or template
    return partial or UNMATCHED


def flat_routes(app: Any) -> list[Any]:
    """The app's routes with included routers flattened, each under its full path.

    FastAPI keeps an included router as one node and records in ``scope["route"]`` the
    router's own route, whose path lacks the prefix it was included under; its route
    contexts carry the effective path. Other apps' routes are taken as they are.
    """
    routes = list(getattr(getattr(app, "router", None), "routes", ()))
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # not a FastAPI app's process: Starlette routes are flat
        return routes
    return list(iter_route_contexts(routes))


class RequestMetrics:
    """ASGI middleware observing ``parley_http_request_duration_seconds``; put it
    outermost, so requests the inner middlewares refuse (limits, 503s) count too.

    The route is matched here, on the request as it arrived, against the app's routes
    (flattened once, at the first request: routes are all declared by then)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._routes: list[Any] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        original: MutableMapping[str, Any] = dict(scope)
        status = 500  # unless a response starts: an exception is a server error
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            elapsed = time.perf_counter() - started
            if self._routes is None:
                self._routes = flat_routes(original.get("app"))
            HTTP_REQUEST_DURATION.labels(
                method_label(original.get("method")),
                match_template(self._routes, original),
                status_class(status),
            ).observe(elapsed)


class MetricsEndpoint:
    """``GET /metrics`` as an ASGI app: the process's registry in Prometheus' text format."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await scrape()
        headers = [
            (b"content-type", CONTENT_TYPE.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def install_metrics(app: Any, service: str) -> None:
    """Adds ``GET /metrics`` to a FastAPI app (outside its OpenAPI document: it is not
    the API) and the latency middleware. Call it after the app's other middlewares:
    it wraps them all."""
    describe_service(service)
    app.add_route(METRICS_PATH, MetricsEndpoint(), methods=["GET"], include_in_schema=False)
    app.add_middleware(RequestMetrics)

"""The gateway's ASGI app: routes, problem details, limits, tracing, lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from parley_connectors.registry import families
from parley_gateway.api.autoresponders import install_autoresponder_problems
from parley_gateway.api.autoresponders import router as autoresponders_router
from parley_gateway.api.connections import router as connections_router
from parley_gateway.api.discussions import router as discussions_router
from parley_gateway.api.files import FILES_PATH, install_file_routes
from parley_gateway.api.health import router as health_router
from parley_gateway.api.idempotency import IdempotencyKeys, QueryLimits, document_request_rules
from parley_gateway.api.invoices import install_invoice_routes
from parley_gateway.api.limits import BodySizeLimit
from parley_gateway.api.live import LIVE_PATH
from parley_gateway.api.live import router as live_router
from parley_gateway.api.load import UNLIMITED_PATHS, ConcurrencyLimit
from parley_gateway.api.problems import install_problem_handlers
from parley_gateway.api.session import install_session_routes
from parley_gateway.api.web import WEB_PREFIX, install_web_inbox
from parley_gateway.bootstrap import Bootstrap
from parley_gateway.bootstrap import bootstrap as connect_adapters
from parley_gateway.config import GatewaySettings
from parley_gateway.graphql import graphql_router
from parley_platform.http_metrics import install_metrics
from parley_platform.tracing import redact_span


def create_app(
    settings: GatewaySettings | None = None, *, bootstrap: Bootstrap | None = None
) -> FastAPI:
    """The gateway app; ``bootstrap`` replaces the real adapters (tests use fakes).

    MongoDB and Kafka are connected in the lifespan, not here, so building the app
    (e.g. to export its OpenAPI document) needs neither.
    """
    settings = settings or GatewaySettings()
    wire = bootstrap or connect_adapters

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        families()  # replies are checked against family rules: an incomplete one stops here
        async with wire(settings) as runtime:
            app.state.runtime = runtime
            yield

    app = FastAPI(
        title="Parley gateway",
        summary="One API for every marketplace conversation.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_problem_handlers(app)
    document_request_rules(app)
    # Inside the body limit: the key's fingerprint reads a body already bounded.
    app.add_middleware(IdempotencyKeys)
    app.add_middleware(QueryLimits)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.gateway_max_body_bytes,
        # The multipart envelope around the largest file accepted.
        path_limits={FILES_PATH: settings.gateway_max_upload_bytes + 64 * 1024},
    )
    # Outermost but for the metrics: a request over the limit is refused before any
    # work is done for it (and still counted in the latency histogram).
    app.add_middleware(
        ConcurrencyLimit,
        max_concurrent=settings.gateway_max_concurrent_requests,
        queue_timeout=settings.gateway_queue_timeout_seconds,
        read_deadline=settings.gateway_read_deadline_seconds,
        retry_after=settings.gateway_retry_after_seconds,
        # An event stream is open for hours: it has its own bound (live max streams).
        unlimited_paths=UNLIMITED_PATHS | {LIVE_PATH},
    )
    if settings.gateway_cors_origins:
        # Outermost: a preflight is answered before any limit, and every answer
        # (errors too) carries the headers a browser needs to read it.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.gateway_cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "X-API-Key",
                "Content-Type",
                "Idempotency-Key",
                "Last-Event-ID",
                "If-Match",
                "traceparent",
            ],
            expose_headers=["Location", "Retry-After", "Link", "ETag", "Idempotency-Key"],
            max_age=600,
        )
    app.include_router(health_router)
    app.include_router(discussions_router)
    install_file_routes(app)
    app.include_router(autoresponders_router)
    install_autoresponder_problems(app)
    app.include_router(connections_router)
    install_invoice_routes(app)
    app.include_router(live_router)
    install_session_routes(app)
    app.include_router(graphql_router(max_cost=settings.gateway_graphql_max_cost))
    # Server spans for API calls: a reply's command carries this span's context in
    # its Kafka headers. Probes would only add noise to traces. The request hook runs
    # once the middleware has set the request's attributes: the raw path (a download
    # link's token), the query string (a cursor) and credential headers go there.
    FastAPIInstrumentor.instrument_app(
        app,
        excluded_urls=f"/health,/ready,/metrics,{WEB_PREFIX}/",
        server_request_hook=redact_span,
    )
    # GET /metrics (no API key: scraped from inside the cluster; it holds no ids) and the
    # latency histogram by route template, around every middleware above.
    install_metrics(app, "gateway")
    # Last: its "/" route and /web mount come after every API route.
    install_web_inbox(app)
    return app

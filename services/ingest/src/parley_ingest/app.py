"""Ingest's process: the scheduler in the background, a small HTTP API in front.

The HTTP side is for probes and operations (health, readiness, manual resync of a
connection); marketplace traffic is driven by the scheduler, except the email-relay
family's inbound mail, which the marketplaces push to ingest's SMTP server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from parley_ingest.adapters.connections_repo import MongoConnectionRepository
from parley_ingest.bootstrap import Runtime, bootstrap
from parley_ingest.config import IngestSettings
from parley_platform.consumer import run_consumer
from parley_platform.http_metrics import install_metrics
from parley_platform.kafka_security import KafkaSecurity
from parley_platform.metrics import CONNECTIONS_NEEDING_ATTENTION, on_scrape
from parley_platform.readiness import KafkaProbe, check_readiness
from parley_platform.tasks import cancel_and_wait
from parley_schemas import INGEST_COMMANDS


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    settings = settings or IngestSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await bootstrap(settings)
        app.state.runtime = runtime
        unregister = on_scrape(partial(count_needing_attention, runtime.connections))
        if runtime.inbound_smtp is not None:
            await runtime.inbound_smtp.start()
        scheduler = asyncio.create_task(runtime.scheduler.run(), name="scheduler")
        commands = asyncio.create_task(
            run_consumer(
                settings.kafka_bootstrap_servers,
                settings.ingest_group_id,
                INGEST_COMMANDS,
                runtime.resync.handle,
                runtime.publisher,
                stage="ingest",
                topic_prefix=settings.kafka_topic_prefix,
                security=KafkaSecurity.of(settings),
            ),
            name="resync-commands",
        )
        try:
            yield
        finally:
            unregister()
            await cancel_and_wait(commands)
            await runtime.close()
            await scheduler

    app = FastAPI(title="Parley ingest", lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "service": "ingest"}

    kafka = KafkaProbe(settings.kafka_bootstrap_servers, security=KafkaSecurity.of(settings))

    @app.get("/ready")
    async def ready(request: Request) -> JSONResponse:
        """503 while MongoDB or the broker does not answer (a sync would publish nothing)
        or the inbound SMTP server is not listening; each check named in the body."""
        runtime: Runtime = request.app.state.runtime

        async def mongo() -> None:
            await runtime.mongo.admin.command("ping")

        async def smtp() -> str | bool:
            inbound = runtime.inbound_smtp
            return inbound is None or inbound.listening or "not listening"

        outcome = await check_readiness({"mongodb": mongo, "kafka": kafka, "inbound_smtp": smtp})
        return JSONResponse(outcome.body("ingest"), status_code=outcome.status)

    @app.post("/connections/{connection_id}/resync", status_code=202)
    async def resync(connection_id: str, request: Request) -> dict[str, str]:
        """Makes the connection due now; the scheduler picks it up on its next tick."""
        runtime: Runtime = request.app.state.runtime
        if not await runtime.connections.request_resync(connection_id):
            raise HTTPException(status_code=404, detail=f"no connection {connection_id}")
        return {"connection_id": connection_id, "state": "scheduled"}

    # Last: its latency middleware wraps everything above; /metrics is not in the API.
    install_metrics(app, "ingest")
    return app


async def count_needing_attention(connections: MongoConnectionRepository) -> None:
    """Refreshes ``parley_connections_needing_attention`` when /metrics is scraped."""
    for family, count in (await connections.needing_attention()).items():
        CONNECTIONS_NEEDING_ATTENTION.labels(family).set(count)

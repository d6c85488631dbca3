"""The gateway app on the real MongoDB-compatible server and the real Kafka broker.

One database per test session (dropped at the end) and one running app; each test
works in stores of its own, so tests never see each other's discussions.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from parley_gateway.app import create_app
from parley_gateway.config import GatewaySettings
from parley_platform.tracing import configure_tracing


@pytest.fixture(scope="session")
async def gateway_db(mongo_uri: str) -> AsyncIterator[AsyncDatabase[Any]]:
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongo_uri, tz_aware=True)
    name = f"parley_test_{uuid.uuid4().hex[:12]}"
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()


@pytest.fixture(scope="session")
async def gateway(
    gateway_db: AsyncDatabase[Any], mongo_uri: str, kafka_bootstrap: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its real lifespan (Mongo connected, Kafka producer started)."""
    # A real tracer provider: without one there is no span to carry into Kafka headers.
    configure_tracing("gateway-test")
    settings = GatewaySettings(
        mongodb_uri=mongo_uri,
        mongodb_database=gateway_db.name,
        kafka_bootstrap_servers=kafka_bootstrap,
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://gateway") as client,
    ):
        yield client


@pytest.fixture
def store_id() -> str:
    """A store no other test uses."""
    return f"store-{uuid.uuid4().hex[:10]}"

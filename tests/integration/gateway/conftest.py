"""The gateway app on the real MongoDB-compatible server and the real Kafka broker.

One database per test session (dropped at the end) and one running app; each test
works in stores of its own, so tests never see each other's discussions. ``gateway``
is a client with an API key of an account owning the test's store; ``gateway_as``
makes clients of other accounts; ``anonymous`` sends no key. ``served`` runs the app
under uvicorn for tests that need a real HTTP server (event streams).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from integration.gateway.accounts import PEPPER, ClientFactory
from integration.gateway.serving import Served, serve
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from parley_gateway.accounts import AccessService
from parley_gateway.app import create_app
from parley_gateway.bootstrap import Runtime
from parley_gateway.config import GatewaySettings
from parley_platform.tracing import configure_tracing

BASE_URL = "http://gateway"


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
def gateway_settings(
    gateway_db: AsyncDatabase[Any], mongo_uri: str, kafka_bootstrap: str
) -> GatewaySettings:
    return GatewaySettings(
        mongodb_uri=mongo_uri,
        mongodb_database=gateway_db.name,
        kafka_bootstrap_servers=kafka_bootstrap,
        api_key_pepper=PEPPER,
    )


@pytest.fixture(scope="session")
async def gateway_runtime(
    gateway_settings: GatewaySettings,
) -> AsyncIterator[tuple[httpx.ASGITransport, Runtime]]:
    """The app with its real lifespan (Mongo connected, Kafka producer started)."""
    # A real tracer provider: without one there is no span to carry into Kafka headers.
    configure_tracing("gateway-test")
    app = create_app(gateway_settings)
    async with app.router.lifespan_context(app):
        yield httpx.ASGITransport(app=app), app.state.runtime


@pytest.fixture(scope="session")
def access(gateway_runtime: tuple[httpx.ASGITransport, Runtime]) -> AccessService:
    """The running app's accounts and keys, as the CLI reaches them."""
    return gateway_runtime[1].access


@pytest.fixture
async def anonymous(
    gateway_runtime: tuple[httpx.ASGITransport, Runtime],
) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=gateway_runtime[0], base_url=BASE_URL) as client:
        yield client


@pytest.fixture
async def gateway_as(
    gateway_runtime: tuple[httpx.ASGITransport, Runtime], access: AccessService
) -> AsyncIterator[ClientFactory]:
    """Makes a client with a new key of a new account owning ``stores``."""
    clients: list[httpx.AsyncClient] = []

    async def client_of(*stores: str) -> tuple[httpx.AsyncClient, str]:
        account, _ = await access.create_account(f"Account of {stores[0]}", stores)
        key = await access.issue_key(account.id, name="integration")
        client = httpx.AsyncClient(
            transport=gateway_runtime[0],
            base_url=BASE_URL,
            headers={"Authorization": f"Bearer {key.secret}"},
        )
        clients.append(client)
        return client, account.id

    yield client_of
    for client in clients:
        await client.aclose()


@pytest.fixture
async def gateway(gateway_as: ClientFactory, store_id: str) -> httpx.AsyncClient:
    """A client whose key's account owns the test's store, and only that."""
    client, _ = await gateway_as(store_id)
    return client


@pytest.fixture
def store_id() -> str:
    """A store no other test uses."""
    return f"store-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
async def served(gateway_settings: GatewaySettings) -> AsyncIterator[Served]:
    """The app under uvicorn with its real lifespan, following the events topic."""
    async with serve(gateway_settings) as running:
        yield running

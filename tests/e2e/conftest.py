"""The whole system as processes: sandbox, ingest, normalizer, responder, invoicer, gateway.

Started once per session on free ports, against the real Kafka broker and the real
MongoDB-compatible server, with a database of its own that is dropped at the end.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from devstack import Ports, ServiceGroup, create_api_key
from pymongo import AsyncMongoClient

from parley_platform.crypto import CredentialCipher
from parley_platform.topics_admin import delete_topics, ensure_topics
from parley_store import GridFsFileStore


@pytest.fixture(scope="session")
def e2e_database() -> str:
    return f"parley_e2e_{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
async def e2e_topics(kafka_bootstrap: str) -> AsyncIterator[str]:
    """The system under test gets topics of its own: no other test's records reach it."""
    prefix = f"e2e{uuid.uuid4().hex[:10]}."
    await ensure_topics(kafka_bootstrap, 1, prefix)
    yield prefix
    await delete_topics(kafka_bootstrap, prefix)


@pytest.fixture(scope="session")
def system(
    kafka_bootstrap: str, mongo_uri: str, e2e_database: str, e2e_topics: str
) -> Iterator[ServiceGroup]:
    group = ServiceGroup(
        env={
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "MONGODB_URI": mongo_uri,
            "MONGODB_DATABASE": e2e_database,
            "CREDENTIALS_KEY": CredentialCipher.generate_key(),
            "API_KEY_PEPPER": uuid.uuid4().hex,
            "KAFKA_TOPIC_PREFIX": e2e_topics,
            "NORMALIZER_APP_ID": f"parley-normalizer-{e2e_topics.rstrip('.')}",
            "RESPONDER_APP_ID": f"parley-responder-{e2e_topics.rstrip('.')}",
            "INGEST_GROUP_ID": f"parley-ingest-{e2e_topics.rstrip('.')}",
            "INGEST_TICK_SECONDS": "0.5",
            "RESPONDER_BASE_DELAY_SECONDS": "0.2",
            "SANDBOX_SEED": "0",
            # Download links (F18) expire within a test; the key and the public URL are
            # devstack's defaults (one key per run, the gateway's own port).
            "LINK_TTL_SECONDS": "30",
        },
        ports=Ports.free(),
    )
    try:
        group.start_sandbox()
        group.start_services()
        yield group
    finally:
        group.stop_all()


@pytest.fixture(scope="session", autouse=True)
async def drop_e2e_database(mongo_uri: str, e2e_database: str) -> AsyncIterator[None]:
    yield
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongo_uri)
    await client.drop_database(e2e_database)
    await client.close()


@pytest.fixture
async def gateway(system: ServiceGroup, store_id: str) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway with an API key of an account owning the test's store (the ``store_id``
    fixture of the test's module), made through the gateway CLI as an operator would."""
    key = create_api_key(system, f"e2e-{store_id}", [store_id])
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{system.ports.gateway}",
        timeout=10,
        headers={"Authorization": f"Bearer {key}"},
    ) as client:
        yield client


@pytest.fixture(scope="session")
async def sandbox(system: ServiceGroup) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{system.ports.sandbox}", timeout=10
    ) as client:
        yield client


@pytest.fixture(scope="session")
async def e2e_files(mongo_uri: str, e2e_database: str) -> AsyncIterator[GridFsFileStore]:
    """Parley's file store as the system under test writes it (attachments, F4)."""
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongo_uri)
    yield GridFsFileStore(client[e2e_database])
    await client.close()

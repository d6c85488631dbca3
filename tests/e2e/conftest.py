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
from devstack import Ports, ServiceGroup
from pymongo import AsyncMongoClient

from parley_platform.crypto import CredentialCipher


@pytest.fixture(scope="session")
def e2e_database() -> str:
    return f"parley_e2e_{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def system(kafka_bootstrap: str, mongo_uri: str, e2e_database: str) -> Iterator[ServiceGroup]:
    group = ServiceGroup(
        env={
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "MONGODB_URI": mongo_uri,
            "MONGODB_DATABASE": e2e_database,
            "CREDENTIALS_KEY": CredentialCipher.generate_key(),
            # Fixed consumer groups: each run resumes after the previous one's records.
            "NORMALIZER_APP_ID": "parley-normalizer-e2e",
            "RESPONDER_APP_ID": "parley-responder-e2e",
            "INGEST_TICK_SECONDS": "0.5",
            "RESPONDER_BASE_DELAY_SECONDS": "0.2",
            "SANDBOX_SEED": "0",
        },
        ports=Ports.free(),
    )
    try:
        group.start_sandbox()
        group.start_services()
        yield group
    finally:
        group.stop_all()


@pytest.fixture(scope="session")
async def e2e_db(mongo_uri: str, e2e_database: str) -> AsyncIterator[Any]:
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongo_uri, tz_aware=True)
    yield client[e2e_database]
    await client.drop_database(e2e_database)
    await client.close()


@pytest.fixture(scope="session")
async def gateway(system: ServiceGroup) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{system.ports.gateway}", timeout=10
    ) as client:
        yield client


@pytest.fixture(scope="session")
async def sandbox(system: ServiceGroup) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{system.ports.sandbox}", timeout=10
    ) as client:
        yield client
